"""Starting the platform: what ``aigc serve``, the WSGI entry and the tests all do first.

:func:`start` migrates the database, loads the built-in challenges, makes the sandbox
ready (without a broker; with one, the workers do), builds the app, submits the baseline
packages and, with the in-process pool, takes back what a previous run of the server left
queued or running. Each step says what it did through ``say``, one line at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import select

from aigc.platform import challenges
from aigc.platform.app import create_app
from aigc.platform.baseline_submissions import seed_baselines
from aigc.platform.context import Platform, platform
from aigc.platform.db import Database
from aigc.platform.models import ORGANIZER, User
from aigc.platform.queue import InProcessQueue, Queue, send
from aigc.platform.settings import Settings

Say = Callable[[str], None]
log = logging.getLogger("aigc.startup")


class StartupError(Exception):
    """The platform cannot start; the message names the problem and the fix."""


@dataclass(frozen=True)
class Started:
    """A platform ready to serve, and what starting it did."""

    app: Flask
    platform: Platform
    mode: str  # who evaluates: the in-process pool or Celery workers
    baselines: list[int]  # baseline submissions queued by this start
    resumed: list[int]  # submissions the in-process pool took back (the baselines among them)
    has_organizer: bool


def prepare_database(settings: Settings, say: Say = log.info) -> Database:
    """Migrate the database and load the built-in challenges (one process at a time)."""
    db = Database(settings.database_url)
    with ExitStack() as locked:
        try:
            locked.enter_context(db.startup_lock())
            db.migrate()
        except Exception as exc:
            raise StartupError(
                f"cannot migrate the database at {settings.database_shown} ({exc}): "
                "check AIGC_DATABASE_URL"
            ) from None
        with db.session() as session:
            added = challenges.seed_builtins(session)
    if added:
        say(f"built-in challenges loaded or updated: {', '.join(added)}")
    return db


def check_sandbox(settings: Settings, say: Say = log.info, progress: Say | None = None) -> None:
    """Remove containers of dead evaluators; build the sandbox image now, not in the first
    evaluation (``progress`` gets the build's lines)."""
    if settings.sandbox != "docker":
        say(
            "warning: AIGC_SANDBOX=local: submissions run unsandboxed, with this "
            "server's rights. Use it only for code you trust."
        )
        return
    from aigc.submissions.docker_sandbox import docker_client, reap_stale_containers
    from aigc.submissions.images import ImageError, runtime_image

    client = docker_client()
    if client is None:
        raise StartupError(
            "no Docker engine answers: start Docker (scripts/docker-engine.sh), or set "
            "AIGC_SANDBOX=local to run trusted code unsandboxed"
        )
    removed = reap_stale_containers(client)
    if removed:
        say(f"removed {len(removed)} container(s) left by evaluators that died")
    try:
        runtime_image(client, progress=progress or say)
    except ImageError as exc:
        raise StartupError(str(exc)) from None


def start(
    settings: Settings,
    *,
    queue: Queue | None = None,
    say: Say = log.info,
    progress: Say | None = None,
) -> Started:
    """Prepare everything the platform needs and return its app, ready to serve.

    ``queue`` replaces the one the settings choose (tests record what is sent). Raise
    StartupError when the database or the sandbox cannot be used.
    """
    prepare_database(settings, say).dispose()
    if not settings.broker_url:
        # With a broker, Celery workers evaluate and check their own sandbox: the web
        # server needs no Docker engine.
        check_sandbox(settings, say, progress)
    app = create_app(settings, queue)
    p = platform(app)
    baselines: list[int] = []
    if settings.baselines_dir is not None:
        with p.db.startup_lock(), p.db.session() as session:
            baselines = seed_baselines(session, p.store, settings.baselines_dir)
        if baselines:
            say(f"{len(baselines)} baseline evaluation(s) queued from {settings.baselines_dir}")
    resumed: list[int] = []
    if isinstance(p.queue, InProcessQueue):
        # Everything queued, the new baselines too, is sent from here.
        resumed = p.queue.recover()
        mode = f"in-process worker pool ({settings.workers} at once)"
        if len(resumed) > len(baselines):
            say(f"resuming {len(resumed) - len(baselines)} submission(s) left queued or running")
    else:
        for submission_id in baselines:
            send(p.queue, submission_id)  # one the broker cannot take now, the sweep sends
        mode = "Celery workers via the broker (start them with aigc worker)"
    with p.db.session() as session:
        organizer = session.scalar(select(User.id).where(User.role == ORGANIZER).limit(1))
    return Started(app, p, mode, baselines, resumed, organizer is not None)
