"""DQN: it trains, its package acts like the network, and submits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aigc.baselines import common
from aigc.submissions.challenge import get_challenge

from .conftest import assert_package_runs, train_package

TINY = {
    "total_steps": 600,
    "learning_starts": 100,
    "train_frequency": 4,
    "gradient_steps": 1,
    "batch_size": 32,
    "buffer_size": 500,
    "target_network_frequency": 50,
}


@pytest.mark.slow
def test_smoke_trains_and_submits(tmp_path):
    _, log = train_package("dqn", "cartpole", tmp_path, **TINY)
    assert log.steps == 600 and log.rows
    assert (tmp_path / "q_network.pt").is_file()
    assert 'framework = "torch"' in (tmp_path / "aigc.toml").read_text()
    assert_package_runs(tmp_path, "cartpole")


def test_saved_agent_acts_like_the_network(tmp_path):
    q_network, _ = train_package("dqn", "acrobot", tmp_path, **TINY)
    env = get_challenge("acrobot").environment.make()
    agent = common.load_agent(tmp_path, env.observation_space, env.action_space)
    observations = np.stack([env.observation_space.sample() for _ in range(64)])
    with torch.no_grad():
        expected = q_network(torch.as_tensor(observations)).argmax(dim=1).numpy()
    assert np.array_equal(agent.act_batch(observations), expected)
    assert [agent.act(o) for o in observations[:8]] == list(expected[:8])
    assert all(type(agent.act(o)) is int for o in observations[:2])


def test_same_seed_same_weights(tmp_path):
    first, _ = train_package("dqn", "cartpole", tmp_path / "a", **TINY)
    second, _ = train_package("dqn", "cartpole", tmp_path / "b", **TINY)
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_refuses_continuous_actions(tmp_path):
    with pytest.raises(ValueError, match="use ppo"):
        train_package("dqn", "pendulum", tmp_path, total_steps=10)
