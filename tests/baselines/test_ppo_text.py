"""RLHF baseline: its pieces by hand, a short PPO-text run, and the packages of text agents."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aigc.baselines import common, ppo_text
from aigc.baselines.text_agent import write_reference_package
from aigc.envs.textgen.lm import load_lm
from aigc.submissions.challenge import get_challenge

from .conftest import assert_package_runs, train_package

TINY = {"total_steps": 200, "batch_size": 8, "minibatch_size": 4, "update_epochs": 2}


def test_completion_mask_keeps_tokens_up_to_the_first_end():
    tokens = torch.tensor([[5, 6, 0, 0], [5, 6, 7, 8], [0, 0, 0, 0]])
    assert ppo_text.completion_mask(tokens).tolist() == [
        [1, 1, 1, 0],
        [1, 1, 1, 1],
        [1, 0, 0, 0],
    ]


def test_gae_by_hand():
    # One row of three tokens (the last is past the end), gamma 0.5, lambda 0.5.
    rewards = torch.tensor([[0.0, 1.0, 0.0]])
    values = torch.tensor([[0.5, 0.25, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    advantages, returns = ppo_text.gae(rewards, values, mask, gamma=0.5, lam=0.5)
    delta1 = 1.0 - 0.25  # last real token: no value after it
    delta0 = 0.0 + 0.5 * 0.25 - 0.5
    expected = [delta0 + 0.25 * delta1, delta1, 0.0]
    assert advantages[0].tolist() == pytest.approx(expected)
    assert returns[0].tolist() == pytest.approx([expected[0] + 0.5, delta1 + 0.25, 0.0])


def test_kl_controller_moves_beta_towards_the_target():
    controller = ppo_text.KLController(0.1, target=6.0, horizon=100, adaptive=True)
    controller.update(kl=12.0, completions=10)  # far above: +20% of 10/100
    assert controller.beta == pytest.approx(0.1 * 1.02)
    controller.update(kl=3.0, completions=10)  # below: -20% of 10/100 at most
    assert controller.beta == pytest.approx(0.1 * 1.02 * 0.98)
    fixed = ppo_text.KLController(0.1, target=6.0, horizon=100, adaptive=False)
    fixed.update(kl=100.0, completions=100)
    assert fixed.beta == 0.1


def test_prompt_batches_share_a_length():
    sampler = ppo_text.PromptSampler(("a", "b", "c"), [[1], [2, 3], [4, 5]], seed=0)
    for _ in range(10):
        texts, ids = sampler.sample(4)
        assert ids.shape[0] == 4 and len(texts) == 4
        assert set(texts) <= ({"a"} if ids.shape[1] == 1 else {"b", "c"})


@pytest.mark.slow
def test_smoke_run_moves_the_policy_and_writes_a_package(tmp_path):
    tuned, log = train_package("ppo-text", "textgen", tmp_path, **TINY)
    assert log.steps >= 200 and len(log.rows) == 8 * len(tuned.stats)
    assert tuned.stats[-1]["kl"] != 0.0  # the policy left the reference
    assert {"reward_model", "gold", "kl", "beta"} <= set(tuned.stats[0])
    for name in ("policy.pt", "causal_lm.py", "config.json", "rlhf_curve.png", "rlhf_curve.csv"):
        assert (tmp_path / name).is_file(), name
    # The package holds the tuned model, not the reference.
    env = get_challenge("textgen").environment.make()
    agent = common.load_agent(tmp_path, env.observation_space, env.action_space)
    tuned_weights = tuned.policy.lm.state_dict()["blocks.0.mlp.0.weight"]
    assert torch.allclose(
        agent.model.state_dict()["blocks.0.mlp.0.weight"], tuned_weights, atol=1e-2
    )
    assert not torch.equal(tuned_weights, load_lm().state_dict()["blocks.0.mlp.0.weight"])
    assert_package_runs(tmp_path, "textgen", episodes=2)


def test_reference_agent_follows_the_reference_model(tmp_path):
    write_reference_package(tmp_path, temperature=1e-6)  # sample the most likely token
    env = get_challenge("textgen").environment.make()
    agent = common.load_agent(tmp_path, env.observation_space, env.action_space)
    observations = [env.reset(seed=seed)[0] for seed in range(6)]
    batch = {key: np.stack([o[key] for o in observations]) for key in observations[0]}
    reference = load_lm()
    expected = []
    for o in observations:
        ids = torch.tensor([[0, *o["tokens"][: int(o["length"])].tolist()]])
        with torch.no_grad():
            expected.append(int(reference(ids)[0][0, -1].argmax()))
    # Prompts of different lengths in one padded batch, and one at a time.
    assert agent.act_batch(batch).tolist() == expected
    assert [agent.act(o) for o in observations] == expected


RANDOM_TOKENS = """\
import numpy as np


class Agent:
    def __init__(self, observation_space, action_space):
        self.n = int(action_space.n)
        self.rng = np.random.default_rng(0)

    def act(self, observation):
        return int(self.rng.integers(1, self.n))  # never ends early
"""


@pytest.mark.slow
def test_the_board_metrics_tell_random_tokens_from_the_reference(tmp_path):
    # Computed by the evaluator from the text: gold, NLL under the reference, distinct-2.
    write_reference_package(tmp_path / "reference")
    (tmp_path / "random").mkdir()
    (tmp_path / "random" / "aigc.toml").write_text('name = "random"\nentry_point = "agent:Agent"\n')
    (tmp_path / "random" / "agent.py").write_text(RANDOM_TOKENS)
    reference = assert_package_runs(tmp_path / "reference", "textgen", episodes=16).metrics
    random = assert_package_runs(tmp_path / "random", "textgen", episodes=16).metrics
    assert random["mean_length"] == 32
    assert random["mean_nll"] > reference["mean_nll"] + 2.0  # far less fluent
    assert random["mean_gold"] < 0.5 * reference["mean_gold"]
