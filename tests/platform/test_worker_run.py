"""The status machine on a worker: claims, leases, retries, results written once."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from aigc.platform import submission_actions as service
from aigc.platform import worker_run as ev
from aigc.platform.models import EpisodeRow, Evaluation, Submission, now
from aigc.platform.statuses import SubmissionStatus as Status
from aigc.submissions.results import AGENT_START_FAILED, EvaluationResult
from aigc.submissions.sandbox import LocalSandbox, SandboxError
from tests.waiting import wait_for

from .conftest import zip_agent


@pytest.fixture
def platform(api):
    return api.app.extensions["aigc"]


@pytest.fixture
def submission_id(api):
    response = api.upload(api.account("alice"), zip_agent("good"))
    assert response.status_code == 201, response.json
    return response.json["id"]


def state(db, submission_id: int) -> Submission:
    with db.session() as session:
        return session.get_one(Submission, submission_id)


def evaluations(db, submission_id: int) -> int:
    with db.session() as session:
        query = select(func.count()).select_from(Evaluation)
        return session.scalar(query.where(Evaluation.submission_id == submission_id)) or 0


def run(platform, submission_id: int, sandbox=LocalSandbox, settings=None) -> str:
    settings = settings or platform.settings
    return ev.run_submission(platform.db, settings, platform.store, submission_id, sandbox)


def test_claim_moves_queued_to_running_once(platform, submission_id):
    first = ev.claim(platform.db, submission_id, 60, "worker-a")
    assert first is not None and first.attempt == 1
    assert ev.claim(platform.db, submission_id, 60, "worker-b") is None
    row = state(platform.db, submission_id)
    assert (
        row.status == Status.RUNNING and row.worker == "worker-a" and row.claim_token == first.token
    )


def test_only_one_of_many_concurrent_claims_wins(platform, submission_id):
    claims, barrier = [], threading.Barrier(8)

    def contend(i: int) -> None:
        barrier.wait()
        claims.append(ev.claim(platform.db, submission_id, 60, f"worker-{i}"))

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([c for c in claims if c is not None]) == 1
    assert state(platform.db, submission_id).attempts == 1


def test_expired_lease_can_be_claimed_again(platform, submission_id):
    first = ev.claim(platform.db, submission_id, 60, "dead-worker")
    assert ev.claim(platform.db, submission_id, 60, "other") is None  # the lease holds
    with platform.db.session() as session:
        session.execute(update(Submission).values(lease_expires_at=now() - timedelta(seconds=1)))
    second = ev.claim(platform.db, submission_id, 60, "other")
    assert second is not None and second.attempt == 2 and second.token != first.token
    # The dead worker's result, should it still arrive, is dropped: scored once.
    assert not ev.record_result(platform.db, first, EvaluationResult("cartpole", "dev", "x", 1))
    assert ev.record_result(platform.db, second, EvaluationResult("cartpole", "dev", "x", 1))
    assert evaluations(platform.db, submission_id) == 1
    assert not ev.record_result(platform.db, second, EvaluationResult("cartpole", "dev", "x", 1))
    assert evaluations(platform.db, submission_id) == 1


@pytest.mark.parametrize("status", [Status.FINISHED, Status.FAILED, Status.CANCELLED])
def test_ended_submissions_are_not_claimed(platform, submission_id, status):
    with platform.db.session() as session:
        session.execute(update(Submission).values(status=status))
    assert ev.claim(platform.db, submission_id, 60, "worker") is None


def test_good_agent_is_scored_and_stored(platform, submission_id):
    assert run(platform, submission_id) == ev.DONE
    row = state(platform.db, submission_id)
    assert row.status == Status.FINISHED and row.failure_code is None and row.claim_token is None
    assert row.episodes_done == row.episodes_total == 100
    with platform.db.session() as session:
        stored = session.scalar(select(Evaluation).where(Evaluation.submission_id == submission_id))
        assert stored is not None and stored.score == stored.metrics["mean_return"] > 100
        count = session.scalar(select(func.count()).select_from(EpisodeRow))
        assert count == 100
        # The phase's fixed seeds, in an order of this submission's own.
        assert sorted(e.seed for e in stored.episodes) == list(range(1000, 1100))
    assert run(platform, submission_id) == ev.SKIPPED  # a second delivery changes nothing
    assert evaluations(platform.db, submission_id) == 1


def test_agent_failure_fails_the_submission_and_counts(api, platform):
    response = api.upload(api.account("carol"), zip_agent("crash_init"))
    submission_id = response.json["id"]
    assert run(platform, submission_id) == ev.DONE
    row = state(platform.db, submission_id)
    assert row.status == Status.FAILED and row.failure_code == AGENT_START_FAILED
    assert "weights.npy is missing" in row.failure_message
    assert row.platform_failure is False


def test_platform_failure_is_retried_then_given_up(platform, submission_id):
    def broken_sandbox():
        raise SandboxError("the Docker engine went away")

    for attempt in range(1, platform.settings.max_attempts):
        assert run(platform, submission_id, broken_sandbox) == ev.RETRY
        row = state(platform.db, submission_id)
        assert row.status == Status.QUEUED and row.attempts == attempt and row.claim_token is None
    assert run(platform, submission_id, broken_sandbox) == ev.DONE
    row = state(platform.db, submission_id)
    assert row.status == Status.FAILED and row.platform_failure is True
    assert row.failure_code == ev.PLATFORM_ERROR
    assert "the Docker engine went away" in row.failure_message
    assert "an organizer can run it again" in row.failure_message


def test_repeatedly_interrupted_evaluation_fails_as_the_platforms_fault(platform, submission_id):
    with platform.db.session() as session:
        session.execute(
            update(Submission).values(
                status=Status.RUNNING,
                attempts=platform.settings.max_attempts,
                lease_expires_at=now() - timedelta(seconds=1),
            )
        )
    assert run(platform, submission_id) == ev.DONE
    row = state(platform.db, submission_id)
    assert (
        row.status == Status.FAILED and row.failure_code == ev.INTERRUPTED and row.platform_failure
    )
    assert f"interrupted {platform.settings.max_attempts} times" in row.failure_message


SLOW_CHALLENGE = """
id: slow-cartpole
title: Slow CartPole
environment: {id: CartPole-v1}
phases: [{id: dev, episodes: 3, seeds: {first: 0}}]
limits: {step_timeout: 5s}
"""


def slow_submission(api, username: str) -> int:
    """A submission of the agent that answers in 0.2 s, on a challenge of 3 short episodes."""
    orga = api.organizer()
    created = api.client.post(
        "/api/v1/challenges",
        data=SLOW_CHALLENGE,
        headers={**orga.headers, "Content-Type": "application/yaml"},
    )
    assert created.status_code == 201, created.json
    response = api.upload(api.account(username), zip_agent("slow"), challenge="slow-cartpole")
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_cancel_while_running_stops_within_a_round_trip(api, platform):
    submission_id = slow_submission(api, "dave")
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(run(platform, submission_id)))
    worker.start()
    wait_for(lambda: state(platform.db, submission_id).status == Status.RUNNING, 60, "it to run")
    with platform.db.session() as session:
        service.cancel(session.get_one(Submission, submission_id))
    worker.join(timeout=120)
    assert outcome == [ev.DONE]
    row = state(platform.db, submission_id)
    assert row.status == Status.CANCELLED and row.failure_code == ev.CANCELLED_CODE
    assert evaluations(platform.db, submission_id) == 0


def test_the_episode_count_is_stored_as_episodes_end_not_only_with_the_lease(api, platform):
    """With a lease of an hour its renewal comes every 15 minutes: the count that
    aigc submit --wait and the page show comes once an episode has ended."""
    submission_id = slow_submission(api, "erin")
    settings = dataclasses.replace(platform.settings, lease_seconds=3600)
    outcome: list[str] = []

    worker = threading.Thread(
        target=lambda: outcome.append(run(platform, submission_id, settings=settings))
    )
    worker.start()

    def counted_while_running() -> bool:
        row = state(platform.db, submission_id)
        assert row.status in (Status.QUEUED, Status.RUNNING), "it ended before its count showed"
        return row.status == Status.RUNNING and row.episodes_done >= 1

    wait_for(counted_while_running, 60, "the first episode's count", every=0.05)
    worker.join(timeout=120)
    assert outcome == [ev.DONE]
    assert state(platform.db, submission_id).episodes_done == 3


def test_heartbeat_renews_the_lease(platform, submission_id):
    held = ev.claim(platform.db, submission_id, 5, "worker")
    before = state(platform.db, submission_id).lease_expires_at
    heartbeat = ev.Heartbeat(platform.db, held, 5)
    heartbeat.episodes_done = 7
    heartbeat.beat()
    row = state(platform.db, submission_id)
    assert row.lease_expires_at > before and row.episodes_done == 7
    with platform.db.session() as session:
        session.execute(update(Submission).values(claim_token="someone-else"))
    heartbeat.beat()
    assert heartbeat.stop.is_set() and not heartbeat.cancelled


def test_stale_submissions_are_found(platform, submission_id):
    assert ev.stale_submissions(platform.db, timedelta(hours=1)) == []
    assert ev.stale_submissions(platform.db, timedelta(0)) == [submission_id]
    ev.claim(platform.db, submission_id, 60, "worker")
    assert ev.stale_submissions(platform.db, timedelta(0)) == []
    with platform.db.session() as session:
        session.execute(update(Submission).values(lease_expires_at=now() - timedelta(seconds=1)))
    assert ev.stale_submissions(platform.db, timedelta(hours=1)) == [submission_id]


def test_rerun_resets_and_scores_again_once(api, platform, submission_id):
    run(platform, submission_id)
    orga = api.organizer()
    response = api.client.post(f"/api/v1/submissions/{submission_id}/rerun", headers=orga.headers)
    assert response.status_code == 200 and response.json["status"] == Status.QUEUED
    assert response.json["result"] is None and evaluations(platform.db, submission_id) == 0
    assert run(platform, submission_id) == ev.DONE
    row = state(platform.db, submission_id)
    assert row.status == Status.FINISHED and row.attempts == 1
    assert evaluations(platform.db, submission_id) == 1
