"""Hostile agents against the real Docker sandbox: every attack fails, the host is untouched.

Each test evaluates one attack in a real container and checks that the evaluation returned
with the expected failure and a message a participant can act on, that no container is
left behind (an autouse fixture, after every test) and, where the attack aims at the host,
that the host shows no trace of it. Agents that try to get out report what they tried:
``BLOCKED: ...`` when every attempt failed, ``ESCAPED: ...`` when one worked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import subprocess
import tarfile
import threading
import zipfile
from pathlib import Path

import docker.errors
import pytest

from aigc.submissions import results as r
from aigc.submissions.challenge import get_challenge
from aigc.submissions.docker_sandbox import LABEL, OWNER_LABEL, POOL_LABEL, DockerSandbox
from aigc.submissions.evaluator import evaluate
from aigc.submissions.package import PackageError, open_package
from aigc.submissions.protocol import DEFAULT_MAX_FRAME_BYTES
from aigc.submissions.results import EvaluationResult
from tests.waiting import wait_for

from .conftest import (
    HOST_SERVICES,
    PeakMemory,
    agent,
    hostile,
    loopback_answers,
    make_challenge,
    within,
)

pytestmark = [pytest.mark.slow, pytest.mark.hostile, pytest.mark.usefixtures("docker_sandbox")]

PROBE_STEP = "10s"  # probes answer at once by raising; this only bounds a stuck probe


def our_containers(sandbox: DockerSandbox) -> list[str]:
    """The ids of this session's sandbox containers (other sessions may share the engine),
    warm ones that serve or served an evaluation too, but not those waiting in the pool."""
    found = [
        c["Id"]
        for label in (LABEL, POOL_LABEL)
        for c in sandbox.client.api.containers(
            all=True, filters={"label": [label, f"{OWNER_LABEL}={sandbox.owner}"]}
        )
    ]
    waiting = sandbox.pool.held_ids() if sandbox.pool is not None else set()
    return [c for c in found if c not in waiting]


def none_left(sandbox: DockerSandbox, when: str) -> None:
    """Wait until none of our containers stays: a warm one being started joins the pool
    within moments."""
    wait_for(lambda: not our_containers(sandbox), 5, f"the sandbox containers {when} to go")


@pytest.fixture(autouse=True)
def no_container_left(docker_sandbox: DockerSandbox):
    none_left(docker_sandbox, "left before the test")
    yield
    none_left(docker_sandbox, "this test left behind")


def run(
    sandbox: DockerSandbox,
    package: Path,
    *,
    env_id: str = "CartPole-v1",
    episodes: int = 1,
    success: str | None = "truncated",
    parallel: int = 1,
    **limits: object,
) -> EvaluationResult:
    """Evaluate ``package`` in the sandbox with short limits; return a failed result."""
    limits = {"step_timeout": "500ms", "startup_timeout": "30s", **limits}
    challenge = make_challenge(env_id, episodes=episodes, success=success, **limits)
    result = evaluate(package, challenge, sandbox=sandbox, parallel=parallel)
    assert isinstance(result, EvaluationResult)  # the evaluator is alive and answered
    assert result.failure is not None, f"the attack ended without a failure: {result}"
    return result


def failed(result: EvaluationResult, *codes: str) -> str:
    """Assert the failure has one of ``codes``; return its message."""
    failure = result.failure
    assert failure is not None
    assert failure.code in codes, f"{failure.code}: {failure.message}\n{result.logs[-2000:]}"
    return failure.message


def blocked(result: EvaluationResult) -> str:
    """Assert a probe reported that every attempt failed; return its report."""
    message = failed(result, r.AGENT_ERROR)
    assert "the agent raised RuntimeError in act (agent.py, line" in message
    assert "ESCAPED" not in message, message
    assert "BLOCKED: " in message, message
    return message.partition("BLOCKED: ")[2]


def host_processes(*needles: bytes) -> list[str]:
    """Host processes whose command line or cgroup contains one of ``needles``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "cmdline").read_bytes() + b"\n" + (entry / "cgroup").read_bytes()
        except OSError:  # gone meanwhile
            continue
        if any(needle in text for needle in needles):
            found.append(f"{entry.name}: {text[:200]!r}")
    return found


