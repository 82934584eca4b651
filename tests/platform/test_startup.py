"""Start-up as ``aigc serve``, the WSGI entry and these tests share it: aigc.platform.startup."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import docker.errors
import pytest
from sqlalchemy import func, select

from aigc.platform.db import Database
from aigc.platform.models import Challenge, Submission
from aigc.platform.settings import Settings
from aigc.platform.startup import StartupError, check_sandbox, start
from aigc.platform.statuses import SubmissionStatus
from aigc.submissions.challenge import builtin_challenge_ids
from aigc.submissions.docker_sandbox import LABEL, OWNER_LABEL
from tests.servers import free_port, platform_env

from .conftest import AGENTS, RecordingQueue


def baselines(tmp_path: Path) -> Path:
    """A baselines folder holding one package for cartpole."""
    package = tmp_path / "baselines" / "cartpole" / "heuristic"
    shutil.copytree(AGENTS / "good", package)
    (package / "aigc.toml").write_text('name = "heuristic"\nentry_point = "agent:Agent"\n')
    return tmp_path / "baselines"


def test_start_prepares_a_new_database_and_a_restart_repeats_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    settings = settings.with_(baselines_dir=baselines(tmp_path))
    said: list[str] = []
    queue = RecordingQueue()
    first = start(settings, queue=queue, say=said.append)
    builtins = builtin_challenge_ids()
    assert f"built-in challenges loaded or updated: {', '.join(builtins)}" in said
    assert any(line.startswith("warning: AIGC_SANDBOX=local") for line in said)
    assert f"2 baseline evaluation(s) queued from {settings.baselines_dir}" in said
    assert queue.enqueued == first.baselines and len(first.baselines) == 2  # dev and test
    assert not first.has_organizer
    listed = first.app.test_client().get("/api/v1/challenges").json["challenges"]
    assert sorted(c["id"] for c in listed) == builtins

    said.clear()
    again = start(settings, queue=RecordingQueue(), say=said.append)
    assert again.baselines == [] and again.resumed == []
    assert not any("built-in" in line or "baseline" in line for line in said), said


def test_baselines_the_queue_cannot_take_yet_stay_queued_and_start_goes_on(
    settings: Settings, tmp_path: Path
) -> None:
    class Down(RecordingQueue):
        def enqueue(self, submission_id: int) -> None:
            raise ConnectionError("the broker does not answer")

    started = start(settings.with_(baselines_dir=baselines(tmp_path)), queue=Down())
    assert len(started.baselines) == 2
    with started.platform.db.session() as session:
        found = session.scalars(
            select(Submission.status).where(Submission.id.in_(started.baselines))
        ).all()
    assert found == [SubmissionStatus.QUEUED] * 2  # the workers' sweep sends them later


def test_start_names_the_database_setting_when_it_cannot_migrate(settings: Settings) -> None:
    unreachable = f"postgresql+psycopg://root@127.0.0.1:{free_port()}/nowhere"
    with pytest.raises(StartupError, match="cannot migrate the database") as refused:
        start(settings.with_(database_url=unreachable), queue=RecordingQueue())
    assert "AIGC_DATABASE_URL" in str(refused.value)


def test_only_a_server_that_evaluates_needs_a_docker_engine(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    docker = settings.with_(sandbox="docker")
    with pytest.raises(StartupError, match="no Docker engine answers"):
        start(docker, queue=RecordingQueue())  # the in-process pool would run the agents here
    # With a broker, the workers evaluate (and check their engine): the web server starts.
    brokered = docker.with_(broker_url="redis://127.0.0.1:6379/0")
    assert start(brokered, queue=RecordingQueue()).app is not None


def test_a_starting_worker_removes_dead_evaluators_containers_and_says_so(
    settings: Settings, docker_sandbox
) -> None:
    dead_owner = f"{socket.gethostname()}:999999:1"  # no such process
    left = docker_sandbox.client.containers.create(
        docker_sandbox.image, labels={LABEL: "1", OWNER_LABEL: dead_owner}
    )
    said: list[str] = []
    try:
        check_sandbox(settings.with_(sandbox="docker"), say=said.append)
        with pytest.raises(docker.errors.NotFound):
            left.reload()
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            left.remove(force=True)
    # Another evaluator on the engine may have removed it first; then this one had none.
    assert any("left by evaluators that died" in line for line in said) or not said


# A server process's start-up, with a queue that keeps nothing: evaluating is not the point.
START = """
from aigc.platform.settings import Settings
from aigc.platform.statuses import SubmissionStatus
from aigc.platform.startup import start

class Kept:
    def enqueue(self, submission_id): pass
    def close(self): pass

start(Settings.from_env(), queue=Kept())
"""


@pytest.mark.slow
def test_servers_starting_at_once_prepare_the_database_once(
    database_url: str, tmp_path: Path
) -> None:
    # As the worker processes of one WSGI server, or servers on several hosts, start.
    env = platform_env(tmp_path / "data", database_url, AIGC_BASELINES_DIR=str(baselines(tmp_path)))
    starting = [
        subprocess.Popen([sys.executable, "-c", START], env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [process.communicate(timeout=300)[1] for process in starting]
    assert [process.returncode for process in starting] == [0] * 4, "\n".join(errors)
    db = Database(database_url)
    with db.session() as session:
        slugs = sorted(session.scalars(select(Challenge.slug)))
        submitted = session.scalar(select(func.count()).select_from(Submission))
    db.dispose()
    assert slugs == builtin_challenge_ids()  # each once
    assert submitted == 2  # the baseline, once on each phase
