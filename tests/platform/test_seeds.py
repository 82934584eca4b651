"""Seeds on the platform: an agent can know neither a submission's seeds nor their order.

A stateful agent once got a public phase's episodes in seed order (1000, 1001, ...),
rebuilt FrozenLake's random stream from them and planned around every slip: it scored
1.0 against the best honest policy's 0.744. Now a public phase draws fresh seeds for each
submission (and publishes them with the result), and fixed or secret seeds are played in
an order of each submission's own. The hostile agent ``seed_replay`` tries the attack.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import aigc.submissions
from aigc.platform import worker_run as ev
from aigc.submissions.challenge import get_challenge, parse_challenge_yaml
from aigc.submissions.evaluator import evaluate
from aigc.submissions.sandbox import LocalSandbox

from .conftest import HOSTILE, zip_hostile

REPLAY = HOSTILE / "seed_replay"
BUILT_IN = Path(aigc.submissions.__file__).parent / "challenges"
# The best honest policy succeeds with probability 0.744 on FrozenLake 4x4; over 100
# episodes its success rate lies below 0.744 + 3 standard deviations (0.044) but by chance
# once in a thousand runs. The seeds below are fixed (the tests' secret, their ids).
HONEST_CEILING = 0.88


def frozenlake_with_fixed_seeds() -> str:
    """The built-in FrozenLake spec with the dev phase's seeds fixed at 1000, 1001, ..."""
    spec = (BUILT_IN / "frozenlake.yaml").read_text()
    return spec.replace("id: frozenlake", "id: frozen-fixed", 1).replace(
        "seeds: fresh", "seeds: {first: 1000}  #", 1
    )


@pytest.mark.slow
def test_the_replaying_agent_beats_seeds_played_in_their_order():
    """What the attack does when it knows the seeds: every episode reaches the goal."""
    spec = parse_challenge_yaml(frozenlake_with_fixed_seeds())
    result = evaluate(REPLAY, spec, "dev", sandbox=LocalSandbox())
    assert result.ok and result.score is not None and result.score >= 0.95, result.metrics


def score_on_the_platform(
    api, challenge: str, sandbox=LocalSandbox
) -> tuple[float, list[int], list[float]]:
    """Submit the replaying agent, evaluate it as a worker does; its score and episodes."""
    platform = api.app.extensions["aigc"]
    who = api.account(f"replayer-{challenge}")
    response = api.upload(who, zip_hostile("seed_replay"), challenge=challenge)
    assert response.status_code == 201, response.json
    submission_id = response.json["id"]
    assert (
        ev.run_submission(platform.db, platform.settings, platform.store, submission_id, sandbox)
        == ev.DONE
    )
    shown = api.client.get(f"/api/v1/submissions/{submission_id}", headers=who.headers).json
    assert shown["status"] == "finished", shown
    episodes = sorted(shown["result"]["episodes"], key=lambda e: e["index"])
    return shown["result"]["score"], [e["seed"] for e in episodes], [e["return"] for e in episodes]


@pytest.mark.slow
def test_fresh_seeds_leave_the_replay_nothing_to_replay(api):
    score, seeds, returns = score_on_the_platform(api, "frozenlake")
    assert score <= HONEST_CEILING
    # The result publishes the seeds it drew: none of the phase's development seeds, and
    # replaying them on a participant's machine gives every episode's return again.
    development = get_challenge("frozenlake").phase("dev").seeds("frozenlake")
    assert len(set(seeds)) == 100 and not set(seeds) & set(development)
    spec = get_challenge("frozenlake")
    again = evaluate(REPLAY, spec, "dev", sandbox=LocalSandbox(), seeds=seeds)
    assert [e.total_return for e in again.episodes] == returns


def test_fixed_seeds_are_played_in_an_order_of_the_submissions_own(api):
    organizer = api.organizer()
    created = api.client.post(
        "/api/v1/challenges",
        data=frozenlake_with_fixed_seeds(),
        headers={**organizer.headers, "Content-Type": "application/yaml"},
    )
    assert created.status_code == 201, created.json
    score, seeds, _ = score_on_the_platform(api, "frozen-fixed")
    assert sorted(seeds) == list(range(1000, 1100)) and seeds != sorted(seeds)
    assert score <= HONEST_CEILING


def test_each_submission_has_its_own_fresh_seeds_and_order():
    fresh = get_challenge("frozenlake").phase("dev")
    first = fresh.seeds("frozenlake", secret=b"k", evaluation="1")
    assert first == fresh.seeds("frozenlake", secret=b"k", evaluation="1")  # a rerun repeats
    assert first != fresh.seeds("frozenlake", secret=b"k", evaluation="2")
    assert first != fresh.seeds("frozenlake", secret=b"other", evaluation="1")
    # Without the platform's secret (a participant's machine) a run repeats everywhere.
    assert fresh.seeds("frozenlake") == fresh.seeds("frozenlake") != first
    fixed = get_challenge("cartpole").phase("dev")
    assert fixed.seeds("cartpole") == list(range(1000, 1100))
    one = fixed.seeds("cartpole", secret=b"k", evaluation="1")
    two = fixed.seeds("cartpole", secret=b"k", evaluation="2")
    assert sorted(one) == sorted(two) == list(range(1000, 1100)) and one != two
    hidden = get_challenge("cartpole").phase("test")
    in_order = hidden.seeds("cartpole", secret=b"k")
    shuffled = hidden.seeds("cartpole", secret=b"k", evaluation="1")
    assert sorted(shuffled) == sorted(in_order) and shuffled != in_order


@pytest.mark.slow
@pytest.mark.hostile
def test_in_docker_replaying_seeds_scores_no_better_than_an_honest_policy(api, docker_sandbox):
    handed: list[object] = []

    def sandbox():
        handed.append(docker_sandbox)
        return docker_sandbox

    score, _, _ = score_on_the_platform(api, "frozenlake", sandbox)
    assert handed, "the evaluation did not run in the Docker sandbox"
    assert score <= HONEST_CEILING
