"""A challenge whose environment cannot be built: shown as unavailable, every other page serves.

The environment is registered only in this test process, then removed as a restart without
it would leave it; the platform's caches are dropped as a restart drops them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import gymnasium as gym
import pytest

from aigc.platform import challenges
from aigc.platform.context import platform
from aigc.platform.settings import Settings
from aigc.platform.startup import start
from aigc.platform.worker_run import DONE, run_submission
from aigc.submissions.sandbox import LocalSandbox

from .conftest import Api, RecordingQueue, error, zip_agent
from .forms import signed_in

VANISHING = "aigc-test/Vanishing-v0"


def spec(env_id: str = VANISHING, title: str = "Vanishing pole") -> str:
    return f"""\
id: vanishing
title: {title}
environment: {{id: {env_id}}}
phases:
  - {{id: dev, episodes: 2, seeds: [1, 2]}}
"""


@pytest.fixture
def vanished(api: Api, settings: Settings) -> Iterator[Api]:
    """An app restarted after the environment of challenge 'vanishing' went away."""
    gym.register(VANISHING, entry_point="gymnasium.envs.classic_control:CartPoleEnv")
    try:
        organizer = api.organizer()
        response = api.client.post(
            "/api/v1/challenges",
            data=spec(),
            content_type="application/yaml",
            headers=organizer.headers,
        )
        assert response.status_code == 201, response.get_json()
    finally:
        del gym.envs.registry[VANISHING]
    challenges.forget_parsed()
    restarted = Api(start(settings, queue=RecordingQueue()).app, api.db)
    restarted.organizer_account = organizer  # type: ignore[attr-defined]
    yield restarted


PAGES = (
    "/",
    "/challenges/vanishing",
    "/challenges/cartpole",
    "/challenges/vanishing/leaderboard?phase=dev",
    "/challenges/cartpole/leaderboard",
    "/api/v1/challenges",
    "/api/v1/challenges/vanishing",
    "/api/v1/challenges/vanishing/leaderboard?phase=dev",
)


def test_every_page_serves_and_names_the_reason(vanished: Api) -> None:
    for path in PAGES:
        response = vanished.client.get(path)
        assert response.status_code == 200, (path, response.data[:300])
    body = vanished.client.get("/api/v1/challenges").get_json()
    listed = {c["id"]: c for c in body["challenges"]}
    assert listed["cartpole"]["available"] is True
    assert listed["cartpole"]["unavailable_reason"] is None
    assert listed["vanishing"]["available"] is False
    assert VANISHING in listed["vanishing"]["unavailable_reason"]
    page = vanished.client.get("/challenges/vanishing").get_data(as_text=True)
    assert "unavailable" in page and VANISHING in page
    assert "unavailable" in vanished.client.get("/").get_data(as_text=True)


def test_submit_page_serves_and_uploads_are_refused_with_the_reason(vanished: Api) -> None:
    alice = vanished.account("alice")
    browser = signed_in(vanished, alice)
    for path in ("/submit", "/submit?challenge=vanishing"):
        assert browser.get(path).status_code == 200, path
    message = error(vanished.upload(alice, zip_agent("good"), challenge="vanishing"), 409)
    assert "unavailable" in message and VANISHING in message and "organizer" in message
    assert vanished.upload(alice, zip_agent("good")).status_code == 201


def test_the_organizer_can_still_update_it(vanished: Api) -> None:
    organizer = vanished.organizer_account  # type: ignore[attr-defined]
    response = vanished.client.put(
        "/api/v1/challenges/vanishing",
        json={"spec_yaml": spec("CartPole-v1", "Pole again")},
        headers=organizer.headers,
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["version"] == 2 and body["available"] is True
    assert body["title"] == "Pole again"


def test_a_queued_submission_of_it_fails_as_the_platform_s_not_the_agent_s(
    api: Api, settings: Settings
) -> None:
    organizer, alice = api.organizer(), api.account("alice")
    gym.register(VANISHING, entry_point="gymnasium.envs.classic_control:CartPoleEnv")
    try:
        created = api.client.post(
            "/api/v1/challenges",
            data=spec(),
            content_type="application/yaml",
            headers=organizer.headers,
        )
        assert created.status_code == 201
        response = api.upload(alice, zip_agent("good"), challenge="vanishing")
        assert response.status_code == 201
    finally:
        del gym.envs.registry[VANISHING]
    challenges.forget_parsed()  # the worker restarted without the environment
    submission_id = response.get_json()["id"]
    settings = dataclasses.replace(settings, max_attempts=1)
    outcome = run_submission(
        api.db, settings, platform(api.app).store, submission_id, LocalSandbox, worker="t"
    )
    assert outcome == DONE
    body = api.client.get(f"/api/v1/submissions/{submission_id}", headers=alice.headers)
    assert body.status_code == 200
    submission = body.get_json()
    assert submission["status"] == "failed"
    assert submission["platform_failure"] is True
    assert submission["failure"]["code"] == "environment_error"
    assert VANISHING in submission["failure"]["message"]
