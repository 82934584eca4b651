"""Per-episode results, replays and text samples through the API and the submission page,
on SQLite and PostgreSQL; a hidden phase shows none of it to its participant."""

from __future__ import annotations

import dataclasses
import io

import imageio.v3 as iio
import pytest

from aigc.platform import worker_run as ev
from aigc.platform.replay_cache import cache_for, render_replay
from aigc.platform.storage import PackageStore
from aigc.submissions.challenge import EnvironmentSpec
from aigc.submissions.replay import replay_episode
from aigc.submissions.results import EpisodeResult, EvaluationResult, Failure
from aigc.submissions.sandbox import LocalSandbox

from .conftest import Api, error, zip_agent
from .forms import signed_in, text


def evaluated(api: Api, who, settings, phase: str = "dev", episodes: int = 5) -> int:
    """Upload the good test agent and evaluate it here for real (local sandbox)."""
    spec_settings = settings.with_(max_evaluation_seconds=120)
    response = api.upload(who, zip_agent("good"), phase=phase)
    assert response.status_code == 201, response.get_json()
    submission_id = response.get_json()["id"]
    store = PackageStore(settings.storage_dir)
    from aigc.platform import challenges as platform_challenges

    original = platform_challenges.spec_of

    def fewer(challenge, version=None):  # a handful of episodes keeps the test quick
        spec = original(challenge, version)
        phases = tuple(
            dataclasses.replace(p, episodes=episodes) if p.id == phase else p for p in spec.phases
        )
        return dataclasses.replace(spec, phases=phases)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(platform_challenges, "spec_of", fewer)
        outcome = ev.run_submission(api.db, spec_settings, store, submission_id, LocalSandbox)
    assert outcome == ev.DONE
    return submission_id


def test_every_episode_is_listed_with_its_recording_and_replays_as_recorded(api, settings):
    alice = api.account("alice")
    submission_id = evaluated(api, alice, settings)
    listed = api.client.get(f"/api/v1/submissions/{submission_id}/episodes", headers=alice.headers)
    assert listed.status_code == 200, listed.get_json()
    rows = listed.get_json()["episodes"]
    assert [r["index"] for r in rows] == list(range(5))
    assert all(r["seed"] is not None and r["length"] > 0 for r in rows)
    one = api.client.get(
        f"/api/v1/submissions/{submission_id}/episodes/2", headers=alice.headers
    ).get_json()
    env, e = one["environment"], one["episode"]
    assert env["id"] == "CartPole-v1" and e["actions"]
    episode = EpisodeResult(
        e["index"], e["seed"], e["return"], e["length"], 0.0, e["terminated"], e["truncated"],
        actions=e["actions"],
    )  # fmt: skip
    played = replay_episode(EnvironmentSpec(env["id"], env["kwargs"]), episode)
    assert played.total_return == e["return"]
    missing = api.client.get(
        f"/api/v1/submissions/{submission_id}/episodes/9", headers=alice.headers
    )
    assert "has no episode 9" in error(missing, 404)
    for odd in ("²", "99999999999999999999", "-1", "x"):
        url = f"/api/v1/submissions/{submission_id}/episodes/{odd}"
        assert "has no episode" in error(api.client.get(url, headers=alice.headers), 404)
    bob = api.account("bob")
    other = api.client.get(f"/api/v1/submissions/{submission_id}/episodes", headers=bob.headers)
    error(other, 404)


