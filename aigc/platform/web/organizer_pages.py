"""Organizer pages: challenges from YAML or a bundle; everyone's submissions and what to do
with them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from aigc.platform import challenges, visibility
from aigc.platform import submission_actions as actions
from aigc.platform.context import platform
from aigc.platform.models import Challenge, Submission
from aigc.platform.queue import send
from aigc.platform.statuses import SubmissionStatus
from aigc.platform.web.challenge_pages import load
from aigc.platform.web.guards import local_path, organizers_only
from aigc.platform.web.submission_pages import row, rows_query, viewing_user
from aigc.submissions.challenge import SpecError

bp = Blueprint("organize", __name__, url_prefix="/organize")
EXAMPLE = """\
id: my-challenge
title: My challenge
description: |
  What the agents must do, in Markdown.
environment:
  id: CartPole-v1
phases:
  - id: dev
    title: Development
    visibility: public
    episodes: 100
    seeds: fresh                   # drawn for each submission; or fixed: {first: 1000}
  - id: test
    title: Final test
    visibility: hidden
    episodes: 500
    seeds: secret
metrics:
  primary: mean_return
  higher_is_better: true
quotas:
  per_day: 10
"""


def _spec_text() -> str:
    """The YAML of the form: an uploaded file wins over the text area."""
    upload = request.files.get("spec_file")
    if upload is not None and upload.filename:
        try:
            return upload.read().decode("utf-8")
        except UnicodeDecodeError:
            return "\0"  # parsed below into a one-line error
    return request.form.get("spec_yaml", "").replace("\r\n", "\n")


def _bundle() -> challenges.StoredBundle | None:
    """The bundle of the form (a .zip or .tar.gz), checked and stored; None if none was sent.

    SpecError if it is too large or not a bundle.
    """
    upload = request.files.get("bundle_file")
    if upload is None or not upload.filename:
        return None
    p = platform()
    limit = p.settings.max_upload_bytes
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise SpecError(f"the bundle is larger than the {limit} bytes allowed: shrink it")
    return challenges.store_bundle(p.store, data, upload.filename)


def _runtime_maker() -> challenges.RuntimeMaker:
    p = platform()
    return lambda spec: challenges.store_runtime(p.store, p.settings, spec)


def _check_text(text: str) -> str | None:
    if "\0" in text:
        return "the uploaded file is not UTF-8 text: save it as UTF-8"
    if not text.strip():
        return "paste the challenge spec (YAML) or choose a .yaml file"
    return None


@bp.route("/challenges/new", methods=["GET", "POST"])
@organizers_only
def new_challenge() -> Any:
    """Create a challenge from a YAML spec pasted or uploaded, or from a bundle."""
    if request.method == "GET":
        return render_template("challenge_form.html", text=EXAMPLE, challenge=None)
    try:
        bundle = _bundle()
    except SpecError as exc:
        page = render_template("challenge_form.html", text=EXAMPLE, challenge=None, error=str(exc))
        return page, 400
    text = bundle.spec_yaml if bundle else _spec_text()
    error = _check_text(text)
    if error is None:
        try:
            with platform().db.session() as session:
                challenge = challenges.create(
                    session, text, by=viewing_user(session), bundle=bundle, runtime=_runtime_maker()
                )
                slug = challenge.slug
        except (SpecError, challenges.ChallengeConflict) as exc:
            error = str(exc)
        else:
            flash(f"Challenge {slug} is created.")
            return redirect(url_for("pages.challenge_page", slug=slug))
    form_text = text if "\0" not in text else ""
    return render_template("challenge_form.html", text=form_text, challenge=None, error=error), 400


@bp.route("/challenges/<slug>/edit", methods=["GET", "POST"])
@organizers_only
def edit_challenge(slug: str) -> Any:
    """Change a challenge's spec: every change is a new version."""
    p = platform()
    with p.db.session() as session:
        found = load(session, slug)
        current = _current_yaml(found)
        version = found.current_version
        shown = {"slug": found.slug, "title": found.title, "builtin": found.builtin}
    if request.method == "GET":
        return render_template(
            "challenge_form.html", text=current, challenge=shown, version=version
        )
    try:
        bundle = _bundle()
    except SpecError as exc:
        page = render_template(
            "challenge_form.html", text=current, challenge=shown, version=version, error=str(exc)
        )
        return page, 400
    text = bundle.spec_yaml if bundle else _spec_text()
    error = _check_text(text)
    if error is None:
        try:
            with p.db.session() as session:
                challenge = load(session, slug)
                changed = challenges.update(
                    session,
                    challenge,
                    text,
                    by=viewing_user(session),
                    bundle=bundle,
                    runtime=_runtime_maker(),
                )
                version = challenge.current_version
        except (SpecError, challenges.ChallengeConflict) as exc:
            error = str(exc)
        else:
            flash(f"Saved as version {version}." if changed else "Nothing changed.")
            return redirect(url_for("pages.challenge_page", slug=slug))
    form_text = text if "\0" not in text else current
    page = render_template(
        "challenge_form.html", text=form_text, challenge=shown, version=version, error=error
    )
    return page, 400


