"""The Docker sandbox against the real engine: configuration, limits, cleanup, reaping."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
from docker.models.containers import ContainerCollection

from aigc.submissions.challenge import Limits
from aigc.submissions.docker_sandbox import (
    LABEL,
    OWNER_LABEL,
    DockerSandbox,
    owner_id,
    reap_stale_containers,
)
from aigc.submissions.evaluator import evaluate
from aigc.submissions.images import (
    AGENT_UID,
    SLIM_BASE,
    _debian_base_tag,
    _has_image,
    content_hash,
)
from aigc.submissions.sandbox import SOCKET_NAME, LocalSandbox
from tests.containers import of_pids, owned_by
from tests.waiting import wait_for

from .conftest import HOST_SERVICES, agent, hostile, loopback_answers, make_challenge

pytestmark = pytest.mark.slow


def sandbox_containers(sandbox: DockerSandbox) -> list:
    """This test process's own sandbox containers (other sessions may share the engine)."""
    return owned_by(sandbox.client, sandbox.owner)


@pytest.fixture(autouse=True)
def no_container_left(docker_sandbox):
    yield
    # With a warm pool (AIGC_POOL_SIZE) the pool's thread removes them, just after.
    wait_for(lambda: sandbox_containers(docker_sandbox) == [], 30, "its containers' removal")


@pytest.fixture
def started(docker_sandbox):
    """Start the runtime for the good agent with big limits; yield the container."""
    workdir = Path(tempfile.mkdtemp(prefix="aigc-test-"))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(workdir / SOCKET_NAME))
    listener.listen(1)
    limits = Limits(memory_bytes=64 * 2**30, cpus=16.0)
    process = docker_sandbox.start(agent("good"), workdir, limits)
    yield process.container
    process.stop(grace=1)
    listener.close()


def test_waiting_for_a_container_returns_at_its_end_or_none_when_the_time_is_up(
    docker_sandbox,
):
    workdir = Path(tempfile.mkdtemp(prefix="aigc-test-"))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(workdir / SOCKET_NAME))
    listener.listen(1)
    process = docker_sandbox.start(agent("good"), workdir, Limits())
    try:
        # The runtime waits for the evaluator's hello, which never comes.
        assert process.wait(0.5) is None
        docker_sandbox.client.api.kill(process.container.id)
        assert process.wait(60) == 137  # the engine's 128 + SIGKILL
        assert "SIGKILL" in process.exit_reason()
    finally:
        process.stop(grace=1)
        listener.close()


def test_container_is_locked_down(started, docker_sandbox):
    config = started.attrs["HostConfig"]
    caps = docker_sandbox.caps
    assert config["NetworkMode"] == "none"
    assert config["ReadonlyRootfs"] is True
    assert config["CapDrop"] == ["ALL"] and not config["CapAdd"]
    assert "no-new-privileges" in config["SecurityOpt"]
    assert config["Privileged"] is False
    assert config["PidsLimit"] == caps.pids
    assert config["Init"] is True
    assert started.attrs["Config"]["User"] == f"{AGENT_UID}:{AGENT_UID}"
    assert (
        "noexec" in config["Tmpfs"]["/tmp"] and f"size={caps.tmp_bytes}" in config["Tmpfs"]["/tmp"]
    )
    ulimits = {u["Name"]: (u["Soft"], u["Hard"]) for u in config["Ulimits"]}
    assert ulimits == {
        "nofile": (caps.open_files, caps.open_files),
        "fsize": (caps.file_size_bytes, caps.file_size_bytes),
        "core": (0, 0),
    }
    assert config["LogConfig"] == {
        "Type": "json-file",
        "Config": {"max-size": str(caps.log_bytes), "max-file": "1"},
    }
    mounts = {m["Destination"]: m for m in started.attrs["Mounts"]}
    assert set(mounts) == {"/agent", "/run/aigc"}
    assert mounts["/agent"]["RW"] is False
    assert not any("docker.sock" in m["Source"] for m in mounts.values())
    environment = started.attrs["Config"]["Env"]
    assert not any(v.startswith(("AIGC_", "DATABASE", "REDIS")) for v in environment)


