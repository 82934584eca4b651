"""Submissions: upload, list, show, logs, package, cancel; rerun and disqualify for organizers."""

from __future__ import annotations

import math
from typing import Any

from flask import request, send_file
from sqlalchemy import select
from sqlalchemy.orm import Session

from aigc.platform import challenges, changes, visibility
from aigc.platform import submission_actions as actions
from aigc.platform.api.errors import ApiError
from aigc.platform.api.render import submission_json
from aigc.platform.api.routes import RouteTable, json_body, json_fields, require_user, text_field
from aigc.platform.context import platform
from aigc.platform.models import Submission, User
from aigc.platform.queue import send
from aigc.platform.statuses import ENDED, SubmissionStatus
from aigc.safe_text import file_name

routes = RouteTable()
UPLOAD = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["challenge", "file"],
                "properties": {
                    "challenge": {"type": "string", "minLength": 1},
                    "phase": {"type": "string", "default": "dev"},
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "the agent package as .zip or .tar.gz",
                    },
                },
            }
        }
    },
}


def _own(session: Session, submission_id: int, user: User) -> Submission:
    """The submission, if the user may see it: its author or an organizer; else 404."""
    submission = session.get(Submission, submission_id)
    if submission is None or not (user.is_organizer or submission.user_id == user.id):
        # Another participant's submission is answered as if it did not exist.
        raise ApiError(404, f"you have no submission {submission_id}")
    return submission


def _refused(exc: actions.Refused) -> ApiError:
    return ApiError(exc.status, exc.message, retry_at=exc.retry_at)


@routes.route(
    "/submissions",
    "POST",
    "Upload an agent package to a challenge phase",
    "user",
    request_body=UPLOAD,
    response="Submission",
    errors=(400, 401, 404, 409, 413, 429),
    success=201,
)
def upload() -> Any:
    p = platform()
    limit = p.settings.max_upload_bytes
    # Refused on the declared length, before the body is read: the form's fields and
    # boundaries add at most FORM_OVERHEAD to the package.
    if (
        request.content_length is not None
        and request.content_length > limit + actions.FORM_OVERHEAD
    ):
        raise ApiError(413, actions.too_large(request.content_length, limit))
    challenge = request.form.get("challenge", "")
    phase = request.form.get("phase", "dev") or "dev"
    file = request.files.get("file")
    if not challenge or file is None:
        raise ApiError(400, "send multipart form fields 'challenge' and 'file' (and 'phase')")
    data = file.read()
    with p.db.session() as session:
        user = require_user(session)
        try:
            submission = actions.accept_upload(
                session,
                p.store,
                user,
                challenge,
                phase,
                file.filename or "package",
                data,
                p.settings.max_upload_bytes,
            )
        except actions.Refused as exc:
            raise _refused(exc) from None
        body = submission_json(submission, user)
    send(p.queue, body["id"])
    return body, 201


@routes.route(
    "/submissions",
    "GET",
    "List your submissions (organizers: ?all=1 for everyone's)",
    "user",
    response="SubmissionList",
    errors=(400, 401),
    parameters=[
        {"name": "challenge", "in": "query", "schema": {"type": "string"}},
        {"name": "phase", "in": "query", "schema": {"type": "string"}},
        {"name": "all", "in": "query", "schema": {"type": "integer", "enum": [0, 1]}},
        {
            "name": "status",
            "in": "query",
            "schema": {"enum": [status.value for status in SubmissionStatus]},
        },
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
        },
    ],
)
def list_submissions() -> Any:
    with platform().db.session() as session:
        user = require_user(session)
        query = select(Submission).order_by(Submission.id.desc())
        if not (user.is_organizer and request.args.get("all") == "1"):
            query = query.where(Submission.user_id == user.id)
        slug = request.args.get("challenge")
        if slug:
            challenge = challenges.find(session, slug)
            query = query.where(Submission.challenge_id == (challenge.id if challenge else -1))
        if request.args.get("phase"):
            query = query.where(Submission.phase == request.args["phase"])
        wanted = request.args.get("status")
        if wanted:
            if wanted not in set(SubmissionStatus):
                known = ", ".join(status.value for status in SubmissionStatus)
                raise ApiError(400, f"status {wanted[:40]!r} is unknown: ask for one of {known}")
            query = query.where(Submission.status == SubmissionStatus(wanted))
        limit = min(max(request.args.get("limit", 100, type=int) or 100, 1), 1000)
        rows = session.scalars(query.limit(limit))
        return {"submissions": [submission_json(s, user) for s in rows]}


