"""step_all: environments in this process step one by one, or in one call of their class's
``step_batch`` where their wrappers would only pass the step on."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import aigc.envs  # noqa: F401  (registers the environments)
from aigc.envs.textgen.tokenizer import END_OF_TEXT_ID
from aigc.submissions.environment_host import step_all


class CountingScorer:
    """A scorer that records how many completions each call scores."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, prompt: str, completion: str) -> float:
        self.calls.append(1)
        return float(len(completion))

    def score_batch(self, prompts: list[str], completions: list[str]) -> list[float]:
        self.calls.append(len(completions))
        return [float(len(c)) for c in completions]


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
