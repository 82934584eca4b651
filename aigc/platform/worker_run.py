"""Running one submission's evaluation on a worker, safely under crashes and retries.

A worker claims a submission with a compare-and-set on its status: queued becomes running
with a fresh claim token and a lease. While the evaluation runs, a heartbeat renews the
lease. A submission whose worker died keeps status running until its lease expires; then
any worker may claim it again (the attempt counter goes up, and after ``max_attempts``
it fails as a platform failure). The result is written in one transaction that first
checks the claim is still ours, and the evaluation row is unique per submission: a
submission is never scored twice, whatever the broker redelivers.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, cast

import gymnasium as gym
from sqlalchemy import CursorResult, Update, and_, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from aigc.leaderboard.ranking import board_figures
from aigc.platform import challenges
from aigc.platform.board_cache import bump_board
from aigc.platform.changes import announce
from aigc.platform.db import Database
from aigc.platform.models import LOG_EXCERPT_CHARS, EpisodeRow, Evaluation, Submission, now
from aigc.platform.settings import Settings
from aigc.platform.statuses import SubmissionStatus
from aigc.platform.storage import PackageStore
from aigc.submissions import results
from aigc.submissions.challenge import ChallengeSpec
from aigc.submissions.deadlines import EvaluationCancelled
from aigc.submissions.environment_host import EnvironmentFailed, EnvironmentHost
from aigc.submissions.evaluator import evaluate
from aigc.submissions.metrics import MetricsSpec
from aigc.submissions.results import EpisodeResult, EvaluationResult, Failure
from aigc.submissions.sandbox import Sandbox

log = logging.getLogger("aigc.evaluation")

# What run_submission did, for the queue to act on.
DONE, SKIPPED, RETRY = "done", "skipped", "retry"
PLATFORM_ERROR = "platform_error"
INTERRUPTED = "interrupted"
# The challenge's environment failed (the organizer's fault): no quota, not the agent's.
ENVIRONMENT_ERROR = results.ENVIRONMENT_ERROR
CANCELLED_CODE = "cancelled"
PROGRESS_EVERY = 1.0  # seconds: the least time between two stores of the episode count


@dataclasses.dataclass(frozen=True)
class Claim:
    submission_id: int
    token: str
    attempt: int


def worker_name() -> str:
    return f"{socket.gethostname()}:{threading.get_native_id()}"


def claim(db: Database, submission_id: int, lease_seconds: float, worker: str) -> Claim | None:
    """Take the submission if it is queued, or running under an expired lease."""
    token = secrets.token_hex(16)
    at = now()
    with db.session() as session:
        done = _update(
            session,
            update(Submission)
            .where(
                Submission.id == submission_id,
                or_(
                    Submission.status == SubmissionStatus.QUEUED,
                    and_(
                        Submission.status == SubmissionStatus.RUNNING,
                        Submission.lease_expires_at < at,
                    ),
                ),
            )
            .values(
                status=SubmissionStatus.RUNNING,
                attempts=Submission.attempts + 1,
                claim_token=token,
                lease_expires_at=at + timedelta(seconds=lease_seconds),
                worker=worker,
                started_at=at,
                episodes_done=0,
            ),
        )
        if done != 1:
            return None
        announce(session, submission_id)
        attempt = session.scalar(select(Submission.attempts).where(Submission.id == submission_id))
    return Claim(submission_id, token, int(attempt or 0))


def _update(session: Session, statement: Update) -> int:
    """Run an UPDATE and return how many rows it changed."""
    result = session.execute(statement.execution_options(synchronize_session=False))
    return cast(CursorResult[Any], result).rowcount


def _ours(claim: Claim) -> ColumnElement[bool]:
    return and_(
        Submission.id == claim.submission_id,
        Submission.status == SubmissionStatus.RUNNING,
        Submission.claim_token == claim.token,
    )


def _release(db: Database, claim: Claim, **values: object) -> bool:
    """Change the submission only if our claim still holds; tell whether it did."""
    with db.session() as session:
        done = _update(session, update(Submission).where(_ours(claim)).values(**values))
        if done == 1:
            announce(session, claim.submission_id)
        return done == 1


def _give_up(db: Database, held: Claim, code: str, why: str) -> None:
    """Fail the submission for a fault of the platform's (it counts against no quota)."""
    _release(
        db,
        held,
        status=SubmissionStatus.FAILED,
        failure_code=code,
        failure_message=f"{why}: an organizer can run it again",
        failure_episode=None,
        failure_step=None,
        platform_failure=True,
        claim_token=None,
        finished_at=now(),
    )


