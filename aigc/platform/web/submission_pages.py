"""Submissions in the browser: the upload form, my submissions with live status, one submission."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from aigc.leaderboard import plots
from aigc.platform import challenges, quotas, visibility
from aigc.platform import submission_actions as actions
from aigc.platform.api.render import submission_json
from aigc.platform.context import platform
from aigc.platform.episode_lists import (
    SAMPLE_TITLES,
    episode_json,
    episodes_for,
    picked,
    text_samples,
)
from aigc.platform.models import Challenge, Submission, User, now
from aigc.platform.queue import send, send_render
from aigc.platform.replay_cache import KINDS, cache_for
from aigc.platform.statuses import ACTIVE
from aigc.platform.web.challenge_pages import size
from aigc.platform.web.formatting import chart_pair, number, when
from aigc.platform.web.guards import local_path, signed_in
from aigc.platform.web.signin import current_user
from aigc.submissions import agent_output

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
        if challenges.unavailable_reason(spec) is not None:
            continue  # it takes no submissions; its own page says why
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
        stored = visibility.logs(submission, full)
        logs = None if stored is None else agent_output.lines(stored)
        summary = row(submission, user)
        mine = submission.user_id == user.id
        challenge = session.get_one(Challenge, submission.challenge_id)
        shown = challenges.spec_of(challenge, submission.challenge_version).metrics.show
        seen = visibility.progress(submission, full)
        times = {
            "Submitted": when(submission.created_at),
            "Started": when(seen.started_at),
            "Finished": when(seen.finished_at),
        }
        episodes = episodes_for(session, submission, user)
        table, replays, samples, info, failed_at = None, [], None, [], None
        if episodes is not None:
            sees = visibility.sees_episodes(submission, user)
            failed_at = visibility.failure_place(submission, sees)
            info = list(episodes.spec.metrics.info)
            table = [episode_json(r, episodes.show_seeds) for r in episodes.rows]
            asked = request.args.get("replay", type=int)
            replays = _replays(submission_id, episodes.rows, asked)
            if any(r["text"] for r in table):
                samples = text_samples(episodes.rows, seed=submission_id)
    histogram = None
    result = data["result"]
    headings = {name: shown(name) for name in (result["metrics"] if result else {})}
    if result and result["episodes"]:
        returns = [e["return"] for e in result["episodes"] if e["return"] is not None]
        histogram = chart_pair(
            lambda width: plots.histogram(returns, "Episode returns", "return", width=width)
        )
    return render_template(
        "submission.html",
        s=data,
        row=summary,
        logs=logs,
        hidden_note=visibility.HIDDEN_NOTE,
        histogram=histogram,
        mine=mine,
        times=times,
        headings=headings,
        episodes=table,
        failed_at=failed_at,
        info=info,
        replays=replays,
        samples=samples,
        sample_titles=SAMPLE_TITLES,
    )


def _replays(submission_id: int, rows: list[Any], asked: int | None) -> list[dict[str, Any]]:
    """The replays of the best, median and worst episode, and of the one ``asked`` for;
    each is sent to be rendered on its first view."""
    p = platform()
    cache = cache_for(p.settings.storage_dir)
    chosen: dict[int, tuple[str, Any]] = {}
    wanted = list(picked(rows).items())
    wanted += [(f"episode {r.index}", r) for r in rows if r.index == asked]
    for label, row in wanted:
        if row.index in chosen:
            chosen[row.index] = (f"{chosen[row.index][0]}, {label}", row)
        else:
            chosen[row.index] = (label, row)
    shown: list[dict[str, Any]] = []
    for index, (label, row) in chosen.items():
        state = cache.state(submission_id, index)
        if state == "missing":
            if cache.mark_pending(submission_id, index):
                send_render(p.queue, submission_id, index)
            state = "rendering"
        path = cache.file(submission_id, index)
        text = path.read_text(encoding="utf-8") if path and path.suffix == ".txt" else None
        shown.append(
            {
                "label": label,
                "index": index,
                "return": row.total_return,
                "length": row.length,
                "state": state,
                "text": text,
                "error": cache.error(submission_id, index),
            }
        )
    return shown


def _visible(session: Session, submission_id: int) -> Submission:
    """The submission if the viewer may see its episodes, else a 404 page."""
    user = viewing_user(session)
    submission = own(session, submission_id, user)
    if not visibility.sees_episodes(submission, user):
        abort(404, description="the episodes of a hidden phase are not shown to participants")
    return submission


@bp.get("/my/submissions/<id:submission_id>/replays/<index:index>")
@signed_in
def replay_file(submission_id: int, index: int) -> Any:
    """A rendered replay (GIF, or text for text environments) of one episode."""
    with platform().db.session() as session:
        _visible(session, submission_id)
    path = cache_for(platform().settings.storage_dir).file(submission_id, index)
    if path is None:
        abort(404, description=f"the replay of episode {index} is not rendered (yet)")
    return send_file(path, mimetype=KINDS[path.suffix], max_age=3600)


@bp.get("/my/submissions/<id:submission_id>/replays/<index:index>.json")
@signed_in
def replay_state(submission_id: int, index: int) -> Any:
    """Whether a replay is rendered yet, for the page that waits for it."""
    with platform().db.session() as session:
        _visible(session, submission_id)
    cache = cache_for(platform().settings.storage_dir)
    state = cache.state(submission_id, index)
    path = cache.file(submission_id, index)
    return {
        "state": state,
        "url": url_for("submissions.replay_file", submission_id=submission_id, index=index),
        "kind": "text" if path is not None and path.suffix == ".txt" else "image",
        "error": cache.error(submission_id, index),
    }


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
