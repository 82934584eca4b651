"""The evaluation queue: Celery workers on a Redis broker, or an in-process pool.

Both run the same task code, :func:`aigc.platform.worker_run.run_submission`; views hand
them submissions with :func:`send`. The Celery task acknowledges a message only when the
evaluation is over (late acks, prefetch 1, and a visibility timeout above the longest
evaluation), so a worker killed mid-evaluation leaves its message to be delivered again.
A sweep, when a worker starts and then every lease period, sends again any submission
that is queued for too long or running under an expired lease; the claim in
``run_submission`` makes every extra delivery harmless.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Protocol

from celery import Celery
from celery.signals import (
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)
from sqlalchemy import update

from aigc.platform.db import Database
from aigc.platform.models import Submission, now
from aigc.platform.replay_cache import cache_for, render_replay
from aigc.platform.settings import Settings
from aigc.platform.statuses import SubmissionStatus
from aigc.platform.storage import PackageStore
from aigc.platform.worker_run import RETRY, Heartbeat, run_submission, stale_submissions
from aigc.submissions.owners import reap_stale_folders
from aigc.submissions.sandbox import LocalSandbox, Sandbox

log = logging.getLogger("aigc.queue")
TASK = "aigc.evaluate_submission"
RENDER_TASK = "aigc.render_replay"
QUEUE_NAME = "aigc-evaluations"


def sandbox_factory(settings: Settings) -> Callable[[], Sandbox]:
    """Return a function giving this thread's sandbox (Docker clients are not shared)."""
    local = threading.local()

    def make() -> Sandbox:
        if settings.sandbox == "local":
            return LocalSandbox()
        if not hasattr(local, "sandbox"):
            from aigc.submissions.docker_sandbox import DockerSandbox

            local.sandbox = DockerSandbox(progress=log.info, pool_size=settings.pool_size)
        return local.sandbox

    return make


def warm_up(make_sandbox: Callable[[], Sandbox], settings: Settings) -> None:
    """Start the warm pool now, on a thread of its own, rather than at the first evaluation."""
    if settings.sandbox != "docker" or settings.pool_size == 0:
        return

    def run() -> None:
        try:
            make_sandbox()
        except Exception:
            log.exception("the warm pool could not start; agents start cold until it does")

    threading.Thread(target=run, name="aigc-warm-up", daemon=True).start()


def close_warm_pools() -> None:
    """Remove the warm containers this process keeps."""
    from aigc.submissions.warm_pool import close_pools

    close_pools()


def retry_delay(attempt: int) -> float:
    return min(300.0, 5.0 * 2 ** max(0, attempt - 1))


class Queue(Protocol):
    """Where submissions go to be evaluated."""

    def enqueue(self, submission_id: int) -> None:
        """Ask for an evaluation of the submission (extra requests are harmless)."""

    def render(self, submission_id: int, index: int) -> None:
        """Ask for the replay of one of the submission's episodes to be rendered."""

    def close(self) -> None:
        """Stop taking work and release what the queue holds."""


def send(queue: Queue, submission_id: int) -> None:
    """Hand a committed submission to the queue.

    The stored row is what counts: if the queue cannot take it now (the broker is down,
    say), the submission stays queued and the workers' sweep sends it later, so the
    request that queued it still succeeds.
    """
    try:
        queue.enqueue(submission_id)
    except Exception:
        log.exception("submission %s is stored but not yet sent to the queue", submission_id)


def send_render(queue: Queue, submission_id: int, index: int) -> bool:
    """Hand a replay to render to the queue; False if it could not take it now."""
    try:
        queue.render(submission_id, index)
    except Exception:
        log.exception("the replay of submission %s episode %s was not sent", submission_id, index)
        return False
    return True


