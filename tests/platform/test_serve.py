"""``aigc serve`` and ``aigc worker`` as an operator starts them: real processes, real ports.

The servers are started with the helpers of :mod:`tests.servers`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from pathlib import Path

import pytest
import requests

from aigc.platform.settings import SHIPPED_BASELINES
from aigc.submissions.challenge import builtin_challenge_ids
from aigc.submissions.docker_sandbox import POOL_LABEL
from tests.containers import of_pids
from tests.servers import (
    SLOW_CHALLENGE,
    ServerProcess,
    alive,
    create_user,
    platform_env,
    run_aigc,
    sign_in,
)
from tests.waiting import wait_for

from .conftest import free_port, zip_agent

# Real server processes on free ports: each test takes seconds.
pytestmark = pytest.mark.slow

ORGANIZER_HINT = "aigc admin create-user NAME --organizer"


def _create_slow_challenge(server: ServerProcess) -> None:
    """olga (an organizer) creates the slow test challenge, ``cli-slow``, on ``server``."""
    made = requests.post(
        server.api("/challenges"),
        data=SLOW_CHALLENGE.encode(),
        headers={**sign_in(server, "olga", "olga-password"), "Content-Type": "application/yaml"},
        timeout=60,
    )
    assert made.status_code == 201, made.text


def _upload_to_slow_challenge(server: ServerProcess, agent: str, headers: dict[str, str]) -> int:
    """Upload the test agent ``agent`` to ``cli-slow``'s dev phase; its submission id."""
    uploaded = requests.post(
        server.api("/submissions"),
        data={"challenge": "cli-slow", "phase": "dev"},
        files={"file": (f"{agent}.zip", zip_agent(agent))},
        headers=headers,
        timeout=60,
    )
    assert uploaded.status_code == 201, uploaded.text
    return int(uploaded.json()["id"])


def test_first_start_migrates_seeds_and_a_restart_keeps_everything(
    database_url: str, tmp_path: Path, short_tmp: Path
) -> None:
    env = platform_env(tmp_path / "data", database_url, TMPDIR=str(short_tmp))

    first = ServerProcess(env, tmp_path / "first").wait_ready()
    try:
        assert "Running upgrade" in first.stderr  # the migration ran
        builtins = builtin_challenge_ids()
        assert f"built-in challenges loaded or updated: {', '.join(builtins)}" in first.stderr
        assert f"AIGC on {first.url}/" in first.stdout and "in-process worker pool" in first.stdout
        assert ORGANIZER_HINT in first.stdout
        listed = requests.get(first.api("/challenges"), timeout=30).json()["challenges"]
        assert sorted(c["id"] for c in listed) == builtins and len(builtins) == 8

        # Accounts made while it runs, and a challenge of the organizer's own.
        create_user(env, "pat", "pat-password")
        create_user(env, "olga", "olga-password", organizer=True)
        _create_slow_challenge(first)
    finally:
        first.stop()

    second = ServerProcess(env, tmp_path / "second").wait_ready()
    try:
        # An organizer exists now: no hint; the built-ins are current: nothing to load.
        assert ORGANIZER_HINT not in second.stdout, second.output
        assert f"AIGC on {second.url}/" in second.stdout
        assert "built-in challenges loaded" not in second.stderr
        listed = requests.get(second.api("/challenges"), timeout=30).json()["challenges"]
        ids = [c["id"] for c in listed]
        assert sorted(ids) == sorted([*builtins, "cli-slow"])  # each once, none lost
        assert all(c["version"] == 1 for c in listed)
        me = requests.get(
            second.api("/me"), headers=sign_in(second, "pat", "pat-password"), timeout=30
        )
        assert me.json()["username"] == "pat" and me.json()["role"] == "participant"
    finally:
        second.stop()


def test_a_participant_account_does_not_silence_the_organizer_hint(
    tmp_path: Path, short_tmp: Path
) -> None:
    env = platform_env(
        tmp_path / "data", f"sqlite:///{tmp_path / 'aigc.db'}", TMPDIR=str(short_tmp)
    )
    create_user(env, "pat", "pat-password")  # migrates the database too
    server = ServerProcess(env, tmp_path).wait_ready()
    try:
        assert ORGANIZER_HINT in server.stdout
        assert "built-in challenges loaded" not in server.stderr  # create-user loaded them
    finally:
        server.stop()


def test_worker_without_a_broker_names_the_variable(tmp_path: Path) -> None:
    env = platform_env(tmp_path / "data", f"sqlite:///{tmp_path / 'aigc.db'}")
    done = run_aigc("worker", env=env, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "AIGC_BROKER_URL" in done.stderr
    assert "Traceback" not in done.stderr


def test_worker_on_a_database_never_migrated_says_how_to_migrate(tmp_path: Path) -> None:
    env = platform_env(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'never-migrated.db'}",
        AIGC_BROKER_URL="redis://127.0.0.1:6379/15",
    )
    done = run_aigc("worker", env=env, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not migrated" in done.stderr
    assert "aigc serve" in done.stderr and "aigc admin migrate" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [("AIGC_SANDBOX", "podman"), ("AIGC_WORKERS", "0"), ("AIGC_POOL_SIZE", "-1")],
)
def test_serve_refuses_an_invalid_setting_naming_it(
    tmp_path: Path, variable: str, value: str
) -> None:
    env = platform_env(tmp_path / "data", f"sqlite:///{tmp_path / 'aigc.db'}", **{variable: value})
    done = run_aigc("serve", "--port", free_port(), env=env, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert variable in done.stderr and repr(value)[1:-1] in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "aigc.db").exists()  # refused before touching the database


