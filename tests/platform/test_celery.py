"""Celery workers as real processes on the real Redis, evaluating in the Docker sandbox.

A worker killed with SIGKILL in the middle of an evaluation must lead, after a restart,
to exactly one finished evaluation; several workers must never score a submission twice;
and the whole path (organizer creates a challenge, participant submits with the CLI,
a worker evaluates in the sandbox, the result is stored) must work.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker.errors
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from aigc.cli import main as aigc_main
from aigc.platform.models import Evaluation, Submission
from aigc.platform.queue import CeleryQueue
from aigc.platform.startup import start
from aigc.submissions.docker_sandbox import (
    OWNER_LABEL,
    POOL_LABEL,
    reap_stale_containers,
)
from tests.containers import of_pids, of_sessions, owned_by
from tests.servers import child_pids
from tests.waiting import wait_for

from .conftest import AGENTS, Api, free_port, zip_agent

pytestmark = pytest.mark.slow
REPO = Path(__file__).parents[2]
LEASE = 4
KILL_CHALLENGE = """
id: kill-cartpole
title: CartPole, 100 steps
environment: {id: CartPole-v1, max_episode_steps: 100}
phases: [{id: dev, episodes: 6, seeds: {first: 0}}]
"""


POOL = {"AIGC_POOL_SIZE": "1"}


@pytest.fixture
def celery_settings(settings, broker_url, docker_sandbox):
    return settings.with_(broker_url=broker_url, sandbox="docker", lease_seconds=LEASE)


def environment(settings) -> dict[str, str]:
    """The AIGC_* variables that make a subprocess use the same platform as the test."""
    return {
        **os.environ,
        "AIGC_DATA_DIR": str(settings.data_dir),
        "AIGC_DATABASE_URL": settings.database_url,
        "AIGC_BROKER_URL": settings.broker_url or "",
        "AIGC_STORAGE_DIR": str(settings.storage_dir),
        "AIGC_SECRET_KEY": settings.secret_key,
        "AIGC_SANDBOX": settings.sandbox,
        "AIGC_BASELINES_DIR": "none",
        "AIGC_LEASE_S": str(settings.lease_seconds),
        "AIGC_MAX_PACKAGE_BYTES": str(settings.max_package_bytes),
        "PYTHONPATH": str(REPO),
    }


class Processes:
    """Starts platform processes and makes sure none outlives the test."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.started: list[subprocess.Popen] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "aigc", *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killing it kills its pool too
        )
        self.started.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    self.kill(process)


@pytest.fixture
def processes(tmp_path: Path, docker_sandbox) -> Iterator[Processes]:
    running = Processes(tmp_path)
    yield running
    sessions = {process.pid for process in running.started}  # each started its own session
    left = of_sessions(docker_sandbox.client, sessions)
    running.stop_all()
    for container in left:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)
    reap_stale_containers(docker_sandbox.client)  # those of the workers the test killed


def row(db, submission_id: int) -> Submission:
    with db.session() as session:
        return session.get_one(Submission, submission_id)


def scored(db, submission_id: int) -> int:
    with db.session() as session:
        query = select(func.count()).select_from(Evaluation)
        return session.scalar(query.where(Evaluation.submission_id == submission_id)) or 0


def test_worker_killed_mid_evaluation_leads_to_exactly_one_result(
    celery_settings, db, processes, docker_sandbox
):
    app = start(celery_settings).app
    assert isinstance(app.extensions["aigc"].queue, CeleryQueue)
    api = Api(app, db)
    orga = api.organizer()
    created = api.client.post(
        "/api/v1/challenges",
        data=KILL_CHALLENGE,
        headers={**orga.headers, "Content-Type": "application/yaml"},
    )
    assert created.status_code == 201, created.json
    submission_id = api.upload(
        api.account("alice"), zip_agent("steady"), challenge="kill-cartpole"
    ).json["id"]

    env = environment(celery_settings)
    first = processes.start("worker-1", ["worker"], env)
    wait_for(lambda: row(db, submission_id).status == "running", 90, "the first worker runs it")
    containers = lambda: of_sessions(docker_sandbox.client, {first.pid})  # noqa: E731
    wait_for(lambda: len(containers()) == 1, 30, "its sandbox container exists")
    [orphan] = containers()  # known while its worker lives: the label names the worker's child
    time.sleep(1.0)  # well inside the evaluation, which lasts several seconds
    processes.kill(first)
    assert row(db, submission_id).status == "running"  # nobody is evaluating it now

    second = processes.start("worker-2", ["worker"], env)
    wait_for(
        lambda: row(db, submission_id).status == "finished", 120, "the second worker finishes it"
    )
    final = row(db, submission_id)
    assert final.attempts == 2
    assert scored(db, submission_id) == 1
    assert final.episodes_done == 6
    # The dead worker's container was removed when the next sandbox started: the second
    # worker's, or that of another evaluator sharing the engine (test_startup checks the
    # worker's own message).
    assert orphan.id not in {c.id for c in docker_sandbox.client.containers.list(all=True)}
    processes.kill(second)


