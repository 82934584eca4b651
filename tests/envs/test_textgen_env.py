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


def test_batched_steps_score_as_one_episode_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    kwargs = {"max_new_tokens": 8, "reference_lm": "default"}
    batched_envs = [TextGenEnv(**kwargs) for _ in range(6)]  # type: ignore[arg-type]
    alone_envs = [TextGenEnv(**kwargs) for _ in range(6)]  # type: ignore[arg-type]
    scorer, reference = batched_envs[0].scorer, batched_envs[0].reference_lm
    assert all(e.scorer is scorer and e.reference_lm is reference for e in batched_envs)
    sizes: list[tuple[str, int]] = []
    for judge, method in ((scorer, "score_batch"), (reference, "nll_batch")):
        batch = getattr(judge, method)
        monkeypatch.setattr(
            judge, method, lambda *a, name=method, f=batch: sizes.append((name, len(a[0]))) or f(*a)
        )
    # Two episodes end with <|endoftext|> at step 3, three at step 6, one by its budget.
    rng = np.random.default_rng(0)
    ends = [3, 3, 6, 6, 6, 9]
    plays = [[*rng.integers(1, 4096, n - 1).tolist(), END_OF_TEXT_ID] for n in ends]
    alone = []
    for env, actions, seed in zip(alone_envs, plays, range(6), strict=True):
        alone.append(run(env, actions, seed=seed))
    assert sizes == [("score_batch", 1), ("nll_batch", 1)] * 6  # one at a time
    sizes.clear()
    for env, seed in zip(batched_envs, range(6), strict=True):
        env.reset(seed=seed)
    live = list(range(6))
    batched: dict[int, tuple[float, dict, int]] = {}
    for step in range(8):
        stepped = TextGenEnv.step_batch(
            [batched_envs[i] for i in live], [plays[i][step] for i in live]
        )
        for i, (_, reward, terminated, _, info) in zip(list(live), stepped, strict=True):
            if terminated:
                batched[i] = (reward, info, step + 1)
                live.remove(i)
    # The two and the three that end together are scored in one batch each, the last alone.
    assert sizes == [
        *[("score_batch", 2), ("nll_batch", 2), ("score_batch", 3), ("nll_batch", 3)],
        *[("score_batch", 1), ("nll_batch", 1)],
    ]
    for i, (reward, info, steps) in enumerate(alone):
        b_reward, b_info, b_steps = batched[i]
        assert b_steps == steps and b_info.keys() == info.keys()
        # A padded batch rounds differently from one sequence alone, within float32's precision.
        assert b_reward == b_info["score"] == pytest.approx(reward, rel=1e-5, abs=1e-6)
        assert b_info["nll"] == pytest.approx(info["nll"], rel=1e-5)
        exact = {k: v for k, v in info.items() if k not in ("score", "nll")}
        assert {k: b_info[k] for k in exact} == exact


def test_scoring_later_gives_what_step_batch_gives_after_the_environments_reset() -> None:
    kwargs = {"max_new_tokens": 4, "reference_lm": "default"}
    now_envs = [TextGenEnv(**kwargs) for _ in range(3)]  # type: ignore[arg-type]
    later_envs = [TextGenEnv(**kwargs) for _ in range(3)]  # type: ignore[arg-type]
    plays = [[7, END_OF_TEXT_ID], [9, 11, 13, 15], [21, 23]]  # ends, its budget, neither
    for envs in (now_envs, later_envs):
        for seed, env in enumerate(envs):
            env.reset(seed=seed)
    for step in range(2):
        now = TextGenEnv.step_batch(now_envs, [p[step] for p in plays])
        stepped, score = TextGenEnv.step_batch_then_score(later_envs, [p[step] for p in plays])
    assert [r[2] for r in now] == [r[2] for r in stepped] == [True, False, False]
    assert stepped[0][1] == 0.0 and stepped[0][4] == {}  # left to the scoring
    later_envs[0].reset(seed=99)  # the next episode starts before the last one is scored
    for step in (2, 3):
        now += TextGenEnv.step_batch(now_envs[1:2], [plays[1][step]])
        _, more_score = TextGenEnv.step_batch_then_score(later_envs[1:2], [plays[1][step]])
    scored = {**score(), **{1: more_score()[0]}}
    assert scored.keys() == {0, 1}
    for row, (reward, info) in ((0, scored[0]), (1, scored[1])):
        expected = now[0] if row == 0 else now[-1]
        assert reward == expected[1] and info == expected[4]
        assert info["completion_tokens"] == len(plays[row][: 2 if row == 0 else 4])
    assert scored[1][1]["ended_by"] == "max_new_tokens"


def test_batched_steps_check_every_action_before_any_step() -> None:
    envs = [TextGenEnv(max_new_tokens=4, scorer="gold") for _ in range(2)]
    for env in envs:
        env.reset(seed=0)
    with pytest.raises(ValueError, match="not a token id"):
        TextGenEnv.step_batch(envs, [5, 4096])
    assert [e._generated for e in envs] == [[], []]
    with pytest.raises(ValueError, match="one each"):
        TextGenEnv.step_batch(envs, [5])
    TextGenEnv.step_batch(envs, [END_OF_TEXT_ID, 5])
    with pytest.raises(RuntimeError, match="call reset"):
        TextGenEnv.step_batch(envs, [5, 5])
