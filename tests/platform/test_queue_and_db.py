"""The in-process queue with real evaluations, and the database schema against the models."""

from __future__ import annotations

import ast
import subprocess
import sys
import tempfile
from datetime import UTC
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text, update

from aigc.platform.db import Database
from aigc.platform.models import Base, Submission, now
from aigc.platform.queue import InProcessQueue, WorkerContext
from aigc.platform.startup import start
from aigc.platform.statuses import ENDED
from aigc.platform.statuses import SubmissionStatus as Status
from tests.waiting import wait_for

from .conftest import Api, zip_agent


def wait_until_done(db: Database, submission_id: int, timeout: float = 120) -> Submission:
    def ended() -> Submission | None:
        with db.session() as session:
            row = session.get_one(Submission, submission_id)
            return row if row.status in ENDED else None

    return wait_for(ended, timeout, f"submission {submission_id} to end", every=0.1)


def test_in_process_queue_evaluates_uploads(settings, db):
    app = start(settings).app  # no broker: the in-process pool
    queue = app.extensions["aigc"].queue
    assert isinstance(queue, InProcessQueue)
    api = Api(app, db)
    alice = api.account("alice")
    ids = [api.upload(alice, zip_agent(name)).json["id"] for name in ("good", "crash_init")]
    good, crashed = (wait_until_done(db, i) for i in ids)
    queue.close()
    assert good.status == Status.FINISHED and crashed.status == "failed"
    response = api.client.get(f"/api/v1/submissions/{ids[0]}", headers=alice.headers)
    assert response.json["result"]["score"] > 100


def test_restarted_server_takes_back_what_was_running(settings, db):
    api = Api(start(settings).app, db)
    api.app.extensions["aigc"].queue.close()  # this "server" dies at once
    alice = api.account("alice")
    submission_id = api.upload(alice, zip_agent("good")).json["id"]
    # As if it had died mid-evaluation: running, under a lease nobody renews.
    with db.session() as session:
        session.execute(
            update(Submission).values(
                status=Status.RUNNING, attempts=1, claim_token="lost", lease_expires_at=now()
            )
        )
    restarted = start(settings)  # the server starting again
    assert restarted.resumed == [submission_id]
    row = wait_until_done(db, submission_id)
    restarted.platform.queue.close()
    assert row.status == Status.FINISHED and row.attempts == 2


def test_recover_sends_queued_submissions_too(settings, db):
    api = Api(start(settings).app, db)
    api.app.extensions["aigc"].queue.close()
    submission_id = api.upload(api.account("bob"), zip_agent("good")).json["id"]
    with db.session() as session:
        assert session.scalar(select(Submission.status)) == Status.QUEUED
    restarted = start(settings)
    assert restarted.resumed == [submission_id]
    assert wait_until_done(db, submission_id).status == Status.FINISHED
    restarted.platform.queue.close()


