"""Quotas: a rolling day and a total, per participant or team and phase."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from aigc.platform import challenges
from aigc.platform.models import Submission, Team, User
from aigc.platform.quotas import QuotaExceeded, check_quota, remaining
from aigc.submissions.challenge import Quotas

NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def world(api):
    """alice and bob in one team, carol alone; cartpole's id."""
    for name in ("alice", "bob", "carol"):
        api.account(name)
    with api.db.session() as session:
        team = Team(name="the-team", join_code="join-me")
        session.add(team)
        session.flush()
        for name in ("alice", "bob"):
            session.scalar(select(User).where(User.username == name)).team_id = team.id
        return challenges.find(session, "cartpole").id


def add(db, username: str, challenge_id: int, at: datetime, phase: str = "dev", **fields) -> None:
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        session.add(
            Submission(
                user_id=user.id,
                team_id=user.team_id,
                challenge_id=challenge_id,
                challenge_version=1,
                phase=phase,
                package_sha256="0" * 64,
                package_name="agent",
                filename="agent.zip",
                size_bytes=1,
                created_at=at,
                **fields,
            )
        )


def check(db, username: str, challenge_id: int, quotas: Quotas, at: datetime = NOON) -> None:
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        check_quota(session, user, challenge_id, "dev", quotas, at)


def test_daily_quota_says_when_the_next_submission_is_possible(api, world):
    for hours_ago in (20, 5, 1):
        add(api.db, "carol", world, NOON - timedelta(hours=hours_ago))
    check(api.db, "carol", world, Quotas(per_day=4))
    with pytest.raises(QuotaExceeded) as raised:
        check(api.db, "carol", world, Quotas(per_day=3))
    # The oldest of the three leaves the 24-hour window 4 hours from now.
    assert raised.value.retry_at == NOON + timedelta(hours=4)
    assert "the next is possible at 2026-11-22 16:00 UTC (in 4 h 0 min)" in str(raised.value)
    with pytest.raises(QuotaExceeded) as raised:
        check(api.db, "carol", world, Quotas(per_day=2))
    assert raised.value.retry_at == NOON + timedelta(hours=19)


def test_submissions_older_than_a_day_do_not_count(api, world):
    add(api.db, "carol", world, NOON - timedelta(hours=25))
    add(api.db, "carol", world, NOON - timedelta(hours=24, seconds=1))
    check(api.db, "carol", world, Quotas(per_day=1))


def test_total_quota_has_no_next_time(api, world):
    add(api.db, "carol", world, NOON - timedelta(days=10))
    add(api.db, "carol", world, NOON - timedelta(days=3))
    with pytest.raises(QuotaExceeded) as raised:
        check(api.db, "carol", world, Quotas(total=2))
    assert raised.value.retry_at is None
    assert "used all 2 submissions allowed to phase 'dev'" in str(raised.value)


def test_platform_failures_do_not_count(api, world):
    add(api.db, "carol", world, NOON - timedelta(hours=1), platform_failure=True, status="failed")
    add(api.db, "carol", world, NOON - timedelta(hours=1), platform_failure=True, status="failed")
    check(api.db, "carol", world, Quotas(per_day=1, total=1))


def test_agent_failures_do_count(api, world):
    add(api.db, "carol", world, NOON - timedelta(hours=1), status="failed", failure_code="x")
    with pytest.raises(QuotaExceeded):
        check(api.db, "carol", world, Quotas(per_day=1))


def test_a_team_shares_its_quota(api, world):
    add(api.db, "alice", world, NOON - timedelta(hours=2))
    with pytest.raises(QuotaExceeded) as raised:
        check(api.db, "bob", world, Quotas(per_day=1))
    assert "team 'the-team'" in str(raised.value)
    check(api.db, "carol", world, Quotas(per_day=1))  # not in the team


def test_quotas_are_per_phase_and_challenge(api, world):
    add(api.db, "carol", world, NOON - timedelta(hours=1), phase="test")
    check(api.db, "carol", world, Quotas(per_day=1))
    with api.db.session() as session:
        taxi = challenges.find(session, "taxi").id
    add(api.db, "carol", taxi, NOON - timedelta(hours=1))
    check(api.db, "carol", world, Quotas(per_day=1))