@routes.route(
    "/submissions/<id:submission_id>",
    "GET",
    "Show a submission: status, failure, result (?wait=S: once it changes, or after S s)",
    "user",
    response="Submission",
    errors=(400, 401, 404),
    parameters=[
        {
            "name": "wait",
            "in": "query",
            "description": (
                "Answer once the submission's status or finished episodes change, or it has "
                "ended, or after this many seconds (a server with many waiting answers at once)"
            ),
            "schema": {"type": "number", "minimum": 0, "maximum": changes.MAX_WAIT},
        }
    ],
)
def show_submission(submission_id: int) -> Any:
    p = platform()
    seconds = _wait_seconds()
    with p.db.session() as session:
        user = require_user(session)
        submission = _own(session, submission_id, user)
        if seconds == 0 or submission.status in ENDED:
            return submission_json(submission, user)
        full = visibility.sees_everything(submission, user)

        def seen_of(row: Submission | None) -> tuple[str | None, int | None]:
            """What this viewer sees change: the status, and the episode count where shown;
            a submission deleted meanwhile is answered as not found."""
            if row is None:
                return None, None
            return row.status, visibility.progress(row, full).episodes_done

        seen = seen_of(submission)

    def state() -> tuple[str | None, int | None]:
        with p.db.session() as session:
            return seen_of(session.get(Submission, submission_id))

    changes.wait_for_change(submission_id, seen, state, seconds, p.settings.database_url)
    with p.db.session() as session:
        user = require_user(session)
        return submission_json(_own(session, submission_id, user), user)


def _wait_seconds() -> float:
    """The request's ``wait``, in seconds: 0 without one."""
    given = request.args.get("wait")
    if given is None:
        return 0.0
    try:
        seconds = float(given)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= changes.MAX_WAIT:
        most = f"{changes.MAX_WAIT:g}"
        raise ApiError(
            400, f"wait must be a number of seconds from 0 to {most}, not {given[:20]!r}"
        )
    return seconds


@routes.route(
    "/submissions/<id:submission_id>/logs",
    "GET",
    "The agent's output (a capped excerpt)",
    "user",
    response="Logs",
    errors=(401, 404),
)
def submission_logs(submission_id: int) -> Any:
    with platform().db.session() as session:
        user = require_user(session)
        submission = _own(session, submission_id, user)
        logs = visibility.logs(submission, visibility.sees_everything(submission, user))
        if logs is None:
            return {"id": submission.id, "logs": "", "hidden": True, "note": visibility.HIDDEN_NOTE}
        return {"id": submission.id, "logs": logs, "hidden": False}


@routes.route(
    "/submissions/<id:submission_id>/package",
    "GET",
    "Download the uploaded package",
    "user",
    errors=(401, 404),
    content={"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
)
def submission_package(submission_id: int) -> Any:
    p = platform()
    with p.db.session() as session:
        submission = _own(session, submission_id, require_user(session))
        sha256, filename = submission.package_sha256, submission.filename
    return send_file(
        p.store.path(sha256),
        mimetype="application/octet-stream",
        as_attachment=True,
        download_name=file_name(filename) or "package",
    )


@routes.route(
    "/submissions/<id:submission_id>/cancel",
    "POST",
    "Cancel a queued or running submission",
    "user",
    response="Submission",
    errors=(401, 404, 409),
)
def cancel_submission(submission_id: int) -> Any:
    with platform().db.session() as session:
        user = require_user(session)
        submission = _own(session, submission_id, user)
        try:
            actions.cancel(submission)
        except actions.Refused as exc:
            raise _refused(exc) from None
        session.flush()
        return submission_json(submission, user)


@routes.route(
    "/submissions/<id:submission_id>/rerun",
    "POST",
    "Evaluate a submission again",
    "organizer",
    response="Submission",
    errors=(401, 403, 404, 409),
)
def rerun_submission(submission_id: int) -> Any:
    p = platform()
    with p.db.session() as session:
        user = require_user(session, organizer=True)
        submission = _own(session, submission_id, user)
        try:
            actions.rerun(submission)
        except actions.Refused as exc:
            raise _refused(exc) from None
        session.flush()
        body = submission_json(submission, user)
    send(p.queue, submission_id)
    return body


@routes.route(
    "/submissions/<id:submission_id>/disqualify",
    "POST",
    "Disqualify a submission: kept, but off every leaderboard",
    "organizer",
    request_body=json_fields("reason"),
    response="Submission",
    errors=(400, 401, 403, 404),
)
def disqualify_submission(submission_id: int) -> Any:
    reason = text_field(json_body(), "reason")
    with platform().db.session() as session:
        user = require_user(session, organizer=True)
        submission = _own(session, submission_id, user)
        try:
            actions.disqualify(submission, reason)
        except actions.Refused as exc:
            raise _refused(exc) from None
        session.flush()
        return submission_json(submission, user)
