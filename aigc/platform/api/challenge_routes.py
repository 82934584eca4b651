"""Challenges: list and show for everyone; create and update (YAML or bundle) for organizers."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from aigc.leaderboard.export import row_dict, to_csv
from aigc.platform import board_cache, challenges, quotas, submission_actions, visibility
from aigc.platform.api.errors import ApiError
from aigc.platform.api.render import challenge_json, remaining_json
from aigc.platform.api.routes import RouteTable, require_user, viewer
from aigc.platform.context import platform
from aigc.platform.models import Challenge, now
from aigc.platform.queue import send
from aigc.platform.storage import PackageStore
from aigc.submissions.challenge import SpecError

routes = RouteTable()

SPEC_BODY = {
    "required": True,
    "description": "The challenge spec as YAML (application/yaml or text/plain), JSON "
    '{"spec_yaml": "..."}, or a bundle (.zip or .tar.gz with challenge.yaml at its top and '
    "the environment's code beside it) as the file of a multipart form",
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
        "application/yaml": {"schema": {"type": "string", "minLength": 1}},
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["spec_yaml"],
                "properties": {"spec_yaml": {"type": "string", "minLength": 1}},
            }
        },
    },
}


def _bundle(store: PackageStore, max_bytes: int) -> challenges.StoredBundle | None:
    """The bundle of a multipart request, checked and stored; None for a bare spec."""
    if not request.mimetype.startswith("multipart/"):
        return None
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(400, "send the bundle as the form's file field (a .zip or .tar.gz)")
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ApiError(413, f"the bundle is larger than the {max_bytes} bytes allowed: shrink it")
    try:
        return challenges.store_bundle(store, data, upload.filename)
    except SpecError as exc:
        raise ApiError(400, str(exc)) from None


def _runtime_maker() -> challenges.RuntimeMaker:
    """Resolve and build a spec's runtime packages on this host, into this platform's store."""
    p = platform()
    return lambda spec: challenges.store_runtime(p.store, p.settings, spec)


def _spec_yaml() -> str:
    if request.is_json:
        data = request.get_json(silent=True)
        text = data.get("spec_yaml") if isinstance(data, dict) else None
    else:
        text = request.get_data(as_text=True)
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "send the challenge spec as YAML in the request body")
    return text


def _load(session: Session, slug: str) -> Challenge:
    challenge = challenges.find(session, slug)
    if challenge is None or not challenges.reachable(session, challenge, viewer(session)):
        raise ApiError(
            404,
            f"there is no challenge {slug!r}: aigc challenges (GET /api/v1/challenges) lists them",
        )
    return challenge


@routes.route(
    "/challenges",
    "GET",
    "List the challenges (organizers: ?archived=1 for the archived ones too)",
    "anyone",
    response="ChallengeList",
    parameters=[{"name": "archived", "in": "query", "schema": {"type": "integer", "enum": [0, 1]}}],
)
def list_challenges() -> Any:
    with platform().db.session() as session:
        counts = challenges.participants(session)
        query = select(Challenge).order_by(Challenge.slug)
        user = viewer(session)
        if not (user is not None and user.is_organizer and request.args.get("archived") == "1"):
            query = query.where(Challenge.archived_at.is_(None))
        rows = session.scalars(query)
        return {"challenges": [challenge_json(c, False, counts.get(c.id, 0)) for c in rows]}


@routes.route(
    "/challenges/<slug>",
    "GET",
    "Show a challenge: description, rules, phases",
    "anyone",
    response="Challenge",
    errors=(404,),
)
def show_challenge(slug: str) -> Any:
    with platform().db.session() as session:
        challenge = _load(session, slug)
        return challenge_json(
            challenge, True, challenges.participants(session).get(challenge.id, 0)
        )


@routes.route(
    "/challenges",
    "POST",
    "Create a challenge from a YAML spec",
    "organizer",
    request_body=SPEC_BODY,
    response="Challenge",
    errors=(400, 401, 403, 409, 413),
    success=201,
)
def create_challenge() -> Any:
    p = platform()
    with p.db.session() as session:
        user = require_user(session, organizer=True)
        bundle = _bundle(p.store, p.settings.max_upload_bytes)
        text = bundle.spec_yaml if bundle else _spec_yaml()
        try:
            challenge = challenges.create(
                session, text, by=user, bundle=bundle, runtime=_runtime_maker()
            )
        except SpecError as exc:
            raise ApiError(400, str(exc)) from None
        except challenges.ChallengeConflict as exc:
            raise ApiError(409, str(exc)) from None
        return challenge_json(challenge, True, 0), 201


@routes.route(
    "/challenges/<slug>",
    "PUT",
    "Update a challenge from a YAML spec (adds a version)",
    "organizer",
    request_body=SPEC_BODY,
    response="Challenge",
    errors=(400, 401, 403, 404, 409, 413),
)
def update_challenge(slug: str) -> Any:
    p = platform()
    with p.db.session() as session:
        user = require_user(session, organizer=True)
        challenge = _load(session, slug)
        bundle = _bundle(p.store, p.settings.max_upload_bytes)
        text = bundle.spec_yaml if bundle else _spec_yaml()
        try:
            changed = challenges.update(
                session, challenge, text, by=user, bundle=bundle, runtime=_runtime_maker()
            )
        except SpecError as exc:
            raise ApiError(400, str(exc)) from None
        except challenges.ChallengeConflict as exc:
            raise ApiError(409, str(exc)) from None
        data = challenge_json(
            challenge, True, challenges.participants(session).get(challenge.id, 0)
        )
        return {**data, "changed": changed}


@routes.route(
    "/challenges/<slug>/spec",
    "GET",
    "The challenge's spec as participants may read it (YAML, no hidden seeds)",
    "anyone",
    errors=(404,),
    # A YAML document of the spec's fields (a mapping), as docs/challenges.md describes them.
    content={"application/yaml": {"schema": {"type": "object"}}},
)
def challenge_spec(slug: str) -> Any:
    with platform().db.session() as session:
        record = challenges.version_of(_load(session, slug))
        text = challenges.public_spec_yaml(record.spec_yaml)
    return Response(
        text,
        mimetype="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{slug}.yaml"'},
    )


@routes.route(
    "/challenges/<slug>/bundle",
    "GET",
    "The environment's code: the challenge's bundle with its public spec (.zip)",
    "anyone",
    errors=(403, 404),
    content={"application/zip": {"schema": {"type": "string", "format": "binary"}}},
)
def challenge_bundle(slug: str) -> Any:
    p = platform()
    with p.db.session() as session:
        record = challenges.version_of(_load(session, slug))
        spec_yaml, sha256 = record.spec_yaml, record.bundle_sha256
    environment = challenges.parse(spec_yaml).environment
    if sha256 is None or not environment.in_bundle:
        raise ApiError(
            404,
            f"{slug!r} has no bundle: its environment {environment.id} is installed with the "
            f"platform, and GET /api/v1/challenges/{slug}/spec is all there is to download",
        )
    if environment.private:
        raise ApiError(
            403,
            f"the environment of {slug!r} is private: only the platform evaluates it (aigc submit)",
        )
    return Response(
        challenges.public_bundle(p.store, sha256, spec_yaml),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{slug}.zip"'},
    )


PHASE_QUERY: list[dict[str, Any]] = [
    {"name": "phase", "in": "query", "schema": {"type": "string", "default": "dev"}},
    {"name": "format", "in": "query", "schema": {"enum": ["json", "csv"], "default": "json"}},
]


@routes.route(
    "/challenges/<slug>/leaderboard",
    "GET",
    "The leaderboard of a phase, as JSON or CSV",
    "anyone",
    response="Leaderboard",
    errors=(400, 403, 404),
    parameters=PHASE_QUERY,
    content={"text/csv": {"schema": {"type": "string"}}},
)
def leaderboard(slug: str) -> Any:
    phase_id = request.args.get("phase", "dev")
    form = request.args.get("format", "json")
    if form not in ("json", "csv"):
        raise ApiError(400, f"format {form!r} is unknown: ask for json or csv")
    p = platform()
    with p.db.session() as session:
        challenge = _load(session, slug)
        try:
            phase = challenges.spec_of(challenge).phase(phase_id)
        except SpecError as exc:
            raise ApiError(404, str(exc)) from None
        user = viewer(session)
        organizer = user is not None and user.is_organizer
        if not visibility.board_visible(
            phase, organizer, visibility.revealed(session, challenge, phase_id)
        ):
            raise ApiError(
                403,
                f"the leaderboard of phase {phase_id!r} is hidden until the organizers reveal it",
            )
        board = p.boards.get(session, challenge, phase_id)
    if form == "csv":
        return Response(
            p.boards.rendered(board, "csv", lambda: to_csv(board.rows, board.columns)),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{slug}-{phase_id}.csv"'},
        )
    body = p.boards.rendered(board, "json", lambda: _board_json(board))
    return Response(body, mimetype="application/json")


def _board_json(board: board_cache.Board) -> str:
    return json.dumps(
        {
            "challenge": board.challenge,
            "phase": board.phase,
            "metric": board.metric,
            "higher_is_better": board.higher_is_better,
            "columns": list(board.columns),
            "version": board.version,
            "challenge_version": board.challenge_version,
            "rows": [row_dict(row) for row in board.rows],
        }
    )


@routes.route(
    "/challenges/<slug>/phases/<phase>/reveal",
    "POST",
    "Reveal a hidden phase: its leaderboard and scores become public",
    "organizer",
    response="Challenge",
    errors=(401, 403, 404, 409),
)
def reveal_phase(slug: str, phase: str) -> Any:
    with platform().db.session() as session:
        user = require_user(session, organizer=True)
        challenge = _load(session, slug)
        try:
            found = challenges.spec_of(challenge).phase(phase)
        except SpecError as exc:
            raise ApiError(404, str(exc)) from None
        if found.visibility == "public":
            raise ApiError(409, f"phase {phase!r} is public: there is nothing to reveal")
        if not visibility.reveal(session, challenge, phase, user):
            raise ApiError(409, f"phase {phase!r} is revealed already")
        session.flush()
        return challenge_json(
            challenge, True, challenges.participants(session).get(challenge.id, 0)
        )


@routes.route(
    "/challenges/<slug>/quota",
    "GET",
    "What you (or your team) may still submit to each phase, and the largest upload",
    "user",
    response="Quota",
    errors=(401, 404),
)
def challenge_quota(slug: str) -> Any:
    p = platform()
    with p.db.session() as session:
        user = require_user(session)
        challenge = _load(session, slug)
        spec, at = challenges.spec_of(challenge), now()
        return {
            "challenge": challenge.slug,
            "max_upload_bytes": p.settings.max_upload_bytes,
            "phases": [
                remaining_json(
                    quotas.remaining(session, user, challenge.id, ph.id, spec.quotas, at)
                )
                for ph in spec.phases
            ],
        }


@routes.route(
    "/challenges/<slug>/phases/<phase>/rerun",
    "POST",
    "Evaluate every finished or failed submission of a phase again, on the current version",
    "organizer",
    response="Rerun",
    errors=(401, 403, 404),
)
def rerun_phase(slug: str, phase: str) -> Any:
    p = platform()
    with p.db.session() as session:
        require_user(session, organizer=True)
        challenge = _load(session, slug)
        try:
            queued = submission_actions.rerun_phase(session, challenge, phase)
        except submission_actions.Refused as exc:
            raise ApiError(exc.status, exc.message) from None
        version = challenge.current_version
    for submission_id in queued:  # after the commit: a worker must find the rows
        send(p.queue, submission_id)
    return {"challenge": slug, "phase": phase, "version": version, "queued": queued}


def _set_archived(slug: str, archived: bool) -> Any:
    with platform().db.session() as session:
        require_user(session, organizer=True)
        challenge = _load(session, slug)
        if not challenges.set_archived(challenge, archived):
            state = "archived" if archived else "not archived"
            raise ApiError(409, f"challenge {slug!r} is {state} already")
        session.flush()
        return challenge_json(
            challenge, True, challenges.participants(session).get(challenge.id, 0)
        )


@routes.route(
    "/challenges/<slug>/archive",
    "POST",
    "Archive a challenge: off the lists, no new submissions, results and pages kept",
    "organizer",
    response="Challenge",
    errors=(401, 403, 404, 409),
)
def archive_challenge(slug: str) -> Any:
    return _set_archived(slug, True)


@routes.route(
    "/challenges/<slug>/unarchive",
    "POST",
    "Bring an archived challenge back",
    "organizer",
    response="Challenge",
    errors=(401, 403, 404, 409),
)
def unarchive_challenge(slug: str) -> Any:
    return _set_archived(slug, False)
