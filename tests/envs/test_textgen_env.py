"""aigc/TextGen-v0: registration, Gymnasium's checker, the episode and its metrics."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import aigc.envs  # noqa: F401  (registers the environments)
from aigc.envs.textgen.corpus import prompts
from aigc.envs.textgen.env import TextGenEnv
from aigc.envs.textgen.tokenizer import END_OF_TEXT_ID, load_tokenizer


@pytest.fixture(scope="module")
def env() -> TextGenEnv:
    return TextGenEnv(max_new_tokens=16, scorer="gold", render_mode="ansi")


def encode(text: str) -> list[int]:
    return load_tokenizer().encode(text).ids


def run(env: TextGenEnv, actions: list[int], **reset: object) -> tuple[float, dict, int]:
    """Play ``actions`` from a reset; return the last reward, last info and steps taken."""
    env.reset(**reset)  # type: ignore[arg-type]
    for step, action in enumerate(actions, start=1):
        _, reward, terminated, truncated, info = env.step(action)
        assert not truncated
        if terminated:
            return reward, info, step
        assert reward == 0.0 and info == {}
    raise AssertionError("the episode did not end")


def test_gym_make_builds_the_registered_environment() -> None:
    env = gym.make("aigc/TextGen-v0", max_new_tokens=4, split="heldout")
    assert isinstance(env.unwrapped, TextGenEnv)
    assert env.spec is not None and env.spec.max_episode_steps is None
    assert env.action_space == gym.spaces.Discrete(4096)
    obs, info = env.reset(seed=3)
    assert obs in env.observation_space
    assert info["prompt"] in prompts("heldout")
    env.close()


def test_check_env_passes_without_warnings() -> None:
    env = gym.make("aigc/TextGen-v0", max_new_tokens=8, render_mode="ansi")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=False)


def test_observation_holds_prompt_then_generated_tokens_then_padding(env: TextGenEnv) -> None:
    prompt = "The weather today is"
    obs, info = env.reset(options={"prompt": prompt})
    ids = encode(prompt)
    assert info == {"prompt": prompt, "prompt_index": -1}
    assert obs["prompt_length"] == obs["length"] == len(ids)
    assert obs["tokens"].dtype == np.int64 and obs["tokens"].shape == (env.max_length,)
    assert obs["tokens"][: len(ids)].tolist() == ids
    assert (obs["tokens"][len(ids) :] == END_OF_TEXT_ID).all()
    word = encode(" sunny")[0]
    obs, *_ = env.step(word)
    assert obs["length"] == len(ids) + 1 and obs["prompt_length"] == len(ids)
    assert obs["tokens"][len(ids)] == word


def test_same_seed_same_prompt_and_prompt_index_option(env: TextGenEnv) -> None:
    first = [env.reset(seed=seed)[1]["prompt"] for seed in range(5)]
    again = [env.reset(seed=seed)[1]["prompt"] for seed in range(5)]
    assert first == again and len(set(first)) > 1
    _, info = env.reset(options={"prompt_index": 7})
    assert info == {"prompt": env.prompts[7], "prompt_index": 7}


def test_episode_ends_at_end_of_text_with_the_gold_score(env: TextGenEnv) -> None:
    completion = " and I love it, it is a wonderful day."
    actions = [*encode(completion), END_OF_TEXT_ID]
    reward, info, steps = run(env, actions, options={"prompt": "The sun is out"})
    assert steps == len(actions) <= env.max_new_tokens
    assert info["ended_by"] == "end_of_text"
    assert info["completion"] == completion
    assert info["completion_tokens"] == len(actions)
    assert reward == info["score"] == pytest.approx(env.gold_judge("The sun is out", completion))
    assert reward > 0.6 and info["gold_sentiment"] > 0.5 and info["gold_fluency"] > 0.5
    assert info["distinct_1"] == info["distinct_2"] == 1.0
    assert "nll" not in info
    assert env.render() == "The sun is out" + completion


def test_episode_ends_after_max_new_tokens() -> None:
    env = TextGenEnv(max_new_tokens=3, scorer="gold")
    word = encode(" good")[0]
    reward, info, steps = run(env, [word] * 10, seed=0)
    assert steps == 3
    assert info["ended_by"] == "max_new_tokens"
    assert info["completion"] == " good good good"
    assert info["distinct_1"] == pytest.approx(1 / 3)
    assert reward < 0.5  # repeating one word is not fluent


def test_step_after_the_end_and_bad_actions_raise(env: TextGenEnv) -> None:
    run(env, [END_OF_TEXT_ID], seed=0)
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(5)
    env.reset(seed=0)
    for bad in (-1, 4096):
        with pytest.raises(ValueError, match="not a token id"):
            env.step(bad)


def test_scorer_and_reference_model_are_pluggable() -> None:
    calls: list[tuple] = []

    def scorer(prompt: str, completion: str) -> float:
        calls.append((prompt, completion))
        return 7.5

    def reference(prompt_ids: object, completion_ids: object) -> float:
        calls.append((list(prompt_ids), list(completion_ids)))  # type: ignore[call-overload]
        return 2.25

    env = TextGenEnv(max_new_tokens=4, scorer=scorer, reference_lm=reference)
    actions = [*encode(" so happy"), END_OF_TEXT_ID]
    reward, info, _ = run(env, actions, options={"prompt": "I am"})
    assert reward == info["score"] == 7.5
    assert info["nll"] == 2.25
    assert calls == [("I am", " so happy"), (encode("I am"), actions)]
    assert 0.0 <= info["gold"] <= 1.0  # the gold judge still reports, whatever the scorer


def test_a_scorer_returning_nan_is_refused() -> None:
    env = TextGenEnv(max_new_tokens=2, scorer=lambda prompt, completion: float("nan"))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="finite float"):
        env.step(END_OF_TEXT_ID)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"split": "test"}, "unknown split"),
        ({"scorer": "rm"}, "unknown scorer"),
        ({"target": "angry"}, "unknown target"),
        ({"max_new_tokens": 0}, "at least 1"),
        ({"max_prompt_tokens": 1}, "no train prompt fits"),
        ({"render_mode": "human"}, "unknown render_mode"),
    ],
)
def test_bad_arguments_fail_fast(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TextGenEnv(**kwargs)


def test_bad_reset_options_fail_fast(env: TextGenEnv) -> None:
    with pytest.raises(ValueError, match="out of range"):
        env.reset(options={"prompt_index": len(env.prompts)})
    with pytest.raises(ValueError, match="max_prompt_tokens"):
        env.reset(options={"prompt": "word " * 100})


def test_random_token_policy_scores_low_on_gold_and_real_text_does_not() -> None:
    env = TextGenEnv(split="heldout")
    env.action_space.seed(0)
    random_gold = []
    for episode in range(20):
        env.reset(seed=episode)
        while True:
            _, _, terminated, _, info = env.step(env.action_space.sample())
            if terminated:
                random_gold.append(info["gold"])
                break
    judge = env.gold_judge
    from aigc.envs.textgen.corpus import passages, prompt_of

    real_gold = []
    for passage in passages("heldout")[:200]:
        prompt = prompt_of(passage)
        real_gold.append(judge(prompt, passage[len(prompt) :]))
    assert np.mean(random_gold) < 0.05
    assert np.mean(real_gold) > 0.25