def test_serve_names_the_database_setting_when_it_cannot_connect(tmp_path: Path) -> None:
    unreachable = f"postgresql+psycopg://root@127.0.0.1:{free_port()}/nowhere"
    env = platform_env(tmp_path / "data", unreachable)
    done = run_aigc("serve", "--port", free_port(), env=env, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "cannot migrate the database" in done.stderr and "AIGC_DATABASE_URL" in done.stderr


def test_stopping_the_server_ends_the_agents_it_runs(tmp_path: Path, short_tmp: Path) -> None:
    env = platform_env(
        tmp_path / "data", f"sqlite:///{tmp_path / 'aigc.db'}", TMPDIR=str(short_tmp)
    )
    create_user(env, "olga", "olga-password", organizer=True)
    create_user(env, "pat", "pat-password")
    server = ServerProcess(env, tmp_path).wait_ready()
    orphans: list[int] = []
    try:
        _create_slow_challenge(server)
        _upload_to_slow_challenge(server, "hang", sign_in(server, "pat", "pat-password"))
        orphans = wait_for(server.agent_pids, 60, "the hanging agent to start")

        server.terminate()  # however the server ends, its agents must end with it
        with contextlib.suppress(AssertionError):
            wait_for(lambda: not any(alive(pid) for pid in orphans), 5, "the agents to end")
        still_running = [pid for pid in orphans if alive(pid)]
        assert still_running == [], f"agents left running after SIGTERM: {still_running}"
    finally:
        server.stop()
        for pid in orphans:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def test_the_shipped_baselines_are_scored_onto_the_boards(tmp_path: Path, short_tmp: Path) -> None:
    # One of the trained baselines that ship with the platform, as AIGC_BASELINES_DIR holds them.
    baselines = tmp_path / "baselines"
    shutil.copytree(SHIPPED_BASELINES / "cliffwalking", baselines / "cliffwalking")
    env = platform_env(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'aigc.db'}",
        TMPDIR=str(short_tmp),
        AIGC_BASELINES_DIR=str(baselines),
    )
    server = ServerProcess(env, tmp_path).wait_ready()
    try:
        assert "2 baseline evaluation(s) queued" in server.stderr, server.output
        board = server.api("/challenges/cliffwalking/leaderboard")
        rows = wait_for(
            lambda: requests.get(board, timeout=30).json()["rows"], 120, "the baseline's row"
        )
        assert [(r["rank"], r["name"], r["baseline"], r["score"]) for r in rows] == [
            (None, "qlearning", True, -13.0)  # the optimum: the shortest path around the cliff
        ], server.output
    finally:
        server.stop()
    again = ServerProcess(env, tmp_path / "again").wait_ready()
    try:
        assert "baseline evaluation(s) queued" not in again.stderr  # submitted once only
    finally:
        again.stop()


def test_serve_with_a_warm_pool_scores_from_it_and_removes_it_when_stopped(
    tmp_path: Path, short_tmp: Path, docker_sandbox
) -> None:
    env = platform_env(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'aigc.db'}",
        TMPDIR=str(short_tmp),
        AIGC_SANDBOX="docker",
        AIGC_POOL_SIZE="1",
    )
    create_user(env, "olga", "olga-password", organizer=True)
    create_user(env, "pat", "pat-password")
    server = ServerProcess(env, tmp_path).wait_ready()
    client = docker_sandbox.client

    def warm() -> list:
        return of_pids(client, {server.process.pid}, POOL_LABEL)  # only this server's

    try:
        # One for agents that declare torch, one for the others.
        waiting = wait_for(lambda: len(warm()) == 2 and warm(), 120, "its warm containers")
        _create_slow_challenge(server)
        participant = sign_in(server, "pat", "pat-password")
        submitted = _upload_to_slow_challenge(server, "good", participant)
        url = server.api(f"/submissions/{submitted}")

        def finished() -> dict | None:
            shown = requests.get(url, headers=participant, timeout=30).json()
            return shown if shown["status"] in ("finished", "failed") else None

        shown = wait_for(finished, 120, "the evaluation")
        assert shown["status"] == "finished", shown
        # One of the waiting containers served it and is gone; another waits in its place.
        before = {c.id for c in waiting}
        wait_for(lambda: before - {c.id for c in warm()}, 120, "the served one's removal")
        wait_for(lambda: len(warm()) == 2, 120, "its replacement")
        server.terminate()
        assert warm() == [], "the server left its warm containers"
    finally:
        server.stop()
        for container in warm():
            with contextlib.suppress(Exception):
                container.remove(force=True)