class Watch:
    """While an evaluation runs, records this session's containers and matching processes."""

    def __init__(self, sandbox: DockerSandbox, marker: bytes | None = None, logs: bool = False):
        self.sandbox, self.marker, self.logs = sandbox, marker, logs
        self.container_ids: set[str] = set()
        self.seen: list[str] = []
        self.log_bytes: int | None = None  # the largest log file seen on the host's disk
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self.done.wait(0.05):
            try:
                containers = our_containers(self.sandbox)
            except docker.errors.APIError:
                continue
            self.container_ids.update(containers)
            if self.marker and not self.seen:
                self.seen = host_processes(self.marker)
            if self.logs:
                for container_id in containers:
                    self._measure_log(container_id)

    def _measure_log(self, container_id: str) -> None:
        try:
            path = self.sandbox.client.api.inspect_container(container_id)["LogPath"]
            size = Path(path).stat().st_size
        except (docker.errors.APIError, OSError, KeyError, TypeError):
            return  # gone meanwhile, or Docker's folder is not readable by this user
        self.log_bytes = max(self.log_bytes or 0, size)

    def __enter__(self) -> Watch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()

    def survivors(self) -> list[str]:
        """Host processes still in one of the watched containers' cgroups."""
        assert self.container_ids, "the watch never saw the agent's container"
        # A warm container seen while it was being made waits in the pool now: not watched.
        pool = self.sandbox.pool
        watched = self.container_ids - (pool.held_ids() if pool is not None else set())
        return host_processes(*(i.encode() for i in watched))


