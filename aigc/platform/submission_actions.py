"""Submissions: accepting an upload, and the changes of status people ask for."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from aigc.platform import challenges
from aigc.platform.board_cache import bump_board, on_the_board
from aigc.platform.changes import announce
from aigc.platform.models import Challenge, Submission, User, now
from aigc.platform.quotas import QuotaExceeded, check_quota
from aigc.platform.statuses import ENDED, SubmissionStatus
from aigc.platform.storage import PackageStore
from aigc.safe_text import file_name
from aigc.submissions.archive import ArchiveLimits
from aigc.submissions.challenge import Phase, SpecError
from aigc.submissions.package import (
    PackageError,
    entry_module_path,
    open_package,
    read_manifest,
)

# Room for the multipart envelope around the largest accepted package.
FORM_OVERHEAD = 64 * 1024


class Refused(Exception):
    """A request the platform will not carry out; ``status`` is its HTTP status."""

    def __init__(self, status: int, message: str, retry_at: datetime | None = None):
        super().__init__(message)
        self.status, self.message, self.retry_at = status, message, retry_at


def too_large(size: int, max_bytes: int) -> str:
    """The one line refusing an upload of ``size`` bytes."""
    return (
        f"the upload has {size} bytes ({size / 2**20:.1f} MiB), more than the {max_bytes} "
        f"allowed ({max_bytes / 2**20:.1f} MiB): shrink the package (leave out what the agent "
        "does not load)"
    )


def check_archive(data: bytes, filename: str, limits: ArchiveLimits) -> str:
    """Check an archive as evaluation will open it; return the agent's name, or raise Refused."""
    suffix = ".zip" if filename.lower().endswith(".zip") else ".tar.gz"
    with tempfile.TemporaryDirectory(prefix="aigc-upload-") as tmp:
        archive = Path(tmp) / f"upload{suffix}"
        archive.write_bytes(data)
        try:
            with open_package(archive, limits) as folder:
                manifest = read_manifest(folder)
                if entry_module_path(folder, manifest) is None:
                    raise PackageError(
                        f"entry point module {manifest.module!r} not found in the package: "
                        "add it or fix entry_point in aigc.toml"
                    )
        except PackageError as exc:
            raise Refused(400, str(exc)) from None
    return manifest.name


def accept_upload(
    session: Session,
    store: PackageStore,
    user: User,
    challenge_slug: str,
    phase_id: str,
    filename: str,
    data: bytes,
    max_bytes: int,
) -> Submission:
    """Check an upload and queue it as a submission; raise Refused with the reason."""
    if len(data) > max_bytes:
        raise Refused(413, too_large(len(data), max_bytes))
    challenge = challenges.find(session, challenge_slug)
    if challenge is None:
        raise Refused(
            404,
            f"there is no challenge {challenge_slug!r}: "
            "aigc challenges (GET /api/v1/challenges) lists them",
        )
    if challenge.archived_at is not None:
        raise Refused(
            409, f"challenge {challenge_slug!r} is archived: it takes no more submissions"
        )
    spec = challenges.spec_of(challenge)
    reason = challenges.unavailable_reason(spec)
    if reason is not None:
        raise Refused(
            409,
            f"challenge {challenge_slug!r} is unavailable: {reason}; its organizer must update it",
        )
    try:
        phase = spec.phase(phase_id)
    except SpecError as exc:
        raise Refused(404, str(exc)) from None
    state = challenges.phase_state(phase)
    if state == "upcoming":
        raise Refused(409, f"phase {phase_id!r} opens at {phase.start:%Y-%m-%d %H:%M} UTC")
    if state == "closed":
        raise Refused(409, f"phase {phase_id!r} closed at {phase.end:%Y-%m-%d %H:%M} UTC")
    name = check_archive(data, filename, store.limits)
    try:
        check_quota(session, user, challenge.id, phase_id, spec.quotas, now())
    except QuotaExceeded as exc:
        raise Refused(429, exc.message, exc.retry_at) from None
    return queue_submission(
        session, user, challenge, phase, store.put(data), name, filename, len(data)
    )


def queue_submission(
    session: Session,
    user: User,
    challenge: Challenge,
    phase: Phase,
    sha256: str,
    name: str,
    filename: str,
    size_bytes: int,
    baseline: bool = False,
) -> Submission:
    """Add a queued submission of a stored, checked package to a phase."""
    submission = Submission(
        user_id=user.id,
        team_id=user.team_id,
        challenge_id=challenge.id,
        challenge_version=challenge.current_version,
        phase=phase.id,
        package_sha256=sha256,
        package_name=name,
        filename=file_name(filename) or "package",
        size_bytes=size_bytes,
        status=SubmissionStatus.QUEUED,
        episodes_total=phase.episodes,
        baseline=baseline,
    )
    session.add(submission)
    session.flush()
    return submission


def cancel(submission: Submission) -> None:
    """Cancel a queued submission at once; a running one stops at its next episode."""
    if submission.status == SubmissionStatus.QUEUED:
        submission.status = SubmissionStatus.CANCELLED
        submission.finished_at = now()
        announce(_session(submission), submission.id)
    elif submission.status == SubmissionStatus.RUNNING:
        submission.cancel_requested = True
    else:
        raise Refused(409, f"submission {submission.id} is {submission.status}: nothing to cancel")


def rerun(submission: Submission) -> None:
    """Queue a finished, failed or cancelled submission again, on the challenge's current spec."""
    if submission.status not in ENDED:
        raise Refused(409, f"submission {submission.id} is {submission.status}: wait until it ends")
    current = challenges.spec_of(submission.challenge)
    if submission.phase not in {phase.id for phase in current.phases}:
        raise Refused(
            409,
            f"the current version of {submission.challenge.slug!r} has no phase "
            f"{submission.phase!r}: the submission can no longer be evaluated",
        )
    submission.evaluation = None
    submission.challenge_version = submission.challenge.current_version
    submission.status = SubmissionStatus.QUEUED
    submission.queued_at = now()
    submission.attempts = 0
    submission.claim_token = submission.lease_expires_at = submission.worker = None
    submission.cancel_requested = False
    submission.episodes_done = 0
    submission.failure_code = submission.failure_message = None
    submission.failure_episode = submission.failure_step = None
    submission.platform_failure = False
    submission.logs = ""
    submission.started_at = submission.finished_at = None
    announce(_session(submission), submission.id)
    _bump(submission)


def rerun_phase(session: Session, challenge: Challenge, phase: str) -> list[int]:
    """Queue every finished or failed submission of a phase again, on the current spec.

    Reruns keep their submissions: no quota is used. Disqualified submissions stay as they
    are; so do the platform's failures, which its sweep retries.
    """
    try:
        challenges.spec_of(challenge).phase(phase)
    except SpecError as exc:
        raise Refused(404, str(exc)) from None
    found = session.scalars(
        select(Submission).where(*on_the_board(challenge.id, phase)).order_by(Submission.id)
    ).all()
    for submission in found:
        rerun(submission)
    session.flush()
    return [submission.id for submission in found]


def disqualify(submission: Submission, reason: str) -> None:
    """Keep the submission but take it off every leaderboard."""
    reason = reason.strip()
    if not reason:
        raise Refused(400, "give a reason for the disqualification: participants see it")
    submission.disqualified = True
    submission.disqualified_reason = reason[:2000]
    _bump(submission)


def _session(submission: Submission) -> Session:
    session = object_session(submission)
    assert session is not None, "the submission must belong to a session"
    return session


def _bump(submission: Submission) -> None:
    bump_board(_session(submission), challenge_id=submission.challenge_id)
