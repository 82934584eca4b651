"""Fixtures shared by every test folder."""

from __future__ import annotations

import os

import pytest

from aigc.submissions.docker_sandbox import DockerSandbox, docker_client
from tests.hostile_summary import (  # noqa: F401 (the hostile suite's summary, for every folder)
    pytest_runtest_logreport,
    pytest_terminal_summary,
)


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
    turns the skip into a failure.
    """
    client = docker_client()
    if client is None:
        message = "no Docker engine answers (start dockerd)"
        if os.environ.get("AIGC_REQUIRE_DOCKER") == "1":
            pytest.fail(f"{message}; AIGC_REQUIRE_DOCKER=1 forbids skipping Docker tests")
        pytest.skip(message)
    return DockerSandbox(client=client)