def test_challenge_limits_are_cut_to_the_platform_caps(started, docker_sandbox):
    config = started.attrs["HostConfig"]
    caps = docker_sandbox.caps
    # The fixture asked for 64 GiB and 16 CPUs.
    assert config["Memory"] == caps.max_memory_bytes
    assert config["MemorySwap"] == config["Memory"]  # no swap beyond the limit
    assert config["NanoCpus"] == int(caps.max_cpus * 1e9)


def test_challenge_limits_apply_below_the_caps(docker_sandbox):
    sandbox = DockerSandbox(image=docker_sandbox.image, client=docker_sandbox.client)
    workdir = Path(tempfile.mkdtemp(prefix="aigc-test-"))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(workdir / SOCKET_NAME))
    process = sandbox.start(agent("good"), workdir, Limits(memory_bytes=300 * 2**20, cpus=0.5))
    try:
        config = process.container.attrs["HostConfig"]
        assert config["Memory"] == config["MemorySwap"] == 300 * 2**20
        assert config["NanoCpus"] == 500_000_000
    finally:
        process.stop(grace=1)
        listener.close()


def test_socket_folder_is_reachable_but_not_writable_by_the_agent(started):
    [mount] = [m for m in started.attrs["Mounts"] if m["Destination"] == "/run/aigc"]
    folder = Path(mount["Source"])
    assert folder.stat().st_mode & 0o777 == 0o711
    assert (folder / SOCKET_NAME).stat().st_uid in (AGENT_UID, os.getuid())


@pytest.mark.parametrize("name", ["good", "random", "batched"])
def test_docker_and_local_sandboxes_give_the_same_returns(docker_sandbox, name):
    challenge = make_challenge("CartPole-v1", episodes=6)
    in_docker = evaluate(agent(name), challenge, sandbox=docker_sandbox, parallel=6)
    local = evaluate(agent(name), challenge, sandbox=LocalSandbox(), parallel=6)
    assert in_docker.ok, in_docker.failure
    assert [e.total_return for e in in_docker.episodes] == [e.total_return for e in local.episodes]


def test_agent_errors_carry_the_agents_logs(docker_sandbox):
    result = evaluate(agent("exit_mid"), make_challenge(), sandbox=docker_sandbox, parallel=1)
    assert result.failure is not None and result.failure.code == "agent_exited"
    assert "exited with status 3" in result.failure.message
    assert "giving up now" in result.logs


def test_reaper_removes_containers_of_dead_evaluators_only(docker_sandbox):
    client = docker_sandbox.client
    make = client.containers.create
    dead = make(
        docker_sandbox.image, labels={LABEL: "1", OWNER_LABEL: f"{socket.gethostname()}:999999:1"}
    )
    mine = make(docker_sandbox.image, labels={LABEL: "1", OWNER_LABEL: owner_id()})
    elsewhere = make(docker_sandbox.image, labels={LABEL: "1", OWNER_LABEL: "other-host:1:1"})
    try:
        removed = reap_stale_containers(client)  # also any other dead evaluator's
        made = {dead.name, mine.name, elsewhere.name}
        names = {c.name for c in client.containers.list(all=True, filters={"label": LABEL})}
        assert dead.name in removed and made & set(removed) == {dead.name}
        assert names & made == {mine.name, elsewhere.name}
    finally:
        for container in (dead, mine, elsewhere):
            with contextlib.suppress(Exception):
                container.remove(force=True)


def test_container_of_a_killed_evaluator_is_reaped(docker_sandbox, tmp_path):
    script = textwrap.dedent(
        f"""
        from aigc.submissions.docker_sandbox import DockerSandbox
        from aigc.submissions.evaluator import evaluate
        from tests.submissions.conftest import agent, make_challenge
        sandbox = DockerSandbox(image={docker_sandbox.image!r})
        evaluate(agent("hang"), make_challenge(step_timeout="1h"), sandbox=sandbox)
        """
    )
    evaluator = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[2])
    try:
        its = lambda: of_pids(docker_sandbox.client, {evaluator.pid})  # noqa: E731
        wait_for(its, 60, "the agent's container")
        [container] = its()
    finally:
        evaluator.send_signal(signal.SIGKILL)
        evaluator.wait()
    # The evaluator died without cleaning up; the next one to start reaps its container.
    assert [c.name for c in its()] == [container.name]
    DockerSandbox(image=docker_sandbox.image, client=docker_sandbox.client)
    assert its() == []