def _current_yaml(challenge: Challenge) -> str:
    return next(v.spec_yaml for v in challenge.versions if v.version == challenge.current_version)


@bp.get("/submissions")
@organizers_only
def all_submissions() -> Any:
    """Everyone's submissions, newest first, filtered by challenge and status."""
    slug = request.args.get("challenge", "")
    status = request.args.get("status", "")
    with platform().db.session() as session:
        user = viewing_user(session)
        query = rows_query()
        if slug:
            challenge = challenges.find(session, slug)
            query = query.where(Submission.challenge_id == (challenge.id if challenge else -1))
        if status in set(SubmissionStatus):
            query = query.where(Submission.status == status)
        rows = [row(s, user) for s in session.scalars(query)]
        slugs = list(session.scalars(select(Challenge.slug).order_by(Challenge.slug)))
    return render_template(
        "organize_submissions.html",
        rows=rows,
        slug=slug,
        status=status,
        slugs=slugs,
        statuses=list(SubmissionStatus),
        here=request.full_path if request.query_string else request.path,
    )


def _submission(session: Session, submission_id: int) -> Submission:
    submission = session.get(Submission, submission_id)
    if submission is None:
        abort(404, description=f"there is no submission {submission_id}")
    return submission


def _back() -> Any:
    return redirect(local_path(request.form.get("next")) or url_for("organize.all_submissions"))


@bp.post("/submissions/<id:submission_id>/rerun")
@organizers_only
def rerun(submission_id: int) -> Any:
    """Evaluate a finished, failed or cancelled submission again."""
    if _change(submission_id, actions.rerun, f"Submission {submission_id} is queued again."):
        send(platform().queue, submission_id)  # after the commit
    return _back()


@bp.post("/submissions/<id:submission_id>/cancel")
@organizers_only
def cancel(submission_id: int) -> Any:
    """Cancel a queued or running submission."""
    _change(
        submission_id,
        actions.cancel,
        f"Submission {submission_id} is cancelled (a running one stops soon).",
    )
    return _back()


@bp.post("/submissions/<id:submission_id>/disqualify")
@organizers_only
def disqualify(submission_id: int) -> Any:
    """Take a submission off every leaderboard, with a reason its author sees."""
    reason = request.form.get("reason", "")
    _change(
        submission_id,
        lambda submission: actions.disqualify(submission, reason),
        f"Submission {submission_id} is disqualified.",
    )
    return _back()


def _change(submission_id: int, change: Callable[[Submission], object], done: str) -> bool:
    """Apply ``change`` to a submission and commit; flash ``done``, or why it was refused."""
    try:
        with platform().db.session() as session:
            change(_submission(session, submission_id))
    except actions.Refused as exc:
        flash(exc.message, "error")
        return False
    flash(done)
    return True


@bp.post("/challenges/<slug>/phases/<phase>/reveal")
@organizers_only
def reveal(slug: str, phase: str) -> Any:
    """Reveal a hidden phase: its leaderboard and scores become public."""
    with platform().db.session() as session:
        challenge = load(session, slug)
        try:
            found = challenges.spec_of(challenge).phase(phase)
        except SpecError as exc:
            abort(404, description=str(exc))
        if found.visibility == "public":
            flash(f"Phase {phase!r} is public: there is nothing to reveal.", "error")
        elif not visibility.reveal(session, challenge, phase, viewing_user(session)):
            flash(f"Phase {phase!r} is revealed already.", "error")
        else:
            flash(f"Phase {phase!r} is revealed: everyone sees its leaderboard now.")
    return redirect(url_for("boards.leaderboard", slug=slug, phase=phase))


@bp.post("/challenges/<slug>/phases/<phase>/rerun")
@organizers_only
def rerun_phase(slug: str, phase: str) -> Any:
    """Evaluate every finished or failed submission of a phase again (no quota used)."""
    p = platform()
    with p.db.session() as session:
        challenge = load(session, slug)
        try:
            queued = actions.rerun_phase(session, challenge, phase)
        except actions.Refused as exc:
            abort(exc.status, description=exc.message)
        version = challenge.current_version
    for submission_id in queued:  # after the commit
        send(p.queue, submission_id)
    flash(f"{len(queued)} submissions of phase {phase!r} are queued again, on version {version}.")
    return redirect(url_for("boards.leaderboard", slug=slug, phase=phase))
