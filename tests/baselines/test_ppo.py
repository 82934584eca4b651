"""PPO: Discrete and Box actions, deterministic packages, and a short learning run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aigc.baselines import common, ppo
from aigc.submissions.challenge import get_challenge

from .conftest import assert_package_runs, train_package

TINY = {"total_steps": 512, "num_envs": 2, "num_steps": 64, "num_minibatches": 2}


@pytest.mark.slow
def test_smoke_discrete_actions(tmp_path):
    _, log = train_package("ppo", "acrobot", tmp_path, **TINY, norm_obs=True)
    assert log.steps == 512
    assert (tmp_path / "policy.pt").is_file()
    assert_package_runs(tmp_path, "acrobot", episodes=2)


@pytest.mark.slow
def test_smoke_box_actions_stay_in_bounds(tmp_path):
    agent_net, log = train_package(
        "ppo", "pendulum", tmp_path, **TINY, norm_obs=True, norm_reward=True
    )
    assert log.rows  # Pendulum's episodes end by truncation after 200 steps
    env = get_challenge("pendulum").environment.make()
    agent = common.load_agent(tmp_path, env.observation_space, env.action_space)
    observations = np.stack([env.observation_space.sample() for _ in range(256)])
    # Blow the mean up so that clipping to the bounds [-2, 2] matters.
    actions = agent.act_batch(observations * 100)
    assert actions.shape == (256, 1) and actions.dtype == np.float32
    assert np.all(np.abs(actions) <= 2.0)
    with torch.no_grad():
        mean = agent_net.actor(agent_net.normalize(observations)).numpy()
    assert np.allclose(agent.act_batch(observations), np.clip(mean, -2, 2))
    assert env.action_space.contains(agent.act(observations[0]))
    assert_package_runs(tmp_path, "pendulum", episodes=2)


def test_saved_agent_acts_like_the_network(tmp_path):
    agent_net, _ = train_package("ppo", "lunarlander", tmp_path, **TINY, norm_obs=True)
    assert not torch.equal(agent_net.obs_mean, torch.zeros(8))  # the statistics moved
    env = get_challenge("lunarlander").environment.make()
    agent = common.load_agent(tmp_path, env.observation_space, env.action_space)
    observations = np.stack([env.reset(seed=i)[0] for i in range(32)])
    with torch.no_grad():
        expected = agent_net.actor(agent_net.normalize(observations)).argmax(dim=1).numpy()
    assert np.array_equal(agent.act_batch(observations), expected)
    assert [agent.act(o) for o in observations[:4]] == list(expected[:4])


def test_same_seed_same_weights(tmp_path):
    first, _ = train_package("ppo", "pendulum", tmp_path / "a", **TINY)
    second, _ = train_package("ppo", "pendulum", tmp_path / "b", **TINY)
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


@pytest.mark.slow
def test_learns_cartpole(tmp_path):
    # Half the default budget: enough to balance the pole for most of an episode.
    _, log = train_package("ppo", "cartpole", tmp_path, total_steps=50_000)
    result = assert_package_runs(tmp_path, "cartpole", episodes=10)
    assert result.metrics["mean_return"] >= 300, (result.metrics, log.recent_mean())


@pytest.mark.parametrize("continuous", [False, True])
def test_written_out_distributions_match_torch_distributions(continuous):
    from torch.distributions import Categorical, Normal

    torch.manual_seed(0)
    agent = ppo.Agent(3, (8,), 4, continuous)
    if continuous:
        agent.actor_logstd.data.fill_(-0.3)
    x = torch.randn(64, 3)
    action = torch.randn(64, 4) if continuous else torch.randint(0, 4, (64,))
    _, logprob, entropy, _ = agent.get_action_and_value(x, action)
    out = agent.actor(x)
    if continuous:
        normal = Normal(out, agent.actor_logstd.expand_as(out).exp())
        expected = normal.log_prob(action).sum(1), normal.entropy().sum(1)
    else:
        categorical = Categorical(logits=out)
        expected = categorical.log_prob(action), categorical.entropy()
    assert torch.allclose(logprob, expected[0], atol=1e-5)
    assert torch.allclose(entropy, expected[1], atol=1e-5)


def test_sampled_actions_follow_the_policy():
    torch.manual_seed(0)
    agent = ppo.Agent(2, (8,), 3, False)
    x = torch.zeros(20_000, 2)
    actions, *_ = agent.get_action_and_value(x)
    frequencies = torch.bincount(actions, minlength=3) / len(actions)
    assert torch.allclose(frequencies, agent.actor(x[:1]).softmax(-1)[0], atol=0.015)
