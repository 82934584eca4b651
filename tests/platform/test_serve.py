"""``aigc serve`` and ``aigc worker`` as an operator starts them: real processes, real ports.

The helpers here (:class:`ServerProcess`, :func:`platform_env`, :func:`run_aigc`) are also
what ``test_cli_remote.py`` drives its live server with.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from aigc.platform.settings import SHIPPED_BASELINES
from aigc.submissions.challenge import builtin_challenge_ids

from .conftest import free_port, zip_agent

ORGANIZER_HINT = "aigc admin create-user NAME --organizer"
# A challenge whose agents may take their time: a hanging agent keeps its evaluation running
# (and its pool worker busy) until the test ends it, instead of failing after 1 s.
SLOW_CHALLENGE = """\
id: cli-slow
title: Agents that take their time
environment: {id: CartPole-v1}
phases:
  - {id: dev, visibility: public, episodes: 1, seeds: {first: 0}}
limits: {step_timeout: 10m, episode_timeout: 20m, evaluation_timeout: 30m}
"""


def platform_env(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a platform process: this one's, with only our AIGC_* settings."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AIGC_")}
    env.update(
        AIGC_DATA_DIR=str(data_dir),
        AIGC_DATABASE_URL=database_url,
        # The local sandbox runs each agent as a plain child process: it starts in a fraction
        # of the time a container takes, and every agent these tests submit is our own. The
        # Docker sandbox has its own tests (tests/submissions/test_docker_sandbox.py).
        AIGC_SANDBOX="local",
        AIGC_WORKERS="2",
        # The shipped baselines have their own test below; the others start without them.
        AIGC_BASELINES_DIR="none",
    )
    env.update(extra)
    return env


def run_aigc(
    *args: object, env: dict[str, str], timeout: float = 180
) -> subprocess.CompletedProcess:
    """Run ``python -m aigc ARGS`` to the end and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "aigc", *map(str, args)],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def create_user(env: dict[str, str], name: str, password: str, organizer: bool = False) -> None:
    """Make an account the way an operator does: ``aigc admin create-user``."""
    role = ["--organizer"] if organizer else []
    done = run_aigc("admin", "create-user", name, *role, "--password", password, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"created {'organizer' if organizer else 'participant'} {name}" in done.stdout


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` until it returns something true; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.2)


def child_pids(parent: int) -> list[int]:
    """The processes whose parent is ``parent`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            # pid (comm) state ppid ...: comm may hold spaces, so split after its ')'.
            if int(stat.rpartition(")")[2].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


class ServerProcess:
    """A real ``aigc serve`` on a free port, its output kept in files under ``workdir``."""

    def __init__(self, env: dict[str, str], workdir: Path):
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = workdir / f"serve-{self.port}.out"
        self.stderr_path = workdir / f"serve-{self.port}.err"
        with self.stdout_path.open("w") as out, self.stderr_path.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "aigc", "serve", "--port", str(self.port)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    @property
    def output(self) -> str:
        return f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}"

    def api(self, path: str) -> str:
        return f"{self.url}/api/v1{path}"

    def wait_ready(self, timeout: float = 60) -> ServerProcess:
        """Wait until ``GET /api/v1/challenges`` answers; fail with the output if it exits."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"aigc serve exited with status {self.process.returncode}\n{self.output}"
                )
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.api("/challenges"), timeout=5).status_code == 200:
                    return self
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"aigc serve did not answer in {timeout} s\n{self.output}")
            time.sleep(0.1)

    def agent_pids(self) -> list[int]:
        """The agent runtimes this server runs right now (the local sandbox's children)."""
        return child_pids(self.process.pid)

    def terminate(self) -> int:
        """Stop the server the way a service manager does: SIGTERM, then SIGKILL."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def stop(self) -> str:
        """Terminate the server and any agent it left running; return its output."""
        agents = self.agent_pids() if self.process.poll() is None else []
        self.terminate()
        for pid in agents:
            # Each local agent leads its own process group: end it and what it started.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        return self.output


def sign_in(server: ServerProcess, name: str, password: str) -> dict[str, str]:
    """Authorization headers for a fresh API token."""
    answer = requests.post(
        server.api("/tokens"), json={"username": name, "password": password}, timeout=30
    )
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


@pytest.fixture
def short_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a short path: Unix socket paths in it stay under their 108-byte limit."""
    return tmp_path_factory.mktemp("s")


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
        made = requests.post(
            first.api("/challenges"),
            data=SLOW_CHALLENGE.encode(),
            headers={**sign_in(first, "olga", "olga-password"), "Content-Type": "application/yaml"},
            timeout=60,
        )
        assert made.status_code == 201, made.text
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


@pytest.mark.parametrize(("variable", "value"), [("AIGC_SANDBOX", "podman"), ("AIGC_WORKERS", "0")])
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
        organizer = sign_in(server, "olga", "olga-password")
        made = requests.post(
            server.api("/challenges"),
            data=SLOW_CHALLENGE.encode(),
            headers={**organizer, "Content-Type": "application/yaml"},
            timeout=60,
        )
        assert made.status_code == 201, made.text
        uploaded = requests.post(
            server.api("/submissions"),
            data={"challenge": "cli-slow", "phase": "dev"},
            files={"file": ("hang.zip", zip_agent("hang"))},
            headers=sign_in(server, "pat", "pat-password"),
            timeout=60,
        )
        assert uploaded.status_code == 201, uploaded.text
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
        deadline = time.monotonic() + 120
        rows: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not rows:
            board = requests.get(server.api("/challenges/cliffwalking/leaderboard"), timeout=30)
            rows = board.json()["rows"]
            time.sleep(0.5)
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
