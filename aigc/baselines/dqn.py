"""DQN (PyTorch) for challenges with Box observations and Discrete actions.

    python -m aigc.baselines.dqn --challenge cartpole --out runs/cartpole-dqn
    aigc train dqn --challenge acrobot --out runs/acrobot-dqn

A Q-network, a target network copied from it every few steps, a replay buffer and an
epsilon-greedy behaviour policy (Mnih et al., 2015), in the shape of CleanRL's ``dqn.py``.
Training happens every ``train_frequency`` steps, ``gradient_steps`` at a time, as in
Stable-Baselines3. The agent written at the end acts greedily on the Q-network, which is
the class that agent builds (``agents/dqn_agent.py``), so the weights fit it by construction.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from aigc.baselines.agents.dqn_agent import QNetwork
from aigc.baselines.common import (
    AGENT_PROGRAMS,
    TrainingLog,
    flushing_denormals,
    make_vector_env,
    parse_settings,
    run,
    write_package,
)


@dataclass
class Settings:
    """Deep Q-learning with a replay buffer and a target network."""

    challenge: str = "cartpole"
    """the challenge to train on (Box observations, Discrete actions)"""
    seed: int = 1
    """seed of python, numpy, torch and the environments"""
    total_steps: int = 500_000
    """environment steps to train for"""
    num_envs: int = 1
    """environments stepped side by side"""
    learning_rate: float = 2.5e-4
    """the learning rate of the Adam optimizer"""
    anneal_lr: bool = False
    """whether the learning rate falls linearly to 0 over the training"""
    buffer_size: int = 10_000
    """transitions kept in the replay buffer"""
    gamma: float = 0.99
    """the discount factor"""
    double_q: bool = False
    """whether the Q-network picks the next action the target network values (Double DQN)"""
    tau: float = 1.0
    """how far the target network moves towards the Q-network at each update (1: a copy)"""
    target_network_frequency: int = 500
    """environment steps between target network updates"""
    batch_size: int = 128
    """transitions per gradient step"""
    start_e: float = 1.0
    """epsilon (the probability of a random action) at the start"""
    end_e: float = 0.05
    """epsilon at the end of the exploration phase"""
    exploration_fraction: float = 0.5
    """the fraction of total_steps over which epsilon falls from start_e to end_e"""
    learning_starts: int = 10_000
    """environment steps before training starts"""
    train_frequency: int = 10
    """environment steps between trainings"""
    gradient_steps: int = 1
    """gradient steps per training"""
    max_grad_norm: float = 10.0
    """the largest gradient norm (larger gradients are scaled down)"""
    hidden_sizes: tuple[int, ...] = (120, 84)
    """the widths of the Q-network's hidden layers (ReLU)"""
    torch_threads: int = 1
    """CPU threads for torch (small networks run fastest on one)"""


def linear_schedule(start: float, end: float, duration: float, t: int) -> float:
    """Go from ``start`` to ``end`` in ``duration`` steps, then stay at ``end``."""
    return end + (start - end) * max(0.0, 1.0 - t / max(duration, 1.0))