def test_upload_over_the_quota_is_429_with_retry_at(api):
    spec = """
id: tight
title: One a day
environment: {id: CartPole-v1}
phases: [{id: dev, episodes: 2, seeds: {first: 0}}]
quotas: {per_day: 1}
"""
    orga = api.organizer()
    headers = {**orga.headers, "Content-Type": "application/yaml"}
    assert api.client.post("/api/v1/challenges", data=spec, headers=headers).status_code == 201
    from .conftest import zip_agent

    erin = api.account("erin")
    assert api.upload(erin, zip_agent("good"), challenge="tight").status_code == 201
    refused = api.upload(erin, zip_agent("good"), challenge="tight")
    assert refused.status_code == 429
    error = refused.json["error"]
    assert "daily quota" in error["message"] and error["retry_at"].endswith("Z")


def left(db, username: str, challenge_id: int, quotas: Quotas, at: datetime = NOON):
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        return remaining(session, user, challenge_id, "dev", quotas, at)


def test_remaining_counts_as_the_check_does(api, world):
    for hours_ago in (30, 20, 5):
        add(api.db, "carol", world, NOON - timedelta(hours=hours_ago))
    add(api.db, "carol", world, NOON - timedelta(hours=1), platform_failure=True, status="failed")
    found = left(api.db, "carol", world, Quotas(per_day=3, total=10))
    assert (found.used_today, found.used_total) == (2, 3)
    assert (found.left_today, found.left_total, found.next_at) == (1, 7, None)
    # The total caps what is left today; a used-up day says when it frees a place.
    assert left(api.db, "carol", world, Quotas(per_day=3, total=4)).left_today == 1
    assert left(api.db, "carol", world, Quotas(per_day=3, total=3)).left_today == 0
    used_up = left(api.db, "carol", world, Quotas(per_day=2))
    assert (used_up.left_today, used_up.left_total) == (0, None)
    assert used_up.next_at == NOON + timedelta(hours=4)
    with pytest.raises(QuotaExceeded) as raised:
        check(api.db, "carol", world, Quotas(per_day=2))
    assert raised.value.retry_at == used_up.next_at
    unlimited = left(api.db, "carol", world, Quotas())
    assert (unlimited.left_today, unlimited.left_total) == (None, None)
    # A team's members share what is left.
    add(api.db, "alice", world, NOON - timedelta(hours=2))
    assert left(api.db, "bob", world, Quotas(per_day=3)).left_today == 2


def test_the_api_says_what_is_left_per_phase(api):
    spec = """
id: counted
title: Counted
environment: {id: CartPole-v1}
phases:
  - {id: dev, episodes: 2, seeds: {first: 0}}
  - {id: final, visibility: hidden, episodes: 2, seeds: {first: 9}}
quotas: {per_day: 2, total: 3}
"""
    orga = api.organizer()
    headers = {**orga.headers, "Content-Type": "application/yaml"}
    assert api.client.post("/api/v1/challenges", data=spec, headers=headers).status_code == 201
    from .conftest import zip_agent

    erin = api.account("erin")
    assert api.upload(erin, zip_agent("good"), challenge="counted").status_code == 201
    answer = api.client.get("/api/v1/challenges/counted/quota", headers=erin.headers)
    assert answer.status_code == 200
    body = answer.json
    assert body["challenge"] == "counted"
    assert body["max_upload_bytes"] == api.app.extensions["aigc"].settings.max_upload_bytes
    dev, final = body["phases"]
    assert dev == {
        "phase": "dev", "per_day": 2, "total": 3, "used_today": 1, "used_total": 1,
        "left_today": 1, "left_total": 2, "next_at": None,
    }  # fmt: skip
    assert final["phase"] == "final" and final["left_today"] == 2
    assert api.client.get("/api/v1/challenges/counted/quota").status_code == 401
    missing = api.client.get("/api/v1/challenges/nope/quota", headers=erin.headers)
    assert missing.status_code == 404
