"""Tabular Q-learning (numpy) for challenges with Discrete observations and actions.

    python -m aigc.baselines.qlearning --challenge taxi --out runs/taxi-qlearning
    aigc train qlearning --challenge frozenlake --out runs/frozenlake

The behaviour policy is epsilon-greedy with epsilon and the step size annealed linearly; the
agent written at the end acts greedily on the learned table (``q_table.npy``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from aigc.baselines.common import (
    AGENT_PROGRAMS,
    TrainingLog,
    make_env,
    parse_settings,
    run,
    write_package,
)


@dataclass
class Settings:
    """Tabular Q-learning with an epsilon-greedy behaviour policy."""

    challenge: str = "frozenlake"
    """the challenge to train on (Discrete observations and actions)"""
    seed: int = 1
    """seed of python, numpy and the environment"""
    total_steps: int = 100_000
    """environment steps to train for"""
    learning_rate: float = 0.5
    """the step size at the start"""
    end_learning_rate: float = 0.1
    """the step size at the end, reached linearly"""
    gamma: float = 0.99
    """the discount factor"""
    start_e: float = 1.0
    """epsilon (the probability of a random action) at the start"""
    end_e: float = 0.05
    """epsilon at the end of the exploration phase"""
    exploration_fraction: float = 0.5
    """the fraction of total_steps over which epsilon falls from start_e to end_e"""


def linear_schedule(start: float, end: float, duration: float, t: int) -> float:
    """Go from ``start`` to ``end`` in ``duration`` steps, then stay at ``end``."""
    return end + (start - end) * max(0.0, 1.0 - t / max(duration, 1.0))


def train(settings: Settings, log: TrainingLog) -> np.ndarray:
    """Learn a Q-table; return it (states x actions)."""
    s = settings
    # Seeding: python, numpy, then the environment once.
    random.seed(s.seed)
    np.random.seed(s.seed)
    rng = np.random.default_rng(s.seed)
    env = make_env(s.challenge)
    if not isinstance(env.observation_space, gym.spaces.Discrete) or not isinstance(
        env.action_space, gym.spaces.Discrete
    ):
        raise ValueError(
            f"Q-learning needs Discrete observations and actions; {s.challenge} has "
            f"{env.observation_space} and {env.action_space}: use ppo or dqn"
        )
    n_actions = int(env.action_space.n)
    q_table = np.zeros((int(env.observation_space.n), n_actions))
    obs, _ = env.reset(seed=s.seed)

    episodic_return, length = 0.0, 0
    for step in range(s.total_steps):
        epsilon = linear_schedule(s.start_e, s.end_e, s.exploration_fraction * s.total_steps, step)
        alpha = linear_schedule(s.learning_rate, s.end_learning_rate, s.total_steps, step)
        if rng.random() < epsilon:
            action = int(rng.integers(n_actions))
        else:
            action = int(np.argmax(q_table[obs]))
        next_obs, reward, terminated, truncated, _ = env.step(action)

        # A time limit is not the end of the task: bootstrap unless the episode terminated.
        target = reward if terminated else reward + s.gamma * q_table[next_obs].max()
        q_table[obs, action] += alpha * (target - q_table[obs, action])

        episodic_return += float(reward)
        length += 1
        if terminated or truncated:
            log.episode(step + 1, episodic_return, length)
            episodic_return, length = 0.0, 0
            obs, _ = env.reset()
        else:
            obs = next_obs
        if step % 1000 == 0:
            log.update(step + 1)
    log.update(s.total_steps)
    env.close()
    return q_table


@runtime_checkable
class TabularModel(Protocol):
    """The model a toy-text environment (FrozenLake, Taxi, CliffWalking) exposes."""

    P: dict[int, dict[int, list[tuple[float, int, float, bool]]]]
    """``P[state][action]``: (probability, next state, reward, terminated) per outcome"""
    initial_state_distrib: np.ndarray
    """the probability of each start state"""


def expected_scores(challenge: str, q_table: np.ndarray) -> tuple[float, float]:
    """The greedy policy's expected return from the start distribution, and the optimum,
    by dynamic programming over the environment's model and the challenge's step limit.

    For a success-or-nothing reward (FrozenLake) the expected return is the success rate.
    """
    env = make_env(challenge)
    horizon = env.spec.max_episode_steps if env.spec else None
    if not horizon:
        raise ValueError(f"{challenge} has no step limit: give its environment max_episode_steps")
    model = env.unwrapped
    if not isinstance(model, TabularModel):
        raise ValueError(
            f"{challenge}'s environment publishes no model (P and initial_state_distrib): "
            "expected scores need a toy-text environment such as frozenlake"
        )
    n_states, n_actions = q_table.shape
    # Dense transition tensors: probability, reward and termination per (s, a, s').
    prob = np.zeros((n_states, n_actions, n_states))
    reward = np.zeros((n_states, n_actions, n_states))
    done = np.zeros((n_states, n_actions, n_states))
    for s in range(n_states):
        for a in range(n_actions):
            for p, s2, r, d in model.P[s][a]:
                prob[s, a, s2] += p
                reward[s, a, s2] = r
                done[s, a, s2] = d
    policy = q_table.argmax(axis=1)
    value_opt, value_pol = np.zeros(n_states), np.zeros(n_states)
    for _ in range(horizon):
        q_opt = (prob * (reward + (1 - done) * value_opt)).sum(axis=2)
        q_pol = (prob * (reward + (1 - done) * value_pol)).sum(axis=2)
        value_opt, value_pol = q_opt.max(axis=1), q_pol[np.arange(n_states), policy]
    start = model.initial_state_distrib
    return float(start @ value_pol), float(start @ value_opt)


# What the package runs: the greedy policy of the table.
AGENT_PROGRAM = AGENT_PROGRAMS / "qlearning_agent.py"


def write_agent(q_table: np.ndarray, settings: Settings, folder: Path) -> None:
    """Write the greedy agent of ``q_table`` as an agent package in ``folder``."""
    write_package(
        folder,
        name="qlearning",
        challenge=settings.challenge,
        framework="numpy",
        description=f"Tabular Q-learning baseline, {settings.total_steps:,} steps.",
        agent_program=AGENT_PROGRAM,
        settings=settings,
        save_weights=lambda f: np.save(f / "q_table.npy", q_table),
    )


if __name__ == "__main__":
    settings, out = parse_settings(Settings, "qlearning", None)
    run("qlearning", settings, out)
