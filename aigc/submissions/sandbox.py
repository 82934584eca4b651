"""Sandboxes: where the agent runtime runs, and how the evaluator starts and stops it.

The evaluator owns a listening Unix socket in a fresh folder and asks a :class:`Sandbox`
to start the agent runtime with that folder and the package. The sandbox returns an
:class:`AgentProcess` that the evaluator polls, reads logs from and stops. Every sandbox
plugs into the same evaluator; they differ only in isolation.

:class:`LocalSandbox` runs the runtime as a plain child process of the evaluator. It is
for trusted development on a participant's own machine only: the agent's code runs with
the user's rights, unsandboxed.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import cast

import aigc
from aigc.submissions.agent_output import LogBuffer
from aigc.submissions.challenge import Limits
from aigc.submissions.owners import make_temp_folder, reap_stale_folders

SOCKET_NAME = "agent.sock"


class SandboxError(RuntimeError):
    """The sandbox itself could not start the agent (a platform problem, not the agent's)."""


def pump(stream: io.BufferedReader, buffer: LogBuffer, name: str = "out") -> threading.Thread:
    """Copy a pipe into a buffer as the stream ``name`` on a daemon thread until it closes."""

    def run() -> None:
        with stream:
            for chunk in iter(lambda: stream.read1(65536), b""):
                buffer.write(chunk, name)

    thread = threading.Thread(target=run, name=f"agent-{name}", daemon=True)
    thread.start()
    return thread


class AgentProcess(ABC):
    """A running agent runtime."""

    @abstractmethod
    def poll(self) -> int | None:
        """Return the exit status if the agent has ended, else None."""

    @abstractmethod
    def exit_reason(self) -> str:
        """Describe how the agent ended, e.g. 'exited with status 1'."""

    @abstractmethod
    def logs(self) -> str:
        """Return the agent's output so far, lines marked with their stream (see agent_output)."""

    @abstractmethod
    def stop(self, grace: float = 2.0) -> None:
        """End the agent: ask, wait up to ``grace`` seconds, then kill; release everything."""

    def wait(self, seconds: float) -> int | None:
        """Wait up to ``seconds`` for the process to end on its own; its status, or None."""
        end = time.monotonic() + seconds
        pause = 0.002  # a process that was told to exit is usually gone within milliseconds
        while (status := self.poll()) is None and time.monotonic() < end:
            time.sleep(pause)
            pause = min(2 * pause, 0.02)
        return status


class Sandbox(ABC):
    """Starts agent runtimes."""

    name: str = "sandbox"
    isolated: bool = True

    @abstractmethod
    def start(self, package_dir: Path, socket_dir: Path, limits: Limits) -> AgentProcess:
        """Start the runtime for ``package_dir``, connecting to ``socket_dir/agent.sock``."""

    def start_environment(self, bundle_dir: Path, socket_dir: Path, limits: Limits) -> AgentProcess:
        """Start the environment runtime for a challenge bundle, with an agent's isolation."""
        raise SandboxError(f"the {self.name} sandbox cannot run an organizer's environment")

    def for_runtime(
        self,
        wheelhouse_sha256: str | None,
        open_wheelhouse: Callable[[], AbstractContextManager[Path]],
    ) -> Sandbox:
        """This sandbox with a challenge's runtime packages (its wheelhouse, by sha256).

        Here, by default, they must be installed in this Python already; a sandbox with an
        image of its own runs the image derived for that wheelhouse.
        """
        return self


def describe_status(status: int) -> str:
    """Describe a process exit status the way a participant reads it."""
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        killed = " (often: out of memory)" if name == "SIGKILL" else ""
        return f"was killed by {name}{killed}"
    return f"exited with status {status}"


class LocalProcess(AgentProcess):
    def __init__(self, popen: subprocess.Popen[bytes], home: Path):
        self.popen = popen
        self.home = home
        self.buffer = LogBuffer()
        assert popen.stdout is not None and popen.stderr is not None
        # One reader per stream: each line goes into the buffer as it arrives, marked.
        self.readers = [
            pump(cast(io.BufferedReader, popen.stdout), self.buffer, "out"),
            pump(cast(io.BufferedReader, popen.stderr), self.buffer, "err"),
        ]

    def poll(self) -> int | None:
        return self.popen.poll()

    def exit_reason(self) -> str:
        status = self.popen.poll()
        return "is still running" if status is None else describe_status(status)

    def logs(self) -> str:
        return self.buffer.text()

    def stop(self, grace: float = 2.0) -> None:
        if self.popen.poll() is None:
            self._signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(grace)
        # The whole process group: children the agent started go too.
        self._signal(signal.SIGKILL)
        self.popen.wait()
        for reader in self.readers:
            reader.join(timeout=1.0)
        shutil.rmtree(self.home, ignore_errors=True)

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)


class LocalSandbox(Sandbox):
    """Runs the agent as a child process with the user's rights: no isolation at all."""

    name = "local"
    isolated = False

    def __init__(self) -> None:
        reap_stale_folders()  # what killed evaluators left in the temp folder

    def start(self, package_dir: Path, socket_dir: Path, limits: Limits) -> AgentProcess:
        return self._spawn(
            ["-m", "aigc.submissions.agent_runtime", "--package", str(package_dir.resolve())],
            socket_dir,
            limits,
            "agent",
        )

    def start_environment(self, bundle_dir: Path, socket_dir: Path, limits: Limits) -> AgentProcess:
        return self._spawn(
            ["-m", "aigc.submissions.environment_runtime", "--bundle", str(bundle_dir.resolve())],
            socket_dir,
            limits,
            "environment",
        )

    def _spawn(
        self, arguments: list[str], socket_dir: Path, limits: Limits, what: str
    ) -> AgentProcess:
        home = make_temp_folder("agent-home")
        threads = str(max(1, int(limits.cpus)))
        env = {
            # A clean environment: no secrets of the evaluator's leak into the agent.
            "PATH": os.defpath,
            "HOME": str(home),
            "TMPDIR": str(home),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(Path(aigc.__file__).resolve().parent.parent),
            "PYTHONHASHSEED": "0",
            "PYTHONSAFEPATH": "1",  # the package folder must not shadow the runtime's imports
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
        }
        command = [sys.executable, *arguments, "--socket", str(socket_dir / SOCKET_NAME)]
        try:
            popen = subprocess.Popen(
                command,
                cwd=str(home),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise SandboxError(f"cannot start the {what} runtime: {exc}") from exc
        return LocalProcess(popen, home)