def test_the_page_shows_the_episode_table_and_renders_replays_on_first_view(api, settings):
    alice = api.account("alice")
    submission_id = evaluated(api, alice, settings)
    browser = signed_in(api, alice)
    page = text(browser.get(f"/my/submissions/{submission_id}"))
    assert 'id="episodes"' in page and "data-sortable" in page
    assert page.count('<tr id="episode-') == 5
    assert "rendering…" in page and 'id="replays"' in page
    asked = sorted(set(api.queue.renders))
    assert asked and all(s == submission_id for s, _ in asked)
    # A second view does not queue them again while they are being rendered.
    browser.get(f"/my/submissions/{submission_id}")
    assert sorted(set(api.queue.renders)) == asked and len(api.queue.renders) == len(asked)
    cache = cache_for(settings.storage_dir)
    for _, index in asked:
        state = browser.get(f"/my/submissions/{submission_id}/replays/{index}.json").get_json()
        assert state["state"] == "rendering"
        assert render_replay(api.db, cache, submission_id, index) == "ready"
        state = browser.get(f"/my/submissions/{submission_id}/replays/{index}.json").get_json()
        assert state["state"] == "ready" and state["kind"] == "image"
        gif = browser.get(state["url"])
        assert gif.status_code == 200 and gif.mimetype == "image/gif"
        frames = iio.imread(io.BytesIO(gif.data), index=None, extension=".gif")
        assert frames.shape[2] <= 320
    page = text(browser.get(f"/my/submissions/{submission_id}"))
    assert "rendering…" not in page
    assert f'src="/my/submissions/{submission_id}/replays/' in page
    # A row's link asks for that episode's replay.
    page = text(browser.get(f"/my/submissions/{submission_id}?replay=4"))
    assert 'id="replay-4"' in page


def _stored(api: Api, who, challenge: str, phase: str, episodes: list[EpisodeResult]) -> int:
    response = api.upload(who, zip_agent("good"), challenge=challenge, phase=phase)
    assert response.status_code == 201, response.get_json()
    submission_id = response.get_json()["id"]
    held = ev.claim(api.db, submission_id, 60, "test")
    result = EvaluationResult(challenge, phase, "good", len(episodes), episodes, {})
    assert ev.record_result(api.db, held, result)
    return submission_id


def test_a_hidden_phase_shows_no_episode_replay_or_seed_to_its_participant(api, settings):
    alice, orga = api.account("alice"), api.organizer()
    episode = EpisodeResult(0, 918273645, 42.0, 42, 0.1, True, False, False, actions="eJwDAAAAAAE=")
    submission_id = _stored(api, alice, "cartpole", "test", [episode])
    for path in ("episodes", "episodes/0", "samples"):
        url = f"/api/v1/submissions/{submission_id}/{path}"
        assert "hidden phase" in error(api.client.get(url, headers=alice.headers), 403)
        assert api.client.get(url, headers=orga.headers).status_code == 200
    seen = api.client.get(f"/api/v1/submissions/{submission_id}/episodes", headers=orga.headers)
    assert seen.get_json()["episodes"][0]["seed"] == 918273645
    page = text(signed_in(api, alice).get(f"/my/submissions/{submission_id}"))
    assert 'id="episodes"' not in page and 'id="replays"' not in page and "918273645" not in page
    assert api.queue.renders == []
    browser = signed_in(api, alice)
    assert browser.get(f"/my/submissions/{submission_id}/replays/0.json").status_code == 404
    assert browser.get(f"/my/submissions/{submission_id}/replays/0").status_code == 404
    organizer_page = text(signed_in(api, orga).get(f"/my/submissions/{submission_id}"))
    assert 'id="episodes"' in organizer_page and "918273645" in organizer_page


def _text_episode(index: int, score: float, gold: float, completion: str) -> EpisodeResult:
    values = {"gold": gold, "nll": 3.0 + index / 10, "distinct_2": 1.0}
    return EpisodeResult(
        index, 1000 + index, score, 8, 0.1, True, False, None, values,
        prompt=f"Prompt {index}: ", completion=completion,
    )  # fmt: skip