class InProcessQueue:
    """The embedded queue: a thread pool in the server process, with the same task code."""

    def __init__(self, db: Database, settings: Settings, store: PackageStore):
        self.db, self.settings, self.store = db, settings, store
        self.executor = ThreadPoolExecutor(settings.workers, thread_name_prefix="aigc-eval")
        self.make_sandbox = sandbox_factory(settings)
        warm_up(self.make_sandbox, settings)
        self.timers: list[threading.Timer] = []
        self.running: set[Heartbeat] = set()  # evaluations in progress, to interrupt on close

    def recover(self) -> list[int]:
        """On start, take back what a previous run of this server left behind."""
        reap_stale_folders()  # socket folders and unpacked packages of killed evaluations
        # Embedded, this process is the only worker: whatever ran before it died with it.
        with self.db.session() as session:
            session.execute(
                update(Submission)
                .where(Submission.status == SubmissionStatus.RUNNING)
                .values(
                    status=SubmissionStatus.QUEUED,
                    claim_token=None,
                    lease_expires_at=None,
                    queued_at=now(),
                )
                .execution_options(synchronize_session=False)
            )
        pending = stale_submissions(self.db, timedelta(0))
        for submission_id in pending:
            self.enqueue(submission_id)
        return pending

    def enqueue(self, submission_id: int) -> None:
        self.executor.submit(self._run, submission_id, 1)

    def render(self, submission_id: int, index: int) -> None:
        cache = cache_for(self.settings.storage_dir)
        self.executor.submit(
            render_replay, self.db, cache, submission_id, index, self.store, self.make_sandbox
        )

    def _run(self, submission_id: int, attempt: int) -> None:
        try:
            outcome = run_submission(
                self.db,
                self.settings,
                self.store,
                submission_id,
                self.make_sandbox,
                running=self.running,
            )
        except Exception:
            log.exception("submission %s: the evaluation task failed", submission_id)
            outcome = RETRY
        if outcome == RETRY:
            timer = threading.Timer(
                retry_delay(attempt), self.executor.submit, (self._run, submission_id, attempt + 1)
            )
            timer.daemon = True
            timer.start()
            self.timers.append(timer)

    def close(self) -> None:
        """Stop: evaluations in progress stop within moments and go back to the queue."""
        for timer in self.timers:
            timer.cancel()
        for heartbeat in list(self.running):
            heartbeat.interrupt()
        # Waiting lets each evaluation stop its agent and remove its files.
        self.executor.shutdown(wait=True, cancel_futures=True)
        close_warm_pools()


class CeleryQueue:
    """Sends tasks to the Celery workers through the broker."""

    def __init__(self, app: Celery):
        self.app = app

    def enqueue(self, submission_id: int) -> None:
        self.app.send_task(TASK, args=[submission_id], queue=QUEUE_NAME)

    def render(self, submission_id: int, index: int) -> None:
        self.app.send_task(RENDER_TASK, args=[submission_id, index], queue=QUEUE_NAME)

    def close(self) -> None:
        self.app.close()


def make_celery(settings: Settings) -> Celery:
    """The Celery application: late acks, prefetch 1, a visibility timeout above any evaluation."""
    if not settings.broker_url:
        raise ValueError("no broker: set AIGC_BROKER_URL, e.g. redis://127.0.0.1:6379/0")
    app = Celery("aigc", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=QUEUE_NAME,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": settings.visibility_timeout},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    return app


class WorkerContext:
    """What a worker process needs, made once per process."""

    def __init__(self, settings: Settings):
        reap_stale_folders()  # socket folders and unpacked packages of killed evaluations
        self.settings = settings
        self.db = Database(settings.database_url)
        self.store = PackageStore(settings.storage_dir, settings.archive_limits)
        self.make_sandbox = sandbox_factory(settings)


def register_tasks(app: Celery, settings: Settings) -> None:
    """Define the evaluation task and the stale-work sweep on a worker's Celery app."""
    context: dict[str, WorkerContext] = {}

    def worker_context() -> WorkerContext:
        # Made lazily, in each pool process: connections must not cross a fork.
        if "it" not in context:
            context["it"] = WorkerContext(settings)
        return context["it"]

    @app.task(name=TASK, bind=True)
    def evaluate_submission(self, submission_id: int) -> str:
        ctx = worker_context()
        outcome = run_submission(ctx.db, settings, ctx.store, submission_id, ctx.make_sandbox)
        if outcome == RETRY:
            retries = self.request.retries + 1
            self.apply_async(args=[submission_id], countdown=retry_delay(retries), retries=retries)
        return outcome

    @app.task(name=RENDER_TASK)
    def render_episode(submission_id: int, index: int) -> str:
        ctx = worker_context()
        cache = cache_for(settings.storage_dir)
        return render_replay(ctx.db, cache, submission_id, index, ctx.store, ctx.make_sandbox)

    stop = threading.Event()

    def sweep_forever(period: float) -> None:
        db = Database(settings.database_url)
        while True:
            try:
                # A queued submission older than the visibility timeout has lost its message.
                lost = timedelta(seconds=settings.visibility_timeout)
                for submission_id in stale_submissions(db, lost):
                    log.info("sending submission %s again", submission_id)
                    app.send_task(TASK, args=[submission_id], queue=QUEUE_NAME)
            except Exception:
                log.exception("the sweep for stale submissions failed")
            if stop.wait(period):
                return

    @worker_ready.connect(weak=False)
    def start_sweep(**_: object) -> None:
        thread = threading.Thread(
            target=sweep_forever, args=(settings.lease_seconds,), name="aigc-sweep", daemon=True
        )
        thread.start()

    @worker_shutdown.connect(weak=False)
    def stop_sweep(**_: object) -> None:
        stop.set()

    # The pool's containers belong to the process that evaluates: each pool process.
    @worker_process_init.connect(weak=False)
    def start_pool(**_: object) -> None:
        warm_up(worker_context().make_sandbox, settings)

    @worker_process_shutdown.connect(weak=False)
    def stop_pool(**_: object) -> None:
        close_warm_pools()