@flushing_denormals
def train(settings: Settings, log: TrainingLog) -> QNetwork:
    """Train a Q-network; return it."""
    s = settings
    # Seeding: python, numpy, torch, then the environments once.
    random.seed(s.seed)
    np.random.seed(s.seed)
    torch.manual_seed(s.seed)
    torch.set_num_threads(s.torch_threads)
    envs = make_vector_env(s.challenge, s.num_envs)
    envs.action_space.seed(s.seed)
    obs_space, action_space = envs.single_observation_space, envs.single_action_space
    if not isinstance(action_space, gym.spaces.Discrete) or not isinstance(
        obs_space, gym.spaces.Box
    ):
        raise ValueError(
            f"DQN needs Box observations and Discrete actions; {s.challenge} has "
            f"{obs_space} and {action_space}: use ppo (Box actions) or qlearning"
        )
    n_obs, n_actions = int(np.prod(obs_space.shape)), int(action_space.n)

    q_network = QNetwork(n_obs, s.hidden_sizes, n_actions)
    target_network = QNetwork(n_obs, s.hidden_sizes, n_actions)
    target_network.load_state_dict(q_network.state_dict())
    # The fused Adam does the same updates in a few large operations: faster on a CPU.
    optimizer = torch.optim.Adam(q_network.parameters(), lr=s.learning_rate, fused=True)

    # The replay buffer: a ring of preallocated arrays.
    buffer_obs = np.zeros((s.buffer_size, n_obs), dtype=np.float32)
    buffer_next_obs = np.zeros((s.buffer_size, n_obs), dtype=np.float32)
    buffer_actions = np.zeros(s.buffer_size, dtype=np.int64)
    buffer_rewards = np.zeros(s.buffer_size, dtype=np.float32)
    buffer_terminated = np.zeros(s.buffer_size, dtype=np.float32)
    buffer_position, buffer_full = 0, False

    obs, _ = envs.reset(seed=s.seed)
    episodic_returns = np.zeros(s.num_envs)
    episodic_lengths = np.zeros(s.num_envs, dtype=np.int64)
    global_step = 0
    while global_step < s.total_steps:
        epsilon = linear_schedule(
            s.start_e, s.end_e, s.exploration_fraction * s.total_steps, global_step
        )
        if random.random() < epsilon:
            actions = envs.action_space.sample()
        else:
            with torch.no_grad():
                q_values = q_network(torch.as_tensor(obs, dtype=torch.float32))
            actions = q_values.argmax(dim=1).numpy()
        next_obs, rewards, terminations, truncations, infos = envs.step(actions)
        global_step += s.num_envs

        # Episodes that end restart at once: the buffer keeps their real last observation.
        dones = np.logical_or(terminations, truncations)
        real_next_obs = next_obs.copy()
        episodic_returns += rewards
        episodic_lengths += 1
        for i in np.flatnonzero(dones):
            real_next_obs[i] = infos["final_obs"][i]
            log.episode(global_step, episodic_returns[i], episodic_lengths[i])
            episodic_returns[i], episodic_lengths[i] = 0.0, 0

        for j in range(s.num_envs):
            buffer_obs[buffer_position] = obs[j]
            buffer_next_obs[buffer_position] = real_next_obs[j]
            buffer_actions[buffer_position] = actions[j]
            buffer_rewards[buffer_position] = rewards[j]
            # A time limit is not the end of the task: only termination stops bootstrapping.
            buffer_terminated[buffer_position] = terminations[j]
            buffer_position = (buffer_position + 1) % s.buffer_size
            buffer_full = buffer_full or buffer_position == 0
        obs = next_obs

        if global_step > s.learning_starts and global_step % s.train_frequency < s.num_envs:
            size = s.buffer_size if buffer_full else buffer_position
            if s.anneal_lr:
                remaining = 1.0 - global_step / s.total_steps
                optimizer.param_groups[0]["lr"] = s.learning_rate * remaining
            for _ in range(s.gradient_steps):
                batch = np.random.randint(0, size, s.batch_size)
                b_obs = torch.from_numpy(buffer_obs[batch])
                b_next_obs = torch.from_numpy(buffer_next_obs[batch])
                b_actions = torch.from_numpy(buffer_actions[batch])
                b_rewards = torch.from_numpy(buffer_rewards[batch])
                b_terminated = torch.from_numpy(buffer_terminated[batch])
                with torch.no_grad():
                    next_values = target_network(b_next_obs)
                    if s.double_q:
                        best = q_network(b_next_obs).argmax(dim=1, keepdim=True)
                        next_value = next_values.gather(1, best).squeeze(1)
                    else:
                        next_value = next_values.max(dim=1).values
                    td_target = b_rewards + s.gamma * next_value * (1.0 - b_terminated)
                old_values = q_network(b_obs).gather(1, b_actions.unsqueeze(1)).squeeze(1)
                loss = F.smooth_l1_loss(old_values, td_target)
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(q_network.parameters(), s.max_grad_norm)
                optimizer.step()

        if global_step % s.target_network_frequency < s.num_envs:
            with torch.no_grad():
                for target_param, param in zip(
                    target_network.parameters(), q_network.parameters(), strict=True
                ):
                    target_param.lerp_(param, s.tau)
        log.update(global_step)
    envs.close()
    return q_network


# What the package runs: the greedy policy of the Q-network.
AGENT_PROGRAM = AGENT_PROGRAMS / "dqn_agent.py"


def write_agent(q_network: QNetwork, settings: Settings, folder: Path) -> None:
    """Write the greedy agent of ``q_network`` as an agent package in ``folder``."""
    write_package(
        folder,
        name="dqn",
        challenge=settings.challenge,
        framework="torch",
        description=f"DQN baseline, {settings.total_steps:,} steps.",
        agent_program=AGENT_PROGRAM,
        settings=settings,
        save_weights=lambda f: torch.save(q_network.state_dict(), f / "q_network.pt"),
    )


if __name__ == "__main__":
    settings, out = parse_settings(Settings, "dqn", None)
    run("dqn", settings, out)
