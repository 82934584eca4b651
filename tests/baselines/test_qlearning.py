"""Tabular Q-learning: it trains, learns CliffWalking's shortest path, and submits."""

from __future__ import annotations

import numpy as np
import pytest

from aigc.baselines import common, qlearning
from aigc.submissions.challenge import get_challenge

from .conftest import assert_package_runs, train_package


def test_smoke_trains_and_writes_a_package(tmp_path):
    q_table, log = train_package("qlearning", "frozenlake", tmp_path, total_steps=2_000)
    assert q_table.shape == (16, 4)
    assert log.rows and log.steps == 2_000
    for name in ("aigc.toml", "agent.py", "q_table.npy", "settings.json"):
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "learning_curve.csv").read_text().startswith("step,seconds,return")
    assert (tmp_path / "learning_curve.png").read_bytes().startswith(b"\x89PNG")


def test_learns_the_shortest_path_on_cliffwalking(tmp_path):
    q_table, _ = train_package("qlearning", "cliffwalking", tmp_path)
    result = assert_package_runs(tmp_path, "cliffwalking", episodes=5)
    assert result.metrics["mean_return"] == -13  # the optimum
    assert np.argmax(q_table[36]) == 0  # from the start, up: around the cliff


def test_saved_agent_acts_like_the_table(tmp_path):
    q_table, _ = train_package("qlearning", "taxi", tmp_path, total_steps=5_000)
    env = get_challenge("taxi").environment.make()
    agent = common.load_agent(tmp_path, env.observation_space, env.action_space)
    states = np.arange(500)
    assert np.array_equal(agent.act_batch(states), np.argmax(q_table, axis=1))
    assert [agent.act(int(s)) for s in states[:50]] == list(np.argmax(q_table[:50], axis=1))


def test_same_seed_same_table(tmp_path):
    first, _ = train_package("qlearning", "frozenlake", tmp_path / "a", total_steps=3_000)
    second, _ = train_package("qlearning", "frozenlake", tmp_path / "b", total_steps=3_000)
    third, _ = train_package("qlearning", "frozenlake", tmp_path / "c", total_steps=3_000, seed=2)
    assert np.array_equal(first, second)
    assert not np.array_equal(first, third)


def test_refuses_continuous_observations(tmp_path):
    with pytest.raises(ValueError, match="use ppo or dqn"):
        train_package("qlearning", "cartpole", tmp_path, total_steps=10)


def test_expected_scores_need_an_environment_with_a_model():
    with pytest.raises(ValueError, match="publishes no model"):
        qlearning.expected_scores("cartpole", np.zeros((2, 2)))