class Heartbeat:
    """Renews the lease while an evaluation runs, stores how many episodes have ended, and
    notices cancellation and lost claims."""

    def __init__(self, db: Database, claim: Claim, lease_seconds: float):
        self.db, self.claim, self.lease = db, claim, lease_seconds
        self.stop = threading.Event()  # set when cancelled, interrupted, or the claim was lost
        self.cancelled = False  # by a participant or organizer
        self.interrupted = False  # by the worker shutting down
        self.stopped = threading.Event()
        self.progressed = threading.Event()  # an episode ended since the last beat
        self.episodes_done = 0
        self.episodes_stored = 0  # the count the database holds
        self.thread = threading.Thread(target=self._run, name="aigc-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.progressed.set()  # wakes the thread
        self.thread.join()

    def _run(self) -> None:
        """Beat every lease/4, and once an episode ends, at most every PROGRESS_EVERY s."""
        period = self.lease / 4
        last = time.monotonic()
        while True:
            self.progressed.wait(max(0.0, last + period - time.monotonic()))
            # An episode that ended within PROGRESS_EVERY of the last beat waits its turn.
            if self.stopped.wait(max(0.0, last + PROGRESS_EVERY - time.monotonic())):
                return
            self.progressed.clear()
            last = time.monotonic()
            try:
                self.beat()
            except Exception:  # the database may blink; the next beat tries again
                log.exception("heartbeat of submission %s failed", self.claim.submission_id)

    def beat(self) -> None:
        with self.db.session() as session:
            row = session.execute(
                select(Submission.cancel_requested).where(_ours(self.claim))
            ).first()
            if row is None:
                self.stop.set()
                return
            if row[0]:
                self.cancelled = True
                self.stop.set()
            done = self.episodes_done
            session.execute(
                update(Submission)
                .where(_ours(self.claim))
                .values(lease_expires_at=now() + timedelta(seconds=self.lease), episodes_done=done)
                .execution_options(synchronize_session=False)
            )
            if done != self.episodes_stored:
                announce(session, self.claim.submission_id)
                self.episodes_stored = done

    def interrupt(self) -> None:
        """Stop the evaluation because this worker is shutting down (it will run again)."""
        self.interrupted = True
        self.stop.set()

    def on_episode(self, _episode: EpisodeResult, done: int, _total: int) -> None:
        self.episodes_done = done
        self.progressed.set()


def run_submission(
    db: Database,
    settings: Settings,
    store: PackageStore,
    submission_id: int,
    make_sandbox: Callable[[], Sandbox],
    worker: str | None = None,
    running: set[Heartbeat] | None = None,
) -> str:
    """Evaluate one submission if it can be claimed; return DONE, SKIPPED or RETRY.

    ``running`` (a worker's own set) holds the evaluation's heartbeat while it runs, so the
    worker can interrupt it when it shuts down.
    """
    lease = settings.lease_seconds
    held = claim(db, submission_id, lease, worker or worker_name())
    if held is None:
        return SKIPPED
    with db.session() as session:
        submission = session.get_one(Submission, submission_id)
        challenge = submission.challenge
        spec = challenges.spec_of(challenge, submission.challenge_version)
        record = challenges.version_of(challenge, submission.challenge_version)
        bundle, wheelhouse = record.bundle_sha256, record.runtime_sha256
        phase, sha256 = submission.phase, submission.package_sha256
    if held.attempt > settings.max_attempts:
        _give_up(db, held, INTERRUPTED, f"the evaluation was interrupted {held.attempt - 1} times")
        return DONE
    reason = challenges.unavailable_reason(spec)
    if reason is not None:
        _give_up(db, held, ENVIRONMENT_ERROR, f"the challenge is unavailable: {reason}")
        return DONE
    # The platform's own cap on evaluation time applies to every challenge.
    limits = dataclasses.replace(
        spec.limits,
        evaluation_timeout=min(spec.limits.evaluation_timeout, settings.max_evaluation_seconds),
    )
    spec = dataclasses.replace(spec, limits=limits)
    heartbeat = Heartbeat(db, held, lease)
    if running is not None:
        running.add(heartbeat)
    try:
        with heartbeat, store.unpacked(sha256) as folder:
            # Built here if this worker lacks it, while the heartbeat keeps the claim.
            sandbox = _sandbox(store, wheelhouse, make_sandbox)
            with _environment(store, spec, bundle, sandbox, heartbeat.stop) as make_env:
                result = evaluate(
                    folder,
                    spec,
                    phase,
                    sandbox=sandbox,
                    # Drawn for this submission, or ordered for it: the agent can know neither.
                    seeds=spec.phase(phase).seeds(
                        spec.id, secret=settings.seed_secret, evaluation=str(submission_id)
                    ),
                    on_episode=heartbeat.on_episode,
                    cancel=heartbeat.stop,
                    make_env=make_env,
                )
    except EvaluationCancelled:
        if heartbeat.interrupted:
            # This worker is shutting down: the submission goes back to the queue as it was.
            _release(
                db,
                held,
                status=SubmissionStatus.QUEUED,
                attempts=held.attempt - 1,
                claim_token=None,
                lease_expires_at=None,
                queued_at=now(),
            )
            return SKIPPED
        # Cancelled, or our claim was lost; in the second case this changes nothing.
        _release(
            db,
            held,
            status=SubmissionStatus.CANCELLED,
            failure_code=CANCELLED_CODE,
            failure_message="cancelled while it ran",
            failure_episode=None,
            failure_step=None,
            claim_token=None,
            finished_at=now(),
        )
        return DONE
    except EnvironmentFailed as exc:  # it did not start: the organizer's to fix
        _give_up(db, held, ENVIRONMENT_ERROR, f"the challenge's environment failed: {exc.message}")
        return DONE
    except Exception as exc:  # the platform failed, not the agent: try again later
        log.exception("evaluating submission %s failed", submission_id)
        message = f"{type(exc).__name__}: {exc}"[:1000]
        if held.attempt >= settings.max_attempts:
            _give_up(db, held, PLATFORM_ERROR, f"the platform could not evaluate it ({message})")
            return DONE
        _release(
            db,
            held,
            status=SubmissionStatus.QUEUED,
            claim_token=None,
            lease_expires_at=None,
            queued_at=now(),
        )
        return RETRY
    finally:
        if running is not None:
            running.discard(heartbeat)
    record_result(db, held, result, spec.metrics)
    return DONE


def _sandbox(
    store: PackageStore, wheelhouse: str | None, make_sandbox: Callable[[], Sandbox]
) -> Sandbox:
    """The sandbox for the challenge version: one running its image, built first if this
    worker lacks it (a failure to build is the platform's, tried again later)."""
    if wheelhouse is None:
        return make_sandbox()
    return make_sandbox().for_runtime(wheelhouse, lambda: store.unpacked_wheelhouse(wheelhouse))


@contextmanager
def _environment(
    store: PackageStore,
    spec: ChallengeSpec,
    bundle: str | None,
    sandbox: Sandbox,
    cancel: threading.Event,
) -> Iterator[Callable[[], gym.Env] | None]:
    """How the evaluation makes its environments: here, or a bundle's in its own sandbox."""
    if not spec.environment.in_bundle:
        yield None
        return
    if bundle is None:
        raise EnvironmentFailed("the challenge names an entry point but has no stored bundle")
    with (
        store.unpacked_bundle(bundle) as folder,
        EnvironmentHost(
            folder,
            spec.environment,
            spec.metrics.info,
            spec.limits,
            sandbox,
            cancel=cancel,  # a cancel reaches an environment that hangs as it does an agent
        ) as host,
    ):
        yield host.make


def _place(number: int | None) -> int | None:
    """An episode index or step as a 32-bit column keeps it (both databases)."""
    return None if number is None else max(0, min(int(number), 2**31 - 1))


def record_result(
    db: Database, held: Claim, result: EvaluationResult, metrics: MetricsSpec | None = None
) -> bool:
    """Store the result if our claim still holds; return whether it was stored."""
    ci_low, ci_high, tie = (
        board_figures(result, metrics, seed=held.submission_id) if metrics else (None, None, None)
    )
    with db.session() as session:
        failure = result.failure
        done = _update(
            session,
            update(Submission)
            .where(_ours(held))
            .values(
                status=SubmissionStatus.FINISHED if failure is None else SubmissionStatus.FAILED,
                failure_code=failure.code if failure else None,
                failure_message=_failure_text(failure),
                failure_episode=_place(failure.episode) if failure else None,
                failure_step=_place(failure.step) if failure else None,
                # The challenge's environment failed: the organizer's fault, no quota spent.
                platform_failure=failure is not None and failure.code == ENVIRONMENT_ERROR,
                episodes_done=len(result.episodes),
                logs=result.logs[-LOG_EXCERPT_CHARS:],
                claim_token=None,
                finished_at=now(),
            ),
        )
        if done != 1:
            log.warning(
                "submission %s was claimed by another worker: result dropped", held.submission_id
            )
            return False
        evaluation = Evaluation(
            submission_id=held.submission_id,
            attempt=held.attempt,
            score=result.score,
            ci_low=ci_low,
            ci_high=ci_high,
            tie_breaker=tie,
            metrics=result.metrics,
            episodes_requested=result.episodes_requested,
            steps=result.steps,
            wall_time=result.wall_time,
            startup_time=result.startup_time,
            episodes=[
                EpisodeRow(
                    index=e.index,
                    seed=e.seed,
                    total_return=e.total_return if math.isfinite(e.total_return) else None,
                    length=e.length,
                    wall_time=e.wall_time,
                    terminated=e.terminated,
                    truncated=e.truncated,
                    success=e.success,
                    values={k: _finite(v) for k, v in e.values.items()},
                    actions=e.actions,
                    prompt=e.prompt,
                    completion=e.completion,
                )
                for e in result.episodes
            ],
        )
        session.add(evaluation)
        bump_board(session, submission_id=held.submission_id)
        announce(session, held.submission_id)
    return True


def _failure_text(failure: Failure | None) -> str | None:
    if failure is None:
        return None
    if failure.code == ENVIRONMENT_ERROR:
        return f"the challenge's environment failed, not the agent: {failure.message}"
    return failure.message


def _finite(value: float | None) -> float | None:
    # JSON columns take no NaN or infinity (PostgreSQL refuses them).
    return value if value is not None and math.isfinite(value) else None


def stale_submissions(db: Database, older_than: timedelta) -> list[int]:
    """Submissions whose task may be lost: queued for long, or running under an expired lease."""
    at = now()
    with db.session() as session:
        return list(
            session.scalars(
                select(Submission.id)
                .where(
                    or_(
                        and_(
                            Submission.status == SubmissionStatus.QUEUED,
                            Submission.queued_at < at - older_than,
                        ),
                        and_(
                            Submission.status == SubmissionStatus.RUNNING,
                            Submission.lease_expires_at < at,
                        ),
                    )
                )
                .order_by(Submission.id)
            )
        )
