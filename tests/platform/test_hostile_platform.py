"""Hostile agents through a worker's evaluation in the real Docker sandbox, on both databases.

Each attack here aims past the sandbox, at what the platform does with an agent's output:
store it (NUL bytes, every byte value), print it (terminal escapes, bidi controls) or show
it on a hidden phase (a value smuggled out through where the agent fails); the agent that
replays seeds to rank higher runs in Docker in test_seeds.py. Each test evaluates the agent
as a worker does and checks what its owner and the organizers then get.
"""

from __future__ import annotations

import re

import pytest

from aigc.cli.client import terminal_safe
from aigc.platform import worker_run as ev
from aigc.platform.models import Submission
from aigc.platform.statuses import SubmissionStatus as Status
from aigc.platform.visibility import HIDDEN_FAILURES, HIDDEN_NOTE
from aigc.safe_text import REPLACEMENT
from aigc.submissions import results as r

from .conftest import zip_hostile

pytestmark = [pytest.mark.slow, pytest.mark.hostile]

CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def evaluated(api, docker_sandbox, who, name: str, challenge: str = "cartpole", phase="dev"):
    """Upload a hostile agent and evaluate it in Docker as a worker does; its id."""
    platform = api.app.extensions["aigc"]
    response = api.upload(who, zip_hostile(name), challenge=challenge, phase=phase)
    assert response.status_code == 201, response.json
    submission_id = response.json["id"]
    outcome = ev.run_submission(
        platform.db, platform.settings, platform.store, submission_id, lambda: docker_sandbox
    )
    assert outcome == ev.DONE
    return submission_id


def row(api, submission_id: int) -> Submission:
    with api.db.session() as session:
        return session.get_one(Submission, submission_id)


def test_every_byte_value_on_stdout_is_stored_and_printed_harmlessly(api, docker_sandbox):
    alice = api.account("alice")
    number = evaluated(api, docker_sandbox, alice, "binary_output")
    stored = row(api, number)
    assert stored.status == Status.FINISHED and stored.attempts == 1 and not stored.platform_failure
    assert "\x00" not in stored.logs and REPLACEMENT in stored.logs
    logs = api.client.get(f"/api/v1/submissions/{number}/logs", headers=alice.headers).json
    printed = terminal_safe(logs)["logs"]  # what aigc logs prints
    assert "PASSED all checks" in printed and "\\x1b]52;c;" in printed
    assert not CONTROLS.search(printed.replace("\n", "").replace("\t", ""))


def test_a_failure_message_full_of_escapes_is_stored_escaped(api, docker_sandbox):
    bob = api.account("bob")
    stored = row(api, evaluated(api, docker_sandbox, bob, "escape_failure"))
    assert stored.status == Status.FAILED and stored.failure_code == r.AGENT_ERROR
    assert "\\x1b[2J\\x1b]0;owned\\x07\\x9b31m red \\u202eevil" in stored.failure_message
    assert not CONTROLS.search(stored.failure_message)


def test_a_hidden_phase_agent_reaches_its_owner_only_as_status_and_code(api, docker_sandbox):
    carol, orga = api.account("carol"), api.organizer()
    number = evaluated(api, docker_sandbox, carol, "hidden_leak", phase="test")
    told = api.client.get(f"/api/v1/submissions/{number}", headers=orga.headers).json
    assert told["failure"]["code"] == r.AGENT_ERROR and told["episodes_done"] >= 1
    body = api.client.get(f"/api/v1/submissions/{number}", headers=carol.headers).json
    assert body["episodes_done"] is None and body["result"] is None
    assert body["failure"]["message"] == f"{HIDDEN_FAILURES[r.AGENT_ERROR]} ({HIDDEN_NOTE})"
    assert body["started_at"].endswith(":00Z") and body["finished_at"].endswith(":00Z")
