"""GET /api/v1/submissions/<id>?wait=S: the answer comes once the submission changes.

Every test here sets the waiters' reading of the row (``changes.RECHECK``) far beyond the
test's own patience where it proves that the word of a change wakes a request, so a request
that wakes did so because it was told, not because it looked again.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url, update

from aigc.platform import changes
from aigc.platform import worker_run as ev
from aigc.platform.models import Submission
from aigc.submissions.results import EvaluationResult
from tests.platform.conftest import Account, Api, error, zip_agent
from tests.waiting import wait_for

REPO = Path(__file__).parents[2]
PATIENCE = 20.0  # seconds a test gives a request it expects to end


class Asking(threading.Thread):
    """One GET of a submission with ?wait, in a thread with its own test client."""

    def __init__(self, api: Api, who: Account, submission_id: int, wait: str):
        super().__init__(daemon=True)
        self.api, self.who, self.path = api, who, f"/api/v1/submissions/{submission_id}"
        self.wait, self.answer = wait, None
        self.status_code: int | None = None

    def run(self) -> None:
        client = self.api.app.test_client()
        response = client.get(self.path, query_string={"wait": self.wait}, headers=self.who.headers)
        self.status_code, self.answer = response.status_code, response.get_json()

    def answered(self) -> dict[str, Any]:
        self.join(PATIENCE)
        assert not self.is_alive(), "the request still waits"
        assert self.status_code == 200, self.answer
        assert self.answer is not None
        return self.answer


def waiting_for(api: Api, who: Account, submission_id: int, wait: str = "30") -> Asking:
    """Start a waiting request and return once it waits."""
    before = changes.waiting()
    asking = Asking(api, who, submission_id, wait)
    asking.start()
    wait_for(lambda: changes.waiting() > before, PATIENCE, "the request to wait", every=0.01)
    return asking


@pytest.fixture
def queued(api: Api) -> tuple[Account, int]:
    alice = api.account("alice")
    response = api.upload(alice, zip_agent("good"))
    assert response.status_code == 201, response.json
    return alice, int(response.json["id"])


@pytest.fixture
def told_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Waiting requests read the row again only when told of a change."""
    monkeypatch.setattr(changes, "RECHECK", 3600.0)


def test_a_waiting_request_answers_when_the_submission_starts_and_when_it_is_scored(
    api: Api, queued: tuple[Account, int], told_only: None
) -> None:
    alice, submission_id = queued
    asking = waiting_for(api, alice, submission_id)
    held = ev.claim(api.db, submission_id, 60, "test")
    assert held is not None
    assert asking.answered()["status"] == "running"

    asking = waiting_for(api, alice, submission_id)
    result = EvaluationResult("cartpole", "dev", "good", 0, metrics={"mean_return": None})
    assert ev.record_result(api.db, held, result)
    answer = asking.answered()
    assert answer["status"] == "finished"
    assert answer["result"] is not None  # stored with the status, in one commit


