"""step_all: environments in this process step one by one, or in one call of their class's
``step_batch`` where their wrappers would only pass the step on."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import aigc.envs  # noqa: F401  (registers the environments)
from aigc.envs.textgen.tokenizer import END_OF_TEXT_ID
from aigc.submissions.environment_host import direct_step, step_all

from .conftest import CountingScorer


def make(scorer: CountingScorer, **kwargs: object) -> list[gym.Env]:
    envs = [gym.make("aigc/TextGen-v0", max_new_tokens=4, scorer=scorer, **kwargs) for _ in "abc"]
    for seed, env in enumerate(envs):
        env.reset(seed=seed)
    return envs


def same(one: list[tuple[Any, ...]], other: list[tuple[Any, ...]]) -> bool:
    """Whether two lists of step results are equal, observations array by array."""
    return len(one) == len(other) and all(
        a[1:] == b[1:] and all(np.array_equal(a[0][k], b[0][k]) for k in a[0].keys() | b[0])
        for a, b in zip(one, other, strict=True)
    )


def test_text_environments_step_in_one_batch_with_the_same_results() -> None:
    batched, alone = CountingScorer(), CountingScorer()
    envs, others = make(batched), make(alone)
    plays = [[17, END_OF_TEXT_ID], [23, END_OF_TEXT_ID], [31, 40, 41, 42]]
    for step in range(2):
        actions = [play[step] for play in plays]
        results = step_all(envs, actions)
        assert same(results, [env.step(a) for env, a in zip(others, actions, strict=True)])
    # The first step passed through Gymnasium's checker one by one; at the second, the two
    # completions that ended were scored in one call.
    assert batched.calls == [2] and alone.calls == [1, 1]
    step_all(envs[2:], [41])
    results = step_all(envs[2:], [42])  # one environment alone steps as it is
    assert results[0][2] and batched.calls == [2, 1]


def test_a_wrapper_that_does_more_than_pass_the_step_on_is_honoured() -> None:
    scorer = CountingScorer()
    envs = make(scorer, max_episode_steps=2)  # a TimeLimit wrapper around each
    step_all(envs, [5, 6, 7])
    results = step_all(envs, [5, 6, 7])
    assert [truncated for *_, truncated, _ in results] == [True, True, True]
    assert scorer.calls == []


def test_an_environment_not_reset_is_refused_by_its_wrapper() -> None:
    envs = [gym.make("aigc/TextGen-v0", max_new_tokens=4, scorer="gold") for _ in "ab"]
    with pytest.raises(gym.error.ResetNeeded):
        step_all(envs, [5, 6])


def test_direct_steps_give_what_env_step_gives_time_limit_included() -> None:
    direct, plain = (
        gym.make("CartPole-v1", max_episode_steps=7),
        gym.make("CartPole-v1", max_episode_steps=7),
    )
    for env in (direct, plain):
        env.reset(seed=3)
    assert direct_step(direct) is None  # Gymnasium's checker has yet to see a first step
    assert same_step(direct.step(0), plain.step(0))
    step = direct_step(direct)
    assert step is not None
    for action in [1, 0, 1, 1, 0, 1]:  # to the seventh step, where the TimeLimit truncates
        assert same_step(step(action), plain.step(action))
    assert direct._elapsed_steps == plain._elapsed_steps == 7  # type: ignore[attr-defined]
    direct.reset(seed=4), plain.reset(seed=4)
    results = [(step(a), plain.step(a)) for a in [1] * 7]
    assert all(same_step(one, other) for one, other in results)
    assert results[-1][0][3] is True  # truncated again, the count restarted with the reset


class Doubling(gym.RewardWrapper):
    """A wrapper that acts on every step."""

    def reward(self, reward: Any) -> Any:
        return 2 * reward


def test_no_direct_step_past_a_wrapper_that_acts_or_a_subclass_of_make_s() -> None:
    doubled = Doubling(gym.make("CartPole-v1"))
    doubled.reset(seed=0)
    doubled.step(0)
    assert direct_step(doubled) is None

    class Counting(gym.wrappers.TimeLimit):
        def step(self, action: Any) -> Any:
            return super().step(action)

    counted = Counting(gym.make("CartPole-v1").env, max_episode_steps=5)
    counted.reset(seed=0)
    counted.step(0)
    assert direct_step(counted) is None


def same_step(one: tuple[Any, ...], other: tuple[Any, ...]) -> bool:
    return np.array_equal(one[0], other[0]) and one[1:] == other[1:]