def test_text_samples_show_best_worst_random_and_where_the_judges_disagree(api, settings):
    alice, bob = api.account("alice"), api.account("bob")
    episodes = [
        _text_episode(i, score=float(i), gold=i / 10, completion=f"fine words {i}")
        for i in range(8)
    ]
    # High reward-model score, low gold: the reward model is being gamed.
    episodes.append(_text_episode(8, score=9.0, gold=0.0, completion="great great great <b>"))
    submission_id = _stored(api, alice, "textgen", "dev", episodes)
    body = api.client.get(f"/api/v1/submissions/{submission_id}/samples", headers=alice.headers)
    samples = body.get_json()["samples"]
    assert samples["best"][0]["index"] == 8 and samples["worst"][0]["index"] == 0
    assert samples["disagreement"][0]["index"] == 8
    assert samples["disagreement"][0]["completion"] == "great great great <b>"
    assert len(samples["random"]) == 5
    assert {"score", "gold", "nll", "prompt"} <= set(samples["best"][0])
    error(api.client.get(f"/api/v1/submissions/{submission_id}/samples", headers=bob.headers), 404)
    page = text(signed_in(api, alice).get(f"/my/submissions/{submission_id}"))
    assert 'id="samples"' in page and "reward-hacking" in page
    assert "great great great &lt;b&gt;" in page and "<b>" not in page.split('id="samples"')[1]


def _failed(api: Api, who, phase: str, failure: Failure) -> int:
    response = api.upload(who, zip_agent("good"), challenge="cartpole", phase=phase)
    assert response.status_code == 201, response.get_json()
    submission_id = response.get_json()["id"]
    held = ev.claim(api.db, submission_id, 60, "test")
    done = [EpisodeResult(i, 100 + i, 9.0, 9, 0.1, True, False) for i in range(2)]
    result = EvaluationResult("cartpole", phase, "good", 5, done, {}, failure=failure)
    assert ev.record_result(api.db, held, result)
    return submission_id


def test_a_failure_shows_on_the_row_of_its_episode_where_the_viewer_may_see_it(api, settings):
    alice, orga = api.account("alice"), api.organizer()
    failure = Failure("agent_error", "the agent raised ZeroDivisionError in act", 2, 2**40)
    public = _failed(api, alice, "dev", failure)
    body = api.client.get(f"/api/v1/submissions/{public}/episodes", headers=alice.headers)
    told = body.get_json()["failure"]
    assert (told["code"], told["episode"], told["step"]) == ("agent_error", 2, 2**31 - 1)
    page = text(signed_in(api, alice).get(f"/my/submissions/{public}"))
    row = page.split('<tr id="episode-2" class="episode-failed')[1].split("</tr>")[0]
    assert f"failed at step {2**31 - 1}" in row and "ZeroDivisionError in act" in row
    assert "The evaluation stopped early" not in page  # it is on its row, not below

    # A failure in no episode (the whole run's) stays below the table.
    whole = _failed(api, alice, "dev", Failure("evaluation_timeout", "too long", None, None))
    told = api.client.get(f"/api/v1/submissions/{whole}/episodes", headers=alice.headers)
    assert told.get_json()["failure"]["episode"] is None
    page = text(signed_in(api, alice).get(f"/my/submissions/{whole}"))
    assert "episode-failed" not in page and "The evaluation stopped early" in page

    # Hidden phase: never where it failed for the participant; always for organizers.
    hidden = _failed(api, alice, "test", Failure("agent_error", "leaving after 3", 3, 7))
    url = f"/api/v1/submissions/{hidden}"
    assert "hidden phase" in error(api.client.get(f"{url}/episodes", headers=alice.headers), 403)
    seen = api.client.get(url, headers=alice.headers).get_json()
    assert "episode" not in (seen["failure"] or {}) and "leaving" not in str(seen)
    page = text(signed_in(api, alice).get(f"/my/submissions/{hidden}"))
    assert "episode-failed" not in page and "at step" not in page
    told = api.client.get(f"{url}/episodes", headers=orga.headers).get_json()["failure"]
    assert (told["episode"], told["step"]) == (3, 7)
    organizer_page = text(signed_in(api, orga).get(f"/my/submissions/{hidden}"))
    assert '<tr id="episode-3" class="episode-failed' in organizer_page
    assert "failed at step 7" in organizer_page