def test_two_workers_score_every_submission_once(celery_settings, db, processes):
    api = Api(start(celery_settings).app, db)
    participants = [api.account(name) for name in ("ann", "ben", "cat")]
    ids = [
        api.upload(who, zip_agent(agent)).json["id"]
        for who in participants
        for agent in ("good", "random")
    ]
    env = environment(celery_settings)
    for name in ("worker-a", "worker-b"):
        processes.start(name, ["worker"], env)
    wait_for(
        lambda: all(row(db, i).status == "finished" for i in ids), 180, "every submission ends"
    )
    assert [scored(db, i) for i in ids] == [1] * len(ids)
    assert [row(db, i).attempts for i in ids] == [1] * len(ids)
    workers = {row(db, i).worker.split(":")[0] for i in ids}
    assert workers == {socket.gethostname()}


def test_full_path_from_cli_to_stored_result(celery_settings, processes, tmp_path):
    """Organizer creates a challenge, a participant submits with the CLI, a worker scores it."""
    env = environment(celery_settings)
    port = free_port()
    server = f"http://127.0.0.1:{port}"
    processes.start("server", ["serve", "--port", str(port)], env)
    wait_for(lambda: _answers(server), 60, "the server answers")
    for name, flag in (("orga", ["--organizer"]), ("pat", [])):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "aigc",
                "admin",
                "create-user",
                name,
                *flag,
                "--password",
                f"{name}-password",
            ],
            env=env,
            check=True,
            capture_output=True,
        )
    processes.start("worker", ["worker"], env)

    cli = CliRunner()

    def aigc(*args: str, config: str) -> str:
        result = cli.invoke(aigc_main, list(args), env={"AIGC_CONFIG": str(tmp_path / config)})
        assert result.exit_code == 0, result.output
        return result.output

    spec = tmp_path / "course.yaml"
    spec.write_text(KILL_CHALLENGE.replace("kill-cartpole", "course-cartpole"))
    aigc("login", "--server", server, "-u", "orga", "--password", "orga-password", config="o.json")
    assert "created challenge course-cartpole" in aigc(
        "challenge", "create", str(spec), config="o.json"
    )
    aigc("login", "--server", server, "-u", "pat", "--password", "pat-password", config="p.json")
    output = aigc(
        "submit", str(AGENTS / "good"), "--challenge", "course-cartpole", "--wait", config="p.json"
    )
    assert "finished" in output and "mean_return 100" in output

    from aigc.platform.db import Database

    db = Database(celery_settings.database_url)
    with db.session() as session:
        submission = session.scalar(select(Submission))
        assert submission.status == "finished" and submission.worker is not None
        assert submission.evaluation is not None and submission.evaluation.score == 100.0
        assert len(submission.evaluation.episodes) == 6
    db.dispose()


def _answers(server: str) -> bool:
    import requests

    try:
        return requests.get(f"{server}/api/v1/challenges", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_a_worker_with_a_warm_pool_scores_from_it_and_removes_it_when_stopped(
    celery_settings, db, processes, docker_sandbox
):
    api = Api(start(celery_settings).app, db)
    who = api.account("ann")
    worker = processes.start("worker", ["worker"], {**environment(celery_settings), **POOL})
    client = docker_sandbox.client

    def warm() -> list:
        """The warm containers of the worker's pool process (the one that evaluates)."""
        return of_pids(client, set(child_pids(worker.pid)), POOL_LABEL)

    # One for agents that declare torch, one for the others.
    waiting = wait_for(lambda: len(warm()) == 2 and warm(), 120, "its warm containers")
    owners = {c.labels[OWNER_LABEL] for c in waiting}
    # The first evaluation's limits are not the default ones: it starts cold, and from then
    # on the pool keeps containers of its limits warm too; the second starts in one.
    first = api.upload(who, zip_agent("good")).json["id"]
    wait_for(lambda: row(db, first).status == "finished", 180, "the first is scored")
    wait_for(lambda: len(warm()) == 3, 120, "a warm container of its limits")
    second = api.upload(who, zip_agent("random")).json["id"]
    wait_for(lambda: row(db, second).status == "finished", 180, "the second is scored")
    assert [scored(db, i) for i in (first, second)] == [1, 1]
    served = re.findall(r"an agent starts in warm container (\w+)", processes.log("worker"))
    assert len(served) == 1, processes.log("worker")
    # The container that served it is gone; another of its limits takes its place.
    wait_for(lambda: all(not c.id.startswith(served[0]) for c in warm()), 60, "its removal")

    worker.send_signal(signal.SIGTERM)  # a warm shutdown, as a service manager stops it
    worker.wait(60)
    assert [c for owner in owners for c in owned_by(client, owner, POOL_LABEL)] == []
