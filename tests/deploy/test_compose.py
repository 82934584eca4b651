"""The self-hosted platform of docker/: its images, its compose file, and a stack brought up.

This machine has no registry to pull postgres:16 and redis:7 from, so the stack runs from
docker/compose.local.yaml: the web server and workers of docker/compose.yaml (checked to
match) on the host's network, using its PostgreSQL and Redis (a database and a Redis
database of their own). All traffic stays on 127.0.0.1. The images are built by
docker/build.py, which builds nothing when their contents are unchanged.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
import yaml

from aigc.platform.statuses import ENDED
from tests.platform.conftest import zip_agent
from tests.servers import free_port
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"


def tool_missing(what: str) -> None:
    """Skip for want of a Docker tool, unless AIGC_REQUIRE_DOCKER=1 (as in CI) forbids it."""
    message = f"this machine lacks {what}"
    if os.environ.get("AIGC_REQUIRE_DOCKER") == "1":
        pytest.fail(f"{message}; AIGC_REQUIRE_DOCKER=1 forbids skipping Docker tests")
    pytest.skip(message)


@pytest.fixture(scope="module")
def compose() -> list[str]:
    """The compose command: Docker's plugin, else the docker-compose program."""
    if shutil.which("docker") is None:
        tool_missing("the docker command (install Docker: scripts/docker-engine.sh)")
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True)
    if plugin.returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose") is None:
        tool_missing("docker-compose (apt-get install docker-compose)")
    return ["docker-compose"]


