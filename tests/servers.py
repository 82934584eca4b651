"""Real platform processes for tests: ``aigc serve``, a WSGI server, ``aigc`` commands.

:class:`ServerProcess` starts a server with :func:`platform_env`'s settings and waits until
it answers (``aigc serve`` by default, or a WSGI server on ``aigc.platform.wsgi:app``);
:func:`run_aigc` runs one command to the end. The tests of ``aigc serve``, the WSGI entry,
``aigc worker`` and the participant's commands drive their servers with these.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import requests

from tests.waiting import wait_for


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


def aigc_serve(port: int) -> list[str]:
    """The command of ``aigc serve`` on this port."""
    return [sys.executable, "-m", "aigc", "serve", "--port", str(port)]


def waitress_wsgi(port: int) -> list[str]:
    """The command of waitress serving ``aigc.platform.wsgi:app`` on this port."""
    return [
        sys.executable,
        "-m",
        "waitress",
        f"--listen=127.0.0.1:{port}",
        "--threads=4",
        "aigc.platform.wsgi:app",
    ]


class ServerProcess:
    """A real platform server on a free port, its output kept in files under ``workdir``."""

    def __init__(
        self,
        env: dict[str, str],
        workdir: Path,
        command: Callable[[int], list[str]] = aigc_serve,
    ):
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = workdir / f"serve-{self.port}.out"
        self.stderr_path = workdir / f"serve-{self.port}.err"
        with self.stdout_path.open("w") as out, self.stderr_path.open("w") as err:
            self.process = subprocess.Popen(
                command(self.port),
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

        def answering() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the server exited with status {self.process.returncode}\n{self.output}"
                )
            with contextlib.suppress(requests.RequestException):
                return requests.get(self.api("/challenges"), timeout=5).status_code == 200
            return False

        try:
            wait_for(answering, timeout, "the server to answer", every=0.1)
        except AssertionError as failed:
            self.stop()
            raise AssertionError(f"{failed}\n{self.output}") from None
        return self

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
