"""Warm Docker sandboxes against the real engine: one evaluation each, as a cold one does.

Every test looks only at the containers this process made (the owner label), or those of
a child process it started; other sessions may share the engine.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import docker
import pytest

from aigc.submissions import results as r
from aigc.submissions.challenge import Limits
from aigc.submissions.docker_sandbox import (
    LABEL,
    NO_PRELOAD,
    OWNER_LABEL,
    POOL_LABEL,
    DockerSandbox,
    reap_stale_containers,
)
from aigc.submissions.evaluator import evaluate
from aigc.submissions.owners import make_temp_folder
from aigc.submissions.warm_pool import PoolKey
from tests.waiting import wait_for

from .conftest import agent, hostile, make_challenge

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("docker_sandbox")]
ROOT = Path(__file__).parents[2]


def pool_containers(client: docker.DockerClient, owner: str) -> dict[str, str]:
    """The warm containers ``owner`` made, id to state."""
    filters = {"label": [POOL_LABEL, f"{OWNER_LABEL}={owner}"]}
    return {c["Id"]: c["State"] for c in client.api.containers(all=True, filters=filters)}


@pytest.fixture(scope="module")
def pooled(docker_sandbox: DockerSandbox):
    sandbox = DockerSandbox(image=docker_sandbox.image, client=docker_sandbox.client, pool_size=1)
    assert sandbox.pool is not None
    yield sandbox
    sandbox.pool.close()
    assert pool_containers(sandbox.client, sandbox.owner) == {}, "the pool left containers"


@pytest.fixture(scope="module")
def cold(docker_sandbox: DockerSandbox) -> DockerSandbox:
    """A sandbox without a pool (the session's may have one, see AIGC_POOL_SIZE)."""
    return DockerSandbox(image=docker_sandbox.image, client=docker_sandbox.client)


def default_key(sandbox: DockerSandbox, preload: str = NO_PRELOAD) -> PoolKey:
    return (*sandbox.cut(Limits()), preload)


def ready(sandbox: DockerSandbox, preload: str = NO_PRELOAD) -> set[str]:
    """Wait until the pool holds a container of the default limits, and return its ids."""
    assert sandbox.pool is not None
    found = sandbox.pool.ready(default_key(sandbox, preload), 120)
    if not found:
        pytest.fail("no warm container waited within 120 s")
    return found


def test_a_warm_evaluation_scores_as_a_cold_one_and_its_container_is_replaced(pooled, cold):
    assert pooled.pool is not None
    [warm_id] = ready(pooled)
    challenge = make_challenge(episodes=4)
    warm = evaluate(agent("good"), challenge, sandbox=pooled)
    # The waiting container served it: the pool removes it, and a new one waits in its place.
    wait_for(lambda: warm_id not in pool_containers(pooled.client, pooled.owner), 60, "removal")
    [replacement] = ready(pooled)
    assert replacement != warm_id
    cold = evaluate(agent("good"), challenge, sandbox=cold)
    assert warm.failure is None and cold.failure is None
    assert [e.total_return for e in warm.episodes] == [e.total_return for e in cold.episodes]
    assert warm.metrics == cold.metrics


def test_a_torch_agent_runs_warm_in_a_container_that_imported_torch(pooled, cold):
    assert pooled.pool is not None
    [torch_ready] = ready(pooled, "torch")
    challenge = make_challenge(episodes=2)
    warm = evaluate(agent("torch_policy"), challenge, sandbox=pooled)
    # It served, and the pool removes it.
    wait_for(lambda: torch_ready not in pool_containers(pooled.client, pooled.owner), 60, "removal")
    cold = evaluate(agent("torch_policy"), challenge, sandbox=cold)
    assert warm.failure is None, warm.failure
    assert [e.total_return for e in warm.episodes] == [e.total_return for e in cold.episodes]


@pytest.mark.parametrize("name", ["crash_import", "crash_init", "no_act"])
def test_a_broken_package_fails_warm_as_it_does_cold(pooled, cold, name):
    assert pooled.pool is not None
    ready(pooled)
    challenge = make_challenge(episodes=1)
    warm = evaluate(agent(name), challenge, sandbox=pooled)
    cold = evaluate(agent(name), challenge, sandbox=cold)
    assert warm.failure is not None and cold.failure is not None
    assert (warm.failure.code, warm.failure.message) == (cold.failure.code, cold.failure.message)
    assert warm.failure.code == r.AGENT_START_FAILED


def report(logs: str) -> dict:
    """What the probe saw, less what differs between any two containers.

    That is the container's id (its host name, its cgroup) and the runtime's PID, which
    the engine's own start-up leaves at 7 or 8.
    """
    [line] = [line for line in logs.splitlines() if "REPORT " in line]
    seen = json.loads(line.partition("REPORT ")[2])
    text = re.sub(seen["environ"]["HOSTNAME"] + "[0-9a-f]*", "ID", json.dumps(seen))
    seen = json.loads(text)
    seen["processes"] = sorted(seen["processes"].values(), key=lambda p: p["cmdline"])
    del seen["pid"]
    return seen


@pytest.mark.parametrize("framework", ["numpy", "torch"])
def test_an_agent_finds_nothing_from_before_its_claim(pooled, cold, framework):
    assert pooled.pool is not None
    ready(pooled, "torch" if framework == "torch" else NO_PRELOAD)
    time.sleep(1.0)  # let the waiting runtime finish its imports: its quietest state
    challenge = make_challenge(episodes=1)
    # Cold from a folder of the kind the platform unpacks to, as the warm one's is.
    unpacked = make_temp_folder("package")
    try:
        shutil.copytree(hostile("pre_claim_state"), unpacked, dirs_exist_ok=True)
        if framework == "torch":  # a torch agent: torch imported ahead in the warm one
            manifest, code = unpacked / "aigc.toml", unpacked / "agent.py"
            manifest.write_text(manifest.read_text() + 'framework = "torch"\n')
            code.write_text("import torch  # noqa: F401\n" + code.read_text())
        warm = evaluate(unpacked, challenge, sandbox=pooled)
        cold = evaluate(unpacked, challenge, sandbox=cold)
    finally:
        shutil.rmtree(unpacked)
    assert warm.failure is None and cold.failure is None
    seen, expected = report(warm.logs), report(cold.logs)
    assert seen["tmp"] == [], seen["tmp"]
    assert seen["socket_folder"] == expected["socket_folder"]
    assert str(seen["socket_folder"]).startswith("error")  # not listable
    # Same processes with the same command lines, environments and folders; same own
    # descriptors, threads, path, arguments and mounts (host folders' random names aside).
    assert seen == expected
    # The log starts with the evaluation: the agent's report is its first line, warm or cold.
    for result in (warm, cold):
        assert result.logs.splitlines()[0].startswith("out| REPORT ")


def test_a_container_that_died_waiting_is_never_handed_out(pooled):
    pool = pooled.pool
    assert pool is not None
    [waiting] = ready(pooled)
    pooled.client.api.kill(waiting)
    warm = pool.claim(default_key(pooled), pooled.client)
    # The dead one is removed; a claim gets its replacement if the pool made one already.
    assert warm is None or warm.container.id != waiting
    if warm is not None:
        warm.discard()
    assert waiting not in pool_containers(pooled.client, pooled.owner)
    [replacement] = ready(pooled)
    assert replacement != waiting
    result = evaluate(agent("good"), make_challenge(episodes=1), sandbox=pooled)
    assert result.failure is None


def test_a_container_that_dies_waiting_is_replaced(pooled):
    pool = pooled.pool
    assert pool is not None
    [waiting] = ready(pooled)
    pooled.client.api.kill(waiting)
    # The pool's own look at its containers removes the dead one and starts another.
    wait_for(lambda: waiting not in pool_containers(pooled.client, pooled.owner), 60, "removal")
    assert waiting not in ready(pooled)


def child(image: str, size: int, body: str) -> tuple[subprocess.Popen, str]:
    script = textwrap.dedent(
        f"""
        import signal, sys, time
        from aigc.submissions.docker_sandbox import DockerSandbox
        from aigc.submissions.owners import owner_id
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # as aigc serve stops
        sandbox = DockerSandbox(image={image!r}, pool_size={size})
        print(owner_id(), flush=True)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script + textwrap.dedent(body)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    owner = process.stdout.readline().strip()
    assert owner, "the child process did not start"
    return process, owner


def test_the_reaper_removes_the_warm_containers_of_a_killed_worker(docker_sandbox):
    client = docker_sandbox.client
    process, owner = child(docker_sandbox.image, 2, "time.sleep(3600)")
    try:
        # Two of each kind (with torch imported ahead, and without) for the default limits.
        wait_for(lambda: len(pool_containers(client, owner)) == 4, 120, "four warm containers")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert len(pool_containers(client, owner)) == 4  # it could not remove them itself
    removed = reap_stale_containers(client)
    assert pool_containers(client, owner) == {}
    assert len(removed) >= 4


def test_a_worker_that_stops_removes_its_pool(docker_sandbox):
    client = docker_sandbox.client
    process, owner = child(
        docker_sandbox.image,
        1,
        """
        while not sandbox.pool.waiting_ids():
            time.sleep(0.1)
        print("ready", flush=True)
        time.sleep(3600)
        """,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        assert pool_containers(client, owner)
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    assert pool_containers(client, owner) == {}


def test_pool_size_zero_starts_no_warm_container(docker_sandbox):
    client = docker_sandbox.client
    process, owner = child(
        docker_sandbox.image,
        0,
        """
        from aigc.submissions.evaluator import evaluate
        from tests.submissions.conftest import agent, make_challenge
        assert sandbox.pool is None
        result = evaluate(agent("good"), make_challenge(episodes=1), sandbox=sandbox)
        print("failure", result.failure, flush=True)
        time.sleep(3600)
        """,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "failure None"
        assert pool_containers(client, owner) == {}
        filters = {"label": [LABEL, f"{OWNER_LABEL}={owner}"]}
        assert client.api.containers(all=True, filters=filters) == []
    finally:
        process.kill()
        process.wait()


def test_claims_take_only_containers_of_their_own_limits(pooled):
    pool = pooled.pool
    assert pool is not None
    ready(pooled)
    other = (256 * 2**20, 1.0, NO_PRELOAD)
    assert pool.claim(other, pooled.client) is None  # none yet: that evaluation starts cold

    # From now on those limits are kept warm as well, in containers of their own.
    def of_other() -> list[str]:
        found = []
        for container_id in pool.waiting_ids():
            config = pooled.client.api.inspect_container(container_id)["HostConfig"]
            if config["Memory"] == other[0]:
                found.append(container_id)
        return found

    [small] = wait_for(of_other, 120, "a warm container of the other limits")
    warm = pool.claim(other, pooled.client)
    assert warm is not None and warm.container.id == small
    warm.discard()


def test_a_package_cannot_shadow_the_runtimes_imports_warm_or_cold(pooled, cold):
    assert pooled.pool is not None
    ready(pooled)
    challenge = make_challenge(episodes=2)
    warm_result = evaluate(hostile("shadow_numpy"), challenge, sandbox=pooled)
    cold_result = evaluate(hostile("shadow_numpy"), challenge, sandbox=cold)
    for result in (warm_result, cold_result):
        assert result.failure is None, result.failure
        assert "SHADOWED" not in result.logs
    assert [e.total_return for e in warm_result.episodes] == [
        e.total_return for e in cold_result.episodes
    ]


def test_a_challenge_s_own_image_gets_a_pool_of_its_own(pooled, docker_sandbox):
    """A sandbox moved to a challenge's image claims warm containers of that image only."""
    assert pooled.pool is not None
    own = f"aigc-agent-runtime:pool-test-{os.getpid()}"  # a second tag: another image name
    docker_sandbox.client.images.get(pooled.image).tag(own)
    challenge_sandbox = pooled._on_image(own)
    try:
        assert challenge_sandbox.pool is not None and challenge_sandbox.pool is not pooled.pool
        assert challenge_sandbox.pool.image == own and pooled.pool.image == pooled.image
        challenge_sandbox.pool.want(default_key(challenge_sandbox))
        [warm_id] = ready(challenge_sandbox)
        served = evaluate(agent("good"), make_challenge(episodes=2), sandbox=challenge_sandbox)
        assert served.failure is None
        # That one served, and its pool removes it.
        wait_for(lambda: warm_id not in pool_containers(pooled.client, pooled.owner), 60, "removal")
        for container in pool_containers(pooled.client, pooled.owner):
            config = docker_sandbox.client.api.inspect_container(container)["Config"]
            labels = config["Labels"]
            assert config["Image"] == labels[POOL_LABEL]  # each pool starts its own image
    finally:
        challenge_sandbox.pool.close()  # type: ignore[union-attr]
        docker_sandbox.client.images.remove(own, noprune=True)


def test_a_serving_container_counts_towards_the_pool_until_its_evaluation_ends(docker_sandbox):
    """With one container still waiting, the next starts once the claimed evaluation ends,
    not beside it; a claim that leaves none waiting has the next started at once."""
    sandbox = DockerSandbox(image=docker_sandbox.image, client=docker_sandbox.client, pool_size=2)
    pool = sandbox.pool
    assert pool is not None
    key = default_key(sandbox)
    try:
        pool.want(key)
        torch = default_key(sandbox, "torch")  # kept warm too, beside the plain ones

        def settled() -> set[str]:
            full = len(pool.ready(key, 1)) == 2 and len(pool.ready(torch, 1)) == 2
            held = pool.held_ids()
            return held if full and held == pool.waiting_ids() else set()

        held = wait_for(settled, 240, "two waiting of each kind and none starting")
        first = pool.claim(key, sandbox.client)
        assert first is not None
        # The filling thread has been told of the claim; it starts none while one waits.
        for _ in range(15):
            assert pool.held_ids() == held - {first.container.id}
            time.sleep(0.2)
        second = pool.claim(key, sandbox.client)
        assert second is not None
        # None waits now: the next one starts although two evaluations are being served.
        wait_for(lambda: pool.ready(key, 1), 120, "a container after the second claim")
        assert pool.retire(str(first.container.id), first.folders)
        assert pool.retire(str(second.container.id), second.folders)
        # Both evaluations ended: the pool fills up to its size again.
        wait_for(lambda: len(pool.ready(key, 1)) == 2, 120, "the pool full again")
        held |= pool.held_ids()
        wait_for(
            lambda: (
                not {first.container.id, second.container.id}
                & set(pool_containers(sandbox.client, sandbox.owner))
            ),
            60,
            "the served containers removed",
        )
    finally:
        pool.close()
    # The module's other pool has the same owner: only this pool's containers must be gone.
    left = held & set(pool_containers(sandbox.client, sandbox.owner))
    assert not left, "the pool left containers"
