"""Fixtures shared by every test folder: Docker, a database of each kind, Redis.

Every test that takes ``database_url`` runs twice: on a SQLite file and on a fresh
database in the PostgreSQL server at 127.0.0.1:5432 (``AIGC_TEST_POSTGRES`` overrides
the admin URL). Where PostgreSQL or Redis do not answer, their tests are skipped, unless
``AIGC_REQUIRE_SERVICES=1`` (as in CI) turns the skip into a failure.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from aigc.submissions.docker_sandbox import DockerSandbox, docker_client
from tests.hostile_summary import (  # noqa: F401 (the hostile suite's summary, for every folder)
    pytest_runtest_logreport,
    pytest_terminal_summary,
)

POSTGRES_ADMIN = os.environ.get(
    "AIGC_TEST_POSTGRES", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("AIGC_TEST_REDIS", "redis://127.0.0.1:6379/0")


def service_missing(what: str) -> None:
    message = f"{what} does not answer"
    if os.environ.get("AIGC_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}; AIGC_REQUIRE_SERVICES=1 forbids skipping its tests")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_admin() -> sa.Engine:
    engine = sa.create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
    except sa.exc.OperationalError:
        service_missing(f"PostgreSQL at {POSTGRES_ADMIN}")
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL database dropped after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'aigc.db'}"
        return
    admin = request.getfixturevalue("postgres_admin")
    name = f"aigc_test_{secrets.token_hex(6)}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield admin.url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError:
        service_missing(f"Redis at {REDIS_URL}")
    return REDIS_URL


# Redis databases a test may hold for itself: 0 keeps the claims, 13 is the benchmarks'.
BROKER_DATABASES = range(1, 13)
CLAIM_SECONDS = 3600  # a claim left by a killed test session expires


@pytest.fixture
def broker_url(redis_url: str) -> Iterator[str]:
    """A Redis database of this test's own, empty, as a broker URL.

    Tests running side by side (pytest-xdist workers, other sessions on the machine) each
    claim a different database number, so no worker of theirs takes another's tasks.
    """
    claims = redis.Redis.from_url(redis_url)
    token = secrets.token_hex(8)
    for number in BROKER_DATABASES:
        if claims.set(f"aigc-test-broker-{number}", token, nx=True, ex=CLAIM_SECONDS):
            break
    else:
        pytest.fail("every Redis database is held by another test: try again later")
    url = f"{redis_url.rsplit('/', 1)[0]}/{number}"
    redis.Redis.from_url(url).flushdb()
    yield url
    redis.Redis.from_url(url).flushdb()
    if claims.get(f"aigc-test-broker-{number}") == token.encode():
        claims.delete(f"aigc-test-broker-{number}")


def machine_lacks(what: str) -> None:
    """Skip a test for want of something on the machine, unless skipping is forbidden.

    AIGC_REQUIRE_SERVICES=1 (as in CI) forbids it for the services and packages the setup
    installs (PostgreSQL, Redis, Debian's fortunes): the skip becomes a failure.
    """
    message = f"this machine lacks {what}"
    if os.environ.get("AIGC_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}; AIGC_REQUIRE_SERVICES=1 forbids skipping its tests")
    pytest.skip(message)


@pytest.fixture(scope="session")
def docker_sandbox() -> DockerSandbox:
    """A Docker sandbox on the local engine (the runtime image is built if missing).

    Without an engine the test is skipped, unless AIGC_REQUIRE_DOCKER=1 (as in CI), which
    turns the skip into a failure. With AIGC_POOL_SIZE=N its agents start in warm
    containers (the hostile suite runs both ways).
    """
    client = docker_client()
    if client is None:
        message = "no Docker engine answers (start dockerd)"
        if os.environ.get("AIGC_REQUIRE_DOCKER") == "1":
            pytest.fail(f"{message}; AIGC_REQUIRE_DOCKER=1 forbids skipping Docker tests")
        pytest.skip(message)
    return DockerSandbox(client=client, pool_size=int(os.environ.get("AIGC_POOL_SIZE") or 0))
