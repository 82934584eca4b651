"""``aigc serve``, ``aigc worker`` and ``aigc admin``: running the platform."""

from __future__ import annotations

import getpass
import logging
import signal
import socket
from typing import TYPE_CHECKING

import click

from aigc.cli.console import err, fail, out, show_progress, shown
from aigc.extras import MissingExtra, require

if TYPE_CHECKING:
    from aigc.platform.db import Database
    from aigc.platform.settings import Settings

# The platform's modules load Flask, SQLAlchemy and Celery: each command imports what it
# needs when it runs, so that `aigc --help` and the agents' commands stay quick.


def _settings() -> Settings:
    """Check that the platform is installed, then read the AIGC_* settings."""
    try:
        require("platform", click.get_current_context().command_path)
    except MissingExtra as exc:
        raise fail(str(exc)) from None
    from aigc.platform.settings import Settings, SettingsError

    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise fail(str(exc)) from None


def _say(line: str) -> None:
    err.print(shown(line))


def _prepare(settings: Settings) -> Database:
    """Migrate the database and load the built-in challenges."""
    from aigc.platform.startup import StartupError, prepare_database

    try:
        return prepare_database(settings, _say)
    except StartupError as exc:
        raise fail(str(exc)) from None


def _sandbox_ready(settings: Settings) -> None:
    """Remove containers of dead evaluators; build the sandbox image now."""
    from aigc.platform.startup import StartupError, check_sandbox

    try:
        check_sandbox(settings, _say, show_progress)
    except StartupError as exc:
        raise fail(str(exc)) from None


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, help="Threads answering requests.")
def serve(host: str, port: int, threads: int) -> None:
    """Run the platform: web API and, without a broker, the evaluation workers too."""
    settings = _settings()
    import waitress

    from aigc.platform.startup import StartupError, start

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        started = start(settings, say=_say, progress=show_progress)
    except StartupError as exc:
        raise fail(str(exc)) from None
    queue = started.platform.queue
    out.print(f"AIGC on http://{host}:{port}/ — database {settings.database_shown}, {started.mode}")
    if not started.has_organizer:
        out.print(
            "No organizer account yet: create one with "
            "[bold]aigc admin create-user NAME --organizer[/] (same AIGC_* settings)."
        )

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # ends waitress; the evaluations are put back below

    signal.signal(signal.SIGTERM, stop)
    try:
        waitress.serve(started.app, host=host, port=port, threads=threads, ident="aigc")
    except KeyboardInterrupt:
        pass
    finally:
        err.print("stopping: evaluations in progress go back to the queue")
        queue.close()


@click.command()
@click.option("--concurrency", default=1, show_default=True, help="Evaluations at once.")
def worker(concurrency: int) -> None:
    """Run a Celery worker that evaluates submissions from the broker (AIGC_BROKER_URL)."""
    settings = _settings()
    from aigc.platform.db import Database
    from aigc.platform.queue import QUEUE_NAME, make_celery, register_tasks

    if not settings.broker_url:
        raise fail("no broker: set AIGC_BROKER_URL, e.g. redis://127.0.0.1:6379/0")
    db = Database(settings.database_url)
    if not db.is_current():
        raise fail("the database is not migrated: start aigc serve (or aigc admin migrate) first")
    db.dispose()
    _sandbox_ready(settings)
    app = make_celery(settings)
    register_tasks(app, settings)
    app.worker_main(
        [
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            f"--queues={QUEUE_NAME}",
            f"--hostname=aigc@{socket.gethostname()}",
            "--without-gossip",
            "--without-mingle",
        ]
    )


@click.group()
def admin() -> None:
    """Administer the platform's database directly (uses the AIGC_* settings)."""


def _admin_database() -> Database:
    """The database of the AIGC_* settings, migrated; say which it is before anything else."""
    import os

    settings = _settings()
    where = "" if os.environ.get("AIGC_DATABASE_URL") else " (AIGC_DATABASE_URL is not set)"
    out.print(f"database {shown(settings.database_shown)}{where}")
    return _prepare(settings)


@admin.command("migrate")
def admin_migrate() -> None:
    """Bring the database schema up to date and load the built-in challenges."""
    _admin_database()
    out.print("the database is up to date")


@admin.command("create-user")
@click.argument("username")
@click.option("--organizer", is_flag=True, help="Give the account the organizer role.")
@click.option("--password", help="The password (asked for when left out).")
def admin_create_user(username: str, organizer: bool, password: str | None) -> None:
    """Create an account (participant by default)."""
    db = _admin_database()
    from aigc.platform import auth
    from aigc.platform.models import ORGANIZER, PARTICIPANT

    if password is None:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise fail("the passwords differ: try again")
    role = ORGANIZER if organizer else PARTICIPANT
    with db.session() as session:
        try:
            auth.create_user(session, username, password, role)
        except auth.AuthError as exc:
            raise fail(str(exc)) from None
    out.print(f"created {role} {username}: sign in with aigc login")


def _set_role(username: str, organizer: bool) -> None:
    from sqlalchemy import select

    from aigc.platform.models import BASELINE_USER, ORGANIZER, PARTICIPANT, User

    db = _admin_database()
    role = ORGANIZER if organizer else PARTICIPANT
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None or username == BASELINE_USER:
            raise fail(
                f"there is no account {username!r} here: "
                f"aigc admin create-user {username} creates one"
            )
        if user.role == role:
            out.print(f"{shown(username)} is {'an' if organizer else 'a'} {role} already")
            return
        user.role = role
    out.print(f"{shown(username)} is {'an' if organizer else 'a'} {role} now")


@admin.command("promote")
@click.argument("username")
@click.option("--demote", is_flag=True, help="Make an organizer a participant instead.")
def admin_promote(username: str, demote: bool) -> None:
    """Make an existing account an organizer (or, with --demote, a participant)."""
    _set_role(username, organizer=not demote)


@admin.command("demote")
@click.argument("username")
def admin_demote(username: str) -> None:
    """Make an organizer's account a participant's."""
    _set_role(username, organizer=False)