def snapshot(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every file and folder under ``folder`` with its mode, size and modification time."""
    return {
        str(p.relative_to(folder)): (p.stat().st_mode, p.stat().st_size, p.stat().st_mtime_ns)
        for p in [folder, *folder.rglob("*")]
    }


# -- exhausting resources ----------------------------------------------------------------


def test_fork_bomb(docker_sandbox):
    with Watch(docker_sandbox) as watch:
        result = run(docker_sandbox, hostile("fork_bomb"), step_timeout="5s")
    message = failed(result, r.AGENT_ERROR, r.STEP_TIMEOUT)
    if result.failure.code == r.AGENT_ERROR:
        assert "BlockingIOError in act (agent.py, line" in message
        assert "Resource temporarily unavailable after" in message
    else:
        assert "per action" in message and "make act() faster" in message
    assert watch.survivors() == []
    assert subprocess.run(["true"], timeout=10).returncode == 0  # the host still forks


def test_thread_bomb(docker_sandbox):
    result = run(docker_sandbox, hostile("thread_bomb"), step_timeout="5s")
    message = failed(result, r.AGENT_ERROR, r.STEP_TIMEOUT)
    if result.failure.code == r.AGENT_ERROR:
        assert "RuntimeError in act (agent.py, line" in message
        assert "can't start new thread" in message
    else:
        assert "make act() faster" in message


def test_memory_bomb(docker_sandbox):
    result = run(docker_sandbox, hostile("memory_bomb"), step_timeout="10s", memory="256MiB")
    message = failed(result, r.AGENT_EXITED)
    assert "was killed for using more than its 256 MiB of memory: use less memory" in message
    assert "during episode 0" in message


def test_filling_tmp(docker_sandbox):
    result = run(docker_sandbox, hostile("fill_tmp"), step_timeout="10s")
    message = failed(result, r.AGENT_ERROR)
    assert "OSError in act (agent.py, line" in message
    assert "No space left on device" in message or "File too large" in message


def test_log_flood(docker_sandbox):
    with Watch(docker_sandbox, logs=True) as watch:
        result = run(docker_sandbox, hostile("log_flood"), step_timeout="500ms")
    message = failed(result, r.STEP_TIMEOUT)
    assert "longer than 0.5 s per action" in message
    assert "flood flood" in result.logs and "bytes of output skipped" in result.logs
    assert len(result.logs) < 100_000
    # On the host's disk, the container's log stayed near its 1 MiB cap (when readable here).
    assert watch.log_bytes is None or watch.log_bytes <= 2 * docker_sandbox.caps.log_bytes


# -- holding on to the process -----------------------------------------------------------


def test_never_answering(docker_sandbox):
    result = run(docker_sandbox, agent("hang"))
    message = failed(result, r.STEP_TIMEOUT)
    assert "took longer than 0.5 s per action to answer 1 observation" in message
    assert "(episode 0, step 0): make act() faster" in message


def test_sleeping_past_the_episode_deadline(docker_sandbox):
    result = run(docker_sandbox, agent("slow"), step_timeout="1s", episode_timeout="700ms")
    message = failed(result, r.EPISODE_TIMEOUT)
    assert "episode 0 ran longer than the 0.7 s allowed per episode: make act() faster" in message


def test_busy_loop(docker_sandbox):
    result = run(docker_sandbox, hostile("busy_loop"))
    message = failed(result, r.STEP_TIMEOUT)
    assert "longer than 0.5 s per action" in message and "make act() faster" in message


def test_ignoring_sigterm(docker_sandbox):
    with Watch(docker_sandbox) as watch:
        result = run(docker_sandbox, hostile("ignore_sigterm"))
    message = failed(result, r.STEP_TIMEOUT)
    assert "longer than 0.5 s per action" in message and "make act() faster" in message
    # The container is gone (autouse fixture), and so is every process it had.
    assert watch.survivors() == []


def test_daemon_outliving_the_run(docker_sandbox):
    marker = b"aigc-hostile-daemon"
    with Watch(docker_sandbox, marker) as watch:
        result = run(docker_sandbox, hostile("daemon"), step_timeout="10s")
    message = failed(result, r.AGENT_ERROR)
    assert "RuntimeError in act (agent.py, line" in message
    assert "left the aigc-hostile-daemon running and gave up" in message
    assert watch.seen, "the daemon never ran: the test proves nothing"
    assert host_processes(marker) == []
    assert watch.survivors() == []


@pytest.mark.parametrize(
    ("limits", "code", "words"),
    [
        ({}, r.STEP_TIMEOUT, "the agent stopped reading: it did not take its next observations"),
        (
            {"step_timeout": 600.0, "episode_timeout": 3.0},
            r.EPISODE_TIMEOUT,
            "ran longer than the 3 s allowed per episode",
        ),
    ],
    ids=["stock-cartpole", "episode-limit"],
)
def test_flooding_answers_then_not_reading(docker_sandbox, limits, code, words):
    # The evaluator sends observations nobody reads until its send blocks: that wait too
    # ends at the step's or the episode's deadline, long before the evaluation's (30 min).
    stock = get_challenge("cartpole")
    challenge = dataclasses.replace(stock, limits=dataclasses.replace(stock.limits, **limits))
    package = hostile("stop_reading")
    result = within(120, lambda: evaluate(package, challenge, sandbox=docker_sandbox, parallel=1))
    message = failed(result, code)
    assert words in message and "make act() faster" in message


# -- breaking the protocol -------------------------------------------------------------


def test_exiting_mid_episode(docker_sandbox):
    result = run(docker_sandbox, agent("exit_mid"), episodes=6)
    message = failed(result, r.AGENT_EXITED)
    assert "the agent process exited with status 3 during episode" in message
    assert "its last output: giving up now" in message


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("oversized_frame", "a frame of 4294967295 bytes exceeds the cap"),
        ("garbage", "a frame is not valid msgpack"),
    ],
)
def test_protocol_violations(docker_sandbox, name, words):
    result = run(docker_sandbox, agent(name))
    message = failed(result, r.PROTOCOL_ERROR)
    assert message.startswith("the agent broke the protocol: ")
    assert words in message


def test_a_frame_of_millions_of_empty_maps(docker_sandbox):
    with PeakMemory() as memory:
        result = run(docker_sandbox, hostile("frame_bomb"), step_timeout=PROBE_STEP)
    # Decoded whole, the frame would cost the evaluator over a gigabyte.
    assert memory.growth < 4 * DEFAULT_MAX_FRAME_BYTES, f"{memory.growth / 2**20:.0f} MiB"
    message = failed(result, r.PROTOCOL_ERROR)
    assert message == (
        "the agent broke the protocol: a frame holds more than 4096 values, more than any "
        "message needs"
    )


@pytest.mark.parametrize(
    ("name", "env_id", "words"),
    [
        ("nan_action", "Pendulum-v1", "contains NaN or infinity"),
        ("wrong_shape", "CartPole-v1", "shape (2,) for Discrete(2)"),
        ("out_of_range", "CartPole-v1", "action 5 is outside Discrete(2)"),
    ],
)
def test_invalid_actions(docker_sandbox, name, env_id, words):
    result = run(docker_sandbox, agent(name), env_id=env_id, success=None)
    message = failed(result, r.INVALID_ACTION)
    assert words in message
    assert "(episode 0, step 0)" in message


# -- getting out ---------------------------------------------------------------------------


def test_writing_to_the_root_filesystem(docker_sandbox):
    package = hostile("write_root")
    before = snapshot(package)
    result = run(docker_sandbox, package, step_timeout=PROBE_STEP)
    report = blocked(result)
    for folder in ("/etc", "/usr", "/opt/aigc", "/agent", "/run/aigc", "/", "/agent/agent.py"):
        assert re.search(
            rf"(^|; ){re.escape(folder)}: (Read-only file system|Permission denied)", report
        ), f"{folder} not refused: {report}"
    assert snapshot(package) == before  # nothing new in, nothing changed of, the package


def test_network(docker_sandbox):
    # The probe tries the host's services on 127.0.0.1: only a leak of the host's network
    # namespace would reach them, and nothing is sent off this machine even then.
    if os.environ.get("AIGC_REQUIRE_SERVICES") == "1":
        answering = [port for port in HOST_SERVICES if loopback_answers(port)]
        assert answering == list(HOST_SERVICES), "the host's Redis and PostgreSQL must answer"
    result = run(docker_sandbox, hostile("network"), step_timeout=PROBE_STEP)
    report = blocked(result)
    assert report == "interfaces lo; 127.0.0.1:6379=ECONNREFUSED 127.0.0.1:5432=ECONNREFUSED"


def test_socket_families_the_runtime_does_not_need(docker_sandbox):
    # The probe only creates sockets (and closes them): it never connects anywhere.
    result = run(docker_sandbox, hostile("socket_families"), step_timeout=PROBE_STEP)
    report = blocked(result)
    others = "0,3-9,11-15,17-63"  # all but AF_UNIX 1, AF_INET 2, AF_INET6 10, AF_NETLINK 16
    assert f"socket: EPERM for {others}; socketpair: EPERM for {others}; " in report, report
    assert "netlink: EPERM for 4,9,12,15-16; " in report, report  # all but NETLINK_ROUTE
    assert "raw socket(1<<32|AF_VSOCK)=EPERM; " in report, report
    # The 32-bit entry point, where the kernel has it (this one does: int 0x80 works).
    for call in ("socket", "socketcall"):
        assert re.search(rf"i386 {call}\(AF_VSOCK\)=(EPERM|unavailable \(signal \d+\)); ", report)
    assert report.endswith("needed: AF_UNIX=OK AF_INET=OK AF_INET6=OK NETLINK_ROUTE=OK"), report


def test_reading_the_evaluators_secrets(docker_sandbox, monkeypatch):
    monkeypatch.setenv("AIGC_SECRET_KEY", "hostile-test-secret")
    monkeypatch.setenv("DATABASE_URL", "postgresql://secret@127.0.0.1/test")
    result = run(docker_sandbox, hostile("env_secrets"), step_timeout=PROBE_STEP)
    report = blocked(result)
    assert "'PATH'" in report  # the probe did read the environment it has
    assert "AIGC_SECRET_KEY" not in report and "DATABASE_URL" not in report


def test_looking_for_other_submissions(docker_sandbox, tmp_path):
    other = tmp_path / "aigc-other-submission" / "weights.npy"
    other.parent.mkdir()
    other.write_bytes(b"the other team's weights")
    result = run(docker_sandbox, hostile("snoop_files"), step_timeout=PROBE_STEP)
    report = blocked(result)
    assert report.startswith("nothing found;"), report
    searched = re.search(r"(\d+) folders searched", report)
    assert searched and int(searched[1]) > 100, report  # the walk did cover the image
    assert "/run/aigc not listable (EACCES Permission denied)" in report
    assert other.read_bytes() == b"the other team's weights"


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_an_archive_of_setuid_files(tmp_path, kind):
    package = hostile("setuid_files")
    modes = {"agent.py": 0o4755, "aigc.toml": 0o2644, ".": 0o1755}
    archive = tmp_path / f"agent.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for path in sorted(package.iterdir()):
                info = zipfile.ZipInfo(path.name)
                info.create_system, info.external_attr = 3, (0o100000 | modes[path.name]) << 16
                zf.writestr(info, path.read_bytes())
    else:
        with tarfile.open(archive, "w:gz") as tf:
            for path in [package, *sorted(package.iterdir())]:
                name = "." if path == package else path.name
                info = tf.gettarinfo(path, name)
                info.mode = modes[name]
                with contextlib.ExitStack() as stack:
                    data = None if path.is_dir() else stack.enter_context(path.open("rb"))
                    tf.addfile(info, data)
    with pytest.raises(PackageError) as refused, open_package(archive):
        pytest.fail("the archive was unpacked")
    message = str(refused.value)
    first = "'.' has the sticky bit set: clear it" if kind == "tar.gz" else "'agent.py' has the"
    assert message.startswith(f"archive member {first}"), message
    assert message.endswith(
        "(e.g. `chmod -R u-s,g-s,-t .` in the agent folder) and rebuild the archive"
    )
    assert "\n" not in message


def test_gaining_privileges(docker_sandbox):
    result = run(docker_sandbox, hostile("privilege"), step_timeout=PROBE_STEP)
    report = blocked(result)
    assert report == (
        "setuid(0)=EPERM setgid(0)=EPERM mount(tmpfs)=EPERM unshare(NEWUSER)=EPERM "
        "unshare(NEWNS)=EPERM chroot=EPERM"
    )


def test_ptrace_of_the_containers_init(docker_sandbox):
    result = run(docker_sandbox, hostile("ptrace"), step_timeout=PROBE_STEP)
    message = failed(result, r.AGENT_ERROR)
    assert "RuntimeError in act (agent.py, line" in message and "ptrace(" in message
    report = blocked(result)
    assert "ptrace(PTRACE_ATTACH, 1)=EPERM" in report, report
