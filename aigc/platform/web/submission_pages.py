"""Submissions in the browser: the upload form, my submissions with live status, one submission."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from aigc.leaderboard import plots
from aigc.platform import challenges, quotas, visibility
from aigc.platform import submission_actions as actions
from aigc.platform.api.render import submission_json
from aigc.platform.context import platform
from aigc.platform.models import ACTIVE, Challenge, Submission, User, now
from aigc.platform.queue import send
from aigc.platform.web.challenge_pages import size
from aigc.platform.web.formatting import inline_svg, number, when
from aigc.platform.web.guards import local_path, signed_in
from aigc.platform.web.signin import current_user

bp = Blueprint("submissions", __name__)
LIST_LIMIT = 200
ACCEPT = ".zip,.tar.gz,.tgz"


def failure_text(submission: Submission, full: bool) -> str:
    """Why a submission failed, as its viewer may read it (hidden phases keep details back)."""
    if submission.disqualified:
        return f"disqualified: {submission.disqualified_reason or 'no reason given'}"
    if not submission.failure_code:
        return ""
    message = visibility.failure_message(submission, full)
    return f"{submission.failure_code}: {message}" if message else submission.failure_code


def row(submission: Submission, user: User) -> dict[str, Any]:
    """One line of a submissions table (no episodes: it is polled every few seconds)."""
    full = visibility.sees_everything(submission, user)
    evaluation = submission.evaluation
    score, score_text = None, ""
    if evaluation is not None and evaluation.score is not None:
        if visibility.sees_scores(submission, user):
            score, score_text = evaluation.score, number(evaluation.score)
        else:
            score_text = "hidden"  # a hidden phase, not yet revealed
    return {
        "id": submission.id,
        "user": submission.user.username,
        "team": submission.team.name if submission.team else None,
        "challenge": submission.challenge.slug,
        "phase": submission.phase,
        "package": submission.package_name,
        "filename": submission.filename,
        "status": submission.status,
        "active": submission.status in ACTIVE,
        "episodes_done": visibility.progress(submission, full).episodes_done,
        "episodes_total": submission.episodes_total,
        "score": score,
        "score_text": score_text,
        "failure": failure_text(submission, full),
        "disqualified": submission.disqualified,
        "created": f"{submission.created_at:%Y-%m-%d %H:%M}",
    }


def rows_query() -> Any:
    """Submissions with what their rows show, loaded in a few queries."""
    return (
        select(Submission)
        .options(
            selectinload(Submission.user),
            selectinload(Submission.team),
            selectinload(Submission.evaluation),
            selectinload(Submission.challenge).selectinload(Challenge.versions),
        )
        .order_by(Submission.id.desc())
        .limit(LIST_LIMIT)
    )


def viewing_user(session: Session) -> User:
    viewer = current_user()
    assert viewer is not None, "guard the view with signed_in"
    return session.get_one(User, viewer.id)


def quota_text(left: quotas.Remaining) -> str:
    """What is left of a phase's quotas, as the submit form shows it."""
    if left.per_day is None and left.total is None:
        return "no quota"
    today = "no daily limit" if left.per_day is None else f"{left.left_today} left today"
    if left.total is None:
        return today
    return f"{today}, {left.left_total} of {left.total} in total"


def _choices(session: Session, user: User) -> list[dict[str, Any]]:
    query = (
        select(Challenge)
        .where(Challenge.archived_at.is_(None))
        .options(selectinload(Challenge.versions))
        .order_by(Challenge.slug)
    )
    found, at = [], now()
    for challenge in session.scalars(query):
        spec = challenges.spec_of(challenge)
        phases = [
            (
                phase,
                challenges.phase_state(phase),
                quota_text(
                    quotas.remaining(session, user, challenge.id, phase.id, spec.quotas, at)
                ),
            )
            for phase in spec.phases
        ]
        found.append({"slug": challenge.slug, "title": challenge.title, "phases": phases})
    return found