def test_folders_of_a_killed_evaluator_are_reaped(docker_sandbox, tmp_path_factory, monkeypatch):
    temp = tmp_path_factory.mktemp("tmp")  # short: a socket's path must fit in 108 bytes
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("TMPDIR", str(temp))
    archive = tmp_path_factory.mktemp("upload") / "agent.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(agent("hang").iterdir()):
            zf.write(path, path.name)
    script = textwrap.dedent(
        f"""
        from aigc.submissions.docker_sandbox import DockerSandbox
        from aigc.submissions.evaluator import evaluate
        from aigc.submissions.package import open_package
        from tests.submissions.conftest import make_challenge
        sandbox = DockerSandbox(image={docker_sandbox.image!r})
        with open_package({str(archive)!r}) as folder:
            evaluate(folder, make_challenge(step_timeout="1h"), sandbox=sandbox)
        """
    )
    evaluator = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[2])

    def its_containers() -> list:
        return of_pids(docker_sandbox.client, {evaluator.pid})

    try:
        wait_for(its_containers, 60, "the agent's container to start")
    finally:
        evaluator.send_signal(signal.SIGKILL)
        evaluator.wait()
    # Its socket folder and the participant's unpacked package are left on the host...
    left = sorted(p.name.split("-")[1] for p in temp.iterdir())
    assert left == ["eval", "package"], left
    # ...until the next sandbox starts: it removes them with the container.
    DockerSandbox(image=docker_sandbox.image, client=docker_sandbox.client)
    assert its_containers() == []
    assert list(temp.iterdir()) == []


def test_image_tag_follows_its_contents(docker_sandbox):
    base = docker_sandbox.client.images.get(docker_sandbox.image).attrs["Config"]
    assert base["User"] == f"{AGENT_UID}:{AGENT_UID}"
    assert content_hash("base-a") == content_hash("base-a") != content_hash("base-b")
    assert docker_sandbox.image.endswith(content_hash(_base_of(docker_sandbox)))


def _base_of(sandbox: DockerSandbox) -> str:
    return SLIM_BASE if _has_image(sandbox.client, SLIM_BASE) else _debian_base_tag()


def test_torch_agent_runs_in_the_sandbox(docker_sandbox):
    challenge = make_challenge("CartPole-v1", episodes=4)
    in_docker = evaluate(agent("torch_policy"), challenge, sandbox=docker_sandbox)
    assert in_docker.ok, (in_docker.failure, in_docker.logs[-2000:])
    # Its weights encode the same policy as the good agent: the same returns prove it ran.
    reference = evaluate(agent("good"), challenge, sandbox=LocalSandbox())
    assert [e.total_return for e in in_docker.episodes] == [
        e.total_return for e in reference.episodes
    ]


def test_a_zombie_evaluator_counts_as_dead():
    from aigc.submissions.owners import owner_alive

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    owner = f"{socket.gethostname()}:{child.pid}:"
    time.sleep(0.5)  # it has exited, but is not reaped yet: a zombie
    assert Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    assert not owner_alive(owner + "anything")
    child.wait()


def test_the_network_probe_sees_a_leak_and_stays_on_this_machine(docker_sandbox, monkeypatch):
    """The network probe's own check: in a sandbox whose containers share the host's
    network, it reaches the host's services and says so, having tried only 127.0.0.1."""
    run_container = ContainerCollection.run

    def on_the_hosts_network(self, *args, **kwargs):
        return run_container(self, *args, **{**kwargs, "network_mode": "host"})

    monkeypatch.setattr(ContainerCollection, "run", on_the_hosts_network)
    challenge = make_challenge(episodes=1, step_timeout="10s")
    result = evaluate(hostile("network"), challenge, sandbox=docker_sandbox, parallel=1)
    assert result.failure is not None
    message = result.failure.message
    assert "ESCAPED: " in message and "; interfaces " in message, message
    for port in filter(loopback_answers, HOST_SERVICES):
        assert f"127.0.0.1:{port}" in message, message


def test_the_engines_calls_may_outlast_its_answer_to_a_ping(docker_sandbox):
    """Starting a container on a busy machine takes longer than the engine's ping."""
    from aigc.submissions.docker_sandbox import CALL_TIMEOUT, docker_client

    client = docker_client(timeout=1)
    assert client is not None
    assert client.api.timeout == CALL_TIMEOUT > 5