def test_a_change_in_another_process_wakes_the_request(
    api: Api, queued: tuple[Account, int], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Celery worker is another process: on PostgreSQL its word comes by NOTIFY; on
    SQLite (one process embedded) a waiting request sees the change when it reads again."""
    if make_url(database_url).get_backend_name() != "postgresql":
        monkeypatch.setattr(changes, "RECHECK", 0.05)
    else:
        monkeypatch.setattr(changes, "RECHECK", 3600.0)
    alice, submission_id = queued
    asking = waiting_for(api, alice, submission_id)
    claim = (
        "import sys; from aigc.platform.db import Database; from aigc.platform import "
        "worker_run as ev; assert ev.claim(Database(sys.argv[1]), int(sys.argv[2]), 60, 'other')"
    )
    subprocess.run(
        [sys.executable, "-c", claim, database_url, str(submission_id)],
        check=True,
        cwd=REPO,
        timeout=60,
    )
    assert asking.answered()["status"] == "running"


def test_a_change_told_by_nobody_is_seen_when_the_request_reads_again(
    api: Api, queued: tuple[Account, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes, "RECHECK", 0.05)
    alice, submission_id = queued
    asking = waiting_for(api, alice, submission_id)
    with api.db.session() as session:  # by hand: no word of it
        session.execute(
            update(Submission).where(Submission.id == submission_id).values(status="cancelled")
        )
    assert asking.answered()["status"] == "cancelled"


def test_a_wait_without_a_change_answers_the_submission_as_it_is(
    api: Api, queued: tuple[Account, int]
) -> None:
    alice, submission_id = queued
    answer = Asking(api, alice, submission_id, "0.2")
    answer.start()
    assert answer.answered()["status"] == "queued"


def test_an_ended_submission_is_answered_without_waiting(
    api: Api, queued: tuple[Account, int], told_only: None
) -> None:
    alice, submission_id = queued
    response = api.client.post(f"/api/v1/submissions/{submission_id}/cancel", headers=alice.headers)
    assert response.status_code == 200, response.json
    before = changes.waiting()
    asking = Asking(api, alice, submission_id, "30")
    asking.start()
    assert asking.answered()["status"] == "cancelled"
    assert changes.waiting() == before


def test_cancelling_a_queued_submission_wakes_its_waiters(
    api: Api, queued: tuple[Account, int], told_only: None
) -> None:
    alice, submission_id = queued
    asking = waiting_for(api, alice, submission_id)
    response = api.client.post(f"/api/v1/submissions/{submission_id}/cancel", headers=alice.headers)
    assert response.status_code == 200, response.json
    assert asking.answered()["status"] == "cancelled"


def test_beyond_the_waiting_requests_a_process_holds_the_others_are_answered_at_once(
    api: Api, queued: tuple[Account, int], told_only: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes, "MAX_WAITING", 1)
    alice, submission_id = queued
    first = waiting_for(api, alice, submission_id)
    second = Asking(api, alice, submission_id, "30")
    second.start()
    assert second.answered()["status"] == "queued"
    assert first.is_alive()  # it still holds its place
    assert ev.claim(api.db, submission_id, 60, "test") is not None
    assert first.answered()["status"] == "running"
    assert changes.waiting() == 0


def test_a_waiting_request_sees_only_what_its_viewer_may(
    api: Api, queued: tuple[Account, int], told_only: None
) -> None:
    """Someone else's submission is not found, whether one waits for it or not."""
    _alice, submission_id = queued
    bob = api.account("bob")
    response = api.client.get(
        f"/api/v1/submissions/{submission_id}", query_string={"wait": "30"}, headers=bob.headers
    )
    assert "no submission" in error(response, 404)
    assert changes.waiting() == 0


@pytest.mark.parametrize("wait", ["-1", "31", "nan", "inf", "soon", "1e400"])
def test_a_wait_out_of_range_is_refused_with_the_range(
    api: Api, queued: tuple[Account, int], wait: str
) -> None:
    alice, submission_id = queued
    response = api.client.get(
        f"/api/v1/submissions/{submission_id}", query_string={"wait": wait}, headers=alice.headers
    )
    assert "wait must be a number of seconds from 0 to 30" in error(response, 400)


def test_a_rolled_back_change_tells_nobody(api: Api, queued: tuple[Account, int]) -> None:
    _alice, submission_id = queued
    woken = threading.Event()
    with changes._waiters.lock:  # a waiter of our own, to look at its event
        changes._waiters.events.setdefault(submission_id, set()).add(woken)
    try:
        with pytest.raises(RuntimeError), api.db.session() as session:
            changes.announce(session, submission_id)
            raise RuntimeError("rolled back")
        assert not woken.is_set()
        with api.db.session() as session:
            changes.announce(session, submission_id)
        assert woken.is_set()
    finally:
        with changes._waiters.lock:
            changes._waiters.events.pop(submission_id, None)