@pytest.fixture(scope="module")
def images() -> dict[str, str]:
    """Build both images (nothing when unchanged); their tags by kind."""
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        tool_missing("a Docker engine that answers (start dockerd)")
    done = subprocess.run(
        [sys.executable, str(DOCKER / "build.py")], capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, done.stdout + done.stderr
    tags = dict(line.split(": ", 1) for line in done.stdout.splitlines()[-2:])
    return {"runtime": tags["agent runtime"], "platform": tags["platform"].split()[0]}


def run(command: list[str], env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=DOCKER, timeout=timeout
    )
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_compose_file_asks_for_the_secrets_and_names_the_services(compose: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIGC_")}
    refused = subprocess.run(
        [*compose, "-f", "compose.yaml", "config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=DOCKER,
    )
    assert refused.returncode != 0
    assert "set AIGC_SECRET_KEY" in refused.stdout + refused.stderr
    env |= {"AIGC_SECRET_KEY": "k" * 64, "AIGC_DB_PASSWORD": "p" * 32}
    config = yaml.safe_load(run([*compose, "-f", "compose.yaml", "config"], env))
    services = config["services"]
    assert sorted(services) == ["postgres", "redis", "web", "worker"]
    assert "aigc.platform.wsgi:app" in services["web"]["command"]
    assert services["worker"]["command"][:2] == ["aigc", "worker"]
    for name in ("web", "worker"):
        assert services[name]["environment"]["AIGC_SECRET_KEY"] == "k" * 64
        assert services[name]["environment"]["AIGC_BROKER_URL"] == "redis://redis:6379/0"
    # The sandbox folders are at the same path on the host and in the worker.
    work = services["worker"]["environment"]["TMPDIR"]
    mounts = [str(volume) for volume in services["worker"]["volumes"]]
    assert any(f"{work}:{work}" in mount or f"'target': '{work}'" in mount for mount in mounts)
    assert "ports" not in services["worker"]


def test_the_local_file_runs_the_same_services_on_the_hosts_network(compose: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIGC_")} | {
        "AIGC_SECRET_KEY": "k" * 64,
        "AIGC_DB_PASSWORD": "p" * 32,
        "AIGC_DATABASE_URL": "postgresql+psycopg://aigc@127.0.0.1:5432/aigc",
        "AIGC_BROKER_URL": "redis://127.0.0.1:6379/0",
    }
    full = yaml.safe_load(run([*compose, "-f", "compose.yaml", "config"], env))["services"]
    local = yaml.safe_load(run([*compose, "-f", "compose.local.yaml", "config"], env))["services"]
    assert sorted(local) == ["web", "worker"]
    for name in ("web", "worker"):
        ours, theirs = dict(full[name]), dict(local[name])
        assert theirs.pop("network_mode") == "host" and "ports" not in theirs
        if name == "worker":  # it judges sandboxes' owners by the host's process ids
            assert theirs.pop("pid") == "host"
        ours.pop("ports", None)
        for service, database, broker in (
            (ours, "@postgres:5432/", "redis:6379"),
            (theirs, "@127.0.0.1:5432/", "127.0.0.1:6379"),
        ):
            environment = dict(service.pop("environment"))
            assert database in environment.pop("AIGC_DATABASE_URL")
            assert broker in environment.pop("AIGC_BROKER_URL")
            service["environment"] = environment
        ours.pop("depends_on")
        assert theirs.pop("depends_on", {}) == (
            {"web": {"condition": "service_healthy"}} if name == "worker" else {}
        )
        if name == "web":  # listening on the host's loopback instead of the container's all
            # compose.yaml binds every interface of the web container's own network
            # namespace (published on the host's loopback only); compose.local.yaml, on the
            # host's network, binds the loopback.
            bind = ours["command"][ours["command"].index("--bind") + 1]
            assert bind.endswith(":8000") and not bind.startswith("127.")
            ours.pop("command")
            assert "127.0.0.1:8000" in theirs.pop("command")
            assert "127.0.0.1:8000" in str(theirs.pop("healthcheck"))
            assert "127.0.0.1:8000" in str(ours.pop("healthcheck"))
        assert ours == theirs, name


@pytest.fixture
def stack(
    compose: list[str],
    images: dict[str, str],
    postgres_admin: sa.Engine,
    broker_url: str,
) -> Iterator[tuple[str, dict[str, str], list[str]]]:
    """Web and two workers from the compose files; their URL, environment and command."""
    name = f"aigc_deploy_{secrets.token_hex(4)}"
    with postgres_admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    work = Path(tempfile.mkdtemp(prefix="aigc-deploy-", dir="/tmp"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIGC_")} | {
        "AIGC_SECRET_KEY": secrets.token_hex(32),
        "AIGC_DATABASE_URL": postgres_admin.url.set(database=name).render_as_string(
            hide_password=False
        ),
        "AIGC_BROKER_URL": broker_url,
        "AIGC_PORT": str(port),
        "AIGC_WORK_DIR": str(work),
        "AIGC_BASELINES_DIR": "none",
        "AIGC_PLATFORM_IMAGE": images["platform"],
    }
    command = [*compose, "-p", name, "-f", "compose.local.yaml"]
    try:
        yield f"http://127.0.0.1:{port}", env, command
    finally:
        logs = subprocess.run(
            [*command, "logs", "--no-color"], env=env, cwd=DOCKER, text=True, capture_output=True
        ).stdout
        subprocess.run([*command, "down", "-v"], env=env, cwd=DOCKER, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
        with postgres_admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        print(logs[-20000:])  # shown by pytest when the test failed


def test_a_submission_is_scored_by_the_composed_stack(
    stack: tuple[str, dict[str, str], list[str]],
) -> None:
    url, env, compose = stack
    run([*compose, "up", "-d", "web"], env)

    def answering() -> bool:
        try:
            return requests.get(f"{url}/api/v1/challenges", timeout=5).status_code == 200
        except requests.RequestException:  # not listening yet, or still starting
            return False

    wait_for(answering, 240, "the web server of the stack to answer")
    password = secrets.token_hex(8)
    created = run(
        [
            *compose,
            "exec",
            "-T",
            "web",
            "aigc",
            "admin",
            "create-user",
            "alice",
            "--password",
            password,
        ],
        env,
    )
    assert "created participant alice" in created
    run([*compose, "up", "-d", "--no-deps", "--scale", "worker=2", "worker"], env)
    assert len(run([*compose, "ps", "-q", "worker"], env).split()) == 2

    token = requests.post(
        f"{url}/api/v1/tokens", json={"username": "alice", "password": password}, timeout=30
    )
    assert token.status_code == 201, token.text
    headers = {"Authorization": f"Bearer {token.json()['token']}"}
    sent = requests.post(
        f"{url}/api/v1/submissions",
        data={"challenge": "cartpole", "phase": "dev"},
        files={"file": ("agent.zip", zip_agent("good"))},
        headers=headers,
        timeout=60,
    )
    assert sent.status_code == 201, sent.text

    def done() -> dict | None:
        body = requests.get(
            f"{url}/api/v1/submissions/{sent.json()['id']}", headers=headers, timeout=30
        ).json()
        return body if body["status"] in ENDED else None

    body = wait_for(done, 300, "the submission to be evaluated by a worker")
    assert body["status"] == "finished", body["failure"]
    assert body["result"]["metrics"]["mean_return"] == 500.0
    board = requests.get(f"{url}/api/v1/challenges/cartpole/leaderboard", timeout=30)
    assert board.status_code == 200, board.text
    assert [row["name"] for row in board.json()["rows"]] == ["alice"]