@bp.route("/submit", methods=["GET", "POST"])
@signed_in
def submit() -> Any:
    """Upload an agent package to a challenge phase; it is checked, stored and queued."""
    p = platform()
    chosen = request.values.get("challenge", "")
    phase = request.values.get("phase", "")
    error, retry_at, status = None, None, 200
    if request.method == "POST":
        file = request.files.get("file")
        if file is None or not file.filename:
            error, status = "choose an agent package (.zip or .tar.gz) to upload", 400
        else:
            data = file.read()
            try:
                with p.db.session() as session:
                    submission = actions.accept_upload(
                        session,
                        p.store,
                        viewing_user(session),
                        chosen,
                        phase,
                        file.filename,
                        data,
                        p.settings.max_upload_bytes,
                    )
                    submission_id = submission.id
            except actions.Refused as exc:
                error, retry_at, status = exc.message, exc.retry_at, exc.status
            else:
                send(p.queue, submission_id)  # after the commit: a worker must find the row
                flash(f"Submission {submission_id} is queued for evaluation.")
                return redirect(url_for("submissions.show", submission_id=submission_id))
    with p.db.session() as session:
        choices = _choices(session, viewing_user(session))
    if not any(c["slug"] == chosen for c in choices) and choices:
        chosen = choices[0]["slug"]
    page = render_template(
        "submit.html",
        choices=choices,
        chosen=chosen,
        phase=phase,
        error=error,
        retry_at=retry_at,
        max_bytes=p.settings.max_upload_bytes,
        max_text=size(p.settings.max_upload_bytes),
        accept=ACCEPT,
    )
    return page, status


@bp.get("/my/submissions")
@signed_in
def mine() -> Any:
    """List the signed-in user's submissions; aigc.js keeps their status current."""
    with platform().db.session() as session:
        user = viewing_user(session)
        found = session.scalars(rows_query().where(Submission.user_id == user.id))
        rows = [row(s, user) for s in found]
    return render_template("my_submissions.html", rows=rows)


@bp.get("/my/submissions.json")
def mine_json() -> Any:
    """The rows of /my/submissions as JSON, for the page's live status."""
    if current_user() is None:
        return {"error": {"status": 401, "message": "sign in first"}}, 401
    with platform().db.session() as session:
        user = viewing_user(session)
        found = session.scalars(rows_query().where(Submission.user_id == user.id))
        return {"submissions": [row(s, user) for s in found]}


def own(session: Session, submission_id: int, user: User) -> Submission:
    """The submission if the user may see it (its author or an organizer), else a 404 page."""
    submission = session.get(Submission, submission_id)
    if submission is None or not (user.is_organizer or submission.user_id == user.id):
        abort(404, description=f"you have no submission {submission_id}")
    return submission


@bp.get("/my/submissions/<id:submission_id>")
@signed_in
def show(submission_id: int) -> Any:
    """Show one submission: status, failure, metrics, episode returns and logs."""
    with platform().db.session() as session:
        user = viewing_user(session)
        submission = own(session, submission_id, user)
        data = submission_json(submission, user)
        full = visibility.sees_everything(submission, user)
        logs = visibility.logs(submission, full)
        summary = row(submission, user)
        mine = submission.user_id == user.id
        seen = visibility.progress(submission, full)
        times = {
            "Submitted": when(submission.created_at),
            "Started": when(seen.started_at),
            "Finished": when(seen.finished_at),
        }
    histogram = None
    result = data["result"]
    if result and result["episodes"]:
        returns = [e["return"] for e in result["episodes"] if e["return"] is not None]
        histogram = inline_svg(plots.histogram(returns, "Episode returns", "return"))
    return render_template(
        "submission.html",
        s=data,
        row=summary,
        logs=logs,
        hidden_note=visibility.HIDDEN_NOTE,
        histogram=histogram,
        mine=mine,
        times=times,
    )


@bp.post("/my/submissions/<id:submission_id>/cancel")
@signed_in
def cancel(submission_id: int) -> Any:
    """Cancel one's own queued or running submission."""
    with platform().db.session() as session:
        submission = own(session, submission_id, viewing_user(session))
        try:
            actions.cancel(submission)
        except actions.Refused as exc:
            flash(exc.message, "error")
        else:
            flash(f"Submission {submission_id} is cancelled (a running one stops soon).")
    back = local_path(request.form.get("next"))
    return redirect(back or url_for("submissions.show", submission_id=submission_id))