def folder_of_a_gone_evaluator() -> Path:
    """A socket folder made by a process that has exited without removing it."""
    made = subprocess.run(
        [
            sys.executable,
            "-c",
            "from aigc.submissions.owners import make_temp_folder as m\nprint(m('eval'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(made.stdout.strip())


def test_a_starting_worker_removes_what_gone_evaluators_left(settings, db, tmp_path, monkeypatch):
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("TMPDIR", str(temp))
    api = Api(start(settings).app, db)
    api.app.extensions["aigc"].queue.close()
    left = folder_of_a_gone_evaluator()
    assert left.parent == temp and left.is_dir()
    start(settings).platform.queue.close()  # an embedded server starting
    assert not left.exists()
    left = folder_of_a_gone_evaluator()
    WorkerContext(settings).db.dispose()  # a Celery worker's process starting
    assert not left.exists()


def test_migrations_match_the_models(db):
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    assert db.is_current()


def test_migrating_twice_changes_nothing(db):
    db.migrate()
    assert db.is_current()


def test_timestamps_come_back_in_utc(api):
    api.upload(api.account("carol"), zip_agent("good"))
    with api.db.session() as session:
        created = session.scalar(select(Submission.created_at))
    assert created.tzinfo is not None and created.utcoffset() == UTC.utcoffset(None)


def test_statuses_are_stored_as_their_text_and_load_as_members(api):
    submission_id = api.upload(api.account("carol"), zip_agent("good")).json["id"]
    with api.db.session() as session:
        session.execute(update(Submission).values(status=Status.CANCELLED))
        stored = session.execute(text("SELECT status FROM submission")).scalar_one()
        loaded = session.get_one(Submission, submission_id).status
    assert type(stored) is str and stored == "cancelled"  # what the rows held before the enum
    assert loaded is Status.CANCELLED


class BrokenQueue:
    def enqueue(self, submission_id: int) -> None:
        raise ConnectionError("the broker is down")

    def close(self) -> None:
        pass


def test_upload_succeeds_when_the_queue_is_down(settings, db):
    api = Api(start(settings, queue=BrokenQueue()).app, db)
    response = api.upload(api.account("dora"), zip_agent("good"))
    assert response.status_code == 201
    with db.session() as session:
        assert session.scalar(select(Submission.status)) == Status.QUEUED  # kept for the sweep


def test_only_the_queue_module_calls_enqueue():
    # Everything else hands work over with queue.send, which keeps a row the queue cannot
    # take now for the sweep.
    package = Path(__file__).parents[2] / "aigc"
    callers = [
        f"{path.relative_to(package.parent)}:{node.lineno}"
        for path in sorted(package.rglob("*.py"))
        if path != package / "platform" / "queue.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "enqueue"
    ]
    assert callers == [], f"enqueue called outside aigc/platform/queue.py: {callers}"


def test_upgrading_a_populated_database_keeps_its_data(database_url):
    from alembic import command

    database = Database(database_url)
    config = database.alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO challenge (slug, title, current_version, builtin, created_at, updated_at)"
            " VALUES ('old', 'Old', 1, false, '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00')"
        )
    database.migrate()
    assert database.is_current()
    with database.session() as session:
        from aigc.platform.models import Challenge

        old = session.scalar(select(Challenge))
        assert old.slug == "old" and old.board_version == 0
    database.dispose()


def test_episodes_stored_before_info_values_get_an_empty_mapping(api):
    from alembic import command
    from sqlalchemy import inspect

    from aigc.platform import worker_run as ev
    from aigc.platform.models import EpisodeRow
    from aigc.submissions.results import EpisodeResult, EvaluationResult

    db = api.db
    submission_id = api.upload(api.account("erin"), zip_agent("good")).json["id"]
    values = {"gold": 0.5, "nll": float("nan")}  # JSON has no NaN: it is stored as null
    episodes = [EpisodeResult(0, 1000, 9.0, 9, 0.1, True, False, None, values)]
    result = EvaluationResult("cartpole", "dev", "good", 1, episodes, {"mean_return": 9.0})
    assert ev.record_result(db, ev.claim(db, submission_id, 60, "test"), result)
    with db.session() as session:
        assert session.scalar(select(EpisodeRow.values)) == {"gold": 0.5, "nll": None}
    # Back to the schema before 0003, whose episodes have no values; then up again.
    config = db.alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
        assert "values" not in {c["name"] for c in inspect(connection).get_columns("episode")}
    db.migrate()
    assert db.is_current()
    with db.session() as session:
        row = session.scalar(select(EpisodeRow))
        assert row is not None and row.values == {} and row.total_return == 9.0


def test_a_failure_s_episode_and_step_are_stored_and_migrate_down_and_up(api):
    from alembic import command
    from sqlalchemy import inspect

    from aigc.platform import worker_run as ev
    from aigc.platform.models import EpisodeRow, Submission
    from aigc.submissions.results import EpisodeResult, EvaluationResult, Failure

    db = api.db
    submission_id = api.upload(api.account("erin"), zip_agent("good")).json["id"]
    episodes = [EpisodeResult(0, 1000, 9.0, 9, 0.1, True, False)]
    failure = Failure("agent_error", "raised", 1, 2**62)  # a step beyond 32 bits is capped
    result = EvaluationResult("cartpole", "dev", "good", 3, episodes, {}, failure=failure)
    assert ev.record_result(db, ev.claim(db, submission_id, 60, "test"), result)
    with db.session() as session:
        stored = session.get_one(Submission, submission_id)
        assert (stored.failure_episode, stored.failure_step) == (1, 2**31 - 1)
    config = db.alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0007")
        columns = {c["name"] for c in inspect(connection).get_columns("submission")}
        assert "failure_episode" not in columns and "failure_step" not in columns
    db.migrate()
    assert db.is_current()
    with db.session() as session:
        stored = session.get_one(Submission, submission_id)
        assert stored.failure_code == "agent_error" and stored.failure_episode is None
        assert session.scalar(select(EpisodeRow.total_return)) == 9.0
