"""PPO (PyTorch) for challenges with Box observations and Discrete or Box actions.

    python -m aigc.baselines.ppo --challenge lunarlander --out runs/lunarlander-ppo
    aigc train ppo --challenge pendulum --out runs/pendulum-ppo

Proximal Policy Optimization with clipped surrogate objective and generalized advantage
estimation (Schulman et al., 2017), in the shape of CleanRL's ``ppo.py`` and
``ppo_continuous_action.py`` joined in one file: a categorical policy for Discrete actions,
a diagonal Gaussian for Box actions. Observations can be normalized by running statistics,
which the network keeps as buffers, so the agent written at the end normalizes the same
way. The agent acts deterministically: the most likely action, or the Gaussian's mean
clipped to the action space's bounds.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn

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
    """Proximal Policy Optimization with separate actor and critic networks."""

    challenge: str = "cartpole"
    """the challenge to train on (Box observations; Discrete or Box actions)"""
    seed: int = 1
    """seed of python, numpy, torch and the environments"""
    total_steps: int = 500_000
    """environment steps to train for"""
    num_envs: int = 4
    """environments stepped side by side"""
    num_steps: int = 128
    """steps in each environment per rollout (a rollout is num_envs * num_steps steps)"""
    learning_rate: float = 2.5e-4
    """the learning rate of the Adam optimizer"""
    anneal_lr: bool = True
    """whether the learning rate falls linearly to 0 over the training"""
    gamma: float = 0.99
    """the discount factor"""
    gae_lambda: float = 0.95
    """the lambda of generalized advantage estimation"""
    num_minibatches: int = 4
    """minibatches each rollout is split into"""
    update_epochs: int = 4
    """passes over each rollout"""
    norm_adv: bool = True
    """whether advantages are normalized within each minibatch"""
    clip_coef: float = 0.2
    """the surrogate clipping coefficient"""
    anneal_clip: bool = False
    """whether the clipping coefficient falls linearly to 0 over the training"""
    clip_vloss: bool = True
    """whether the value loss is clipped too"""
    ent_coef: float = 0.01
    """the weight of the entropy bonus"""
    vf_coef: float = 0.5
    """the weight of the value loss"""
    max_grad_norm: float = 0.5
    """the largest gradient norm (larger gradients are scaled down)"""
    target_kl: float = 0.0
    """stop a rollout's epochs once the approximate KL divergence exceeds this (0: never)"""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """the widths of the actor's and the critic's hidden layers (tanh)"""
    norm_obs: bool = False
    """whether observations are normalized by running mean and variance"""
    norm_reward: bool = False
    """whether rewards are scaled by the running deviation of the discounted return"""
    torch_threads: int = 1
    """CPU threads for torch (small networks run fastest on one)"""


def layer_init(layer: nn.Linear, std: float = np.sqrt(2), bias: float = 0.0) -> nn.Linear:
    """Orthogonal weights, constant biases (as in the PPO implementation details)."""
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


def mlp(n_in: int, hidden: tuple[int, ...], n_out: int, out_std: float) -> nn.Sequential:
    """Linear layers with tanh between them; the last layer's weights scaled by out_std."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [layer_init(nn.Linear(n_in, width)), nn.Tanh()]
        n_in = width
    layers.append(layer_init(nn.Linear(n_in, n_out), std=out_std))
    return nn.Sequential(*layers)


HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class RunningMeanStd:
    """The mean and variance of everything seen so far, merged batch by batch."""

    def __init__(self, shape: tuple[int, ...] = ()):
        self.mean, self.var, self.count = np.zeros(shape), np.ones(shape), 1e-4

    def update(self, batch: np.ndarray) -> None:
        batch_mean, batch_var, n = batch.mean(axis=0), batch.var(axis=0), len(batch)
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean = self.mean + delta * n / total
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        self.var, self.count = m2 / total, total


class Agent(nn.Module):
    """The actor (logits or Gaussian mean), its log-deviations, the critic, and the
    observation statistics the inputs are normalized with."""

    obs_mean: torch.Tensor
    obs_var: torch.Tensor

    def __init__(self, n_obs: int, hidden: tuple[int, ...], n_out: int, continuous: bool):
        super().__init__()
        self.continuous = continuous
        self.register_buffer("obs_mean", torch.zeros(n_obs))
        self.register_buffer("obs_var", torch.ones(n_obs))
        self.actor = mlp(n_obs, hidden, n_out, out_std=0.01)
        self.critic = mlp(n_obs, hidden, 1, out_std=1.0)
        if continuous:
            self.actor_logstd = nn.Parameter(torch.zeros(1, n_out))

    def normalize(self, obs: np.ndarray) -> torch.Tensor:
        """Raw observations to network inputs (the identity while norm_obs is off)."""
        x = torch.as_tensor(obs, dtype=torch.float32)
        return torch.clamp((x - self.obs_mean) / torch.sqrt(self.obs_var + 1e-8), -10, 10)

    def get_value(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(x).squeeze(-1)

    def get_action_and_value(
        self, x: torch.Tensor, action: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample an action (or score the given one): action, log-probability, entropy, value.

        The two distributions are written out rather than built as torch.distributions
        objects: the same numbers, at a fraction of the cost for networks this small.
        """
        out = self.actor(x)
        if self.continuous:
            # A diagonal Gaussian with mean `out` and state-independent log-deviations.
            log_std = self.actor_logstd.expand_as(out)
            if action is None:
                action = out + torch.randn_like(out) * log_std.exp()
            z = (action - out) * torch.exp(-log_std)
            logprob = (-0.5 * z**2 - log_std - HALF_LOG_2PI).sum(1)
            entropy = (0.5 + HALF_LOG_2PI + log_std).sum(1)
        else:
            # A categorical over the logits `out`; sampled by the Gumbel-max trick.
            log_probs = out.log_softmax(dim=-1)
            if action is None:
                gumbel = -torch.log(-torch.log(torch.rand_like(out)))
                action = (log_probs + gumbel).argmax(dim=-1)
            logprob = log_probs.gather(1, action.long().unsqueeze(1)).squeeze(1)
            entropy = -(log_probs.exp() * log_probs).sum(-1)
        return action, logprob, entropy, self.get_value(x)


@flushing_denormals
def train(settings: Settings, log: TrainingLog) -> Agent:
    """Train an actor-critic; return it."""
    s = settings
    batch_size = s.num_envs * s.num_steps
    minibatch_size = batch_size // s.num_minibatches
    num_iterations = max(1, s.total_steps // batch_size)

    # Seeding: python, numpy, torch, then the environments once.
    random.seed(s.seed)
    np.random.seed(s.seed)
    torch.manual_seed(s.seed)
    torch.set_num_threads(s.torch_threads)
    envs = make_vector_env(s.challenge, s.num_envs)
    obs_space, action_space = envs.single_observation_space, envs.single_action_space
    if not isinstance(obs_space, gym.spaces.Box):
        raise ValueError(
            f"PPO needs Box observations; {s.challenge} has {obs_space}: use qlearning"
        )
    # Box actions are clipped to these bounds; None for Discrete actions.
    bounds: gym.spaces.Box | None = None
    if isinstance(action_space, gym.spaces.Box):
        bounds, action_shape = action_space, action_space.shape
        n_out = int(np.prod(action_shape))
    elif isinstance(action_space, gym.spaces.Discrete):
        action_shape, n_out = (), int(action_space.n)
    else:
        raise ValueError(f"PPO needs Discrete or Box actions; {s.challenge} has {action_space}")
    continuous = bounds is not None
    n_obs = int(np.prod(obs_space.shape))

    agent = Agent(n_obs, s.hidden_sizes, n_out, continuous)
    # The fused Adam does the same updates in a few large operations: faster on a CPU.
    optimizer = torch.optim.Adam(agent.parameters(), lr=s.learning_rate, eps=1e-5, fused=True)

    # Rollout storage; observations are kept as the network saw them (normalized).
    obs = torch.zeros((s.num_steps, s.num_envs, n_obs))
    actions = torch.zeros((s.num_steps, s.num_envs, *action_shape))
    logprobs = torch.zeros((s.num_steps, s.num_envs))
    rewards = torch.zeros((s.num_steps, s.num_envs))
    dones = torch.zeros((s.num_steps, s.num_envs))
    values = torch.zeros((s.num_steps, s.num_envs))

    raw_obs, _ = envs.reset(seed=s.seed)
    raw_obs = raw_obs.reshape(s.num_envs, n_obs)
    next_done = torch.zeros(s.num_envs)
    episodic_returns = np.zeros(s.num_envs)
    episodic_lengths = np.zeros(s.num_envs, dtype=np.int64)
    obs_rms, return_rms = RunningMeanStd((n_obs,)), RunningMeanStd()
    discounted_returns = np.zeros(s.num_envs)
    global_step = 0

    for iteration in range(num_iterations):
        remaining = 1.0 - iteration / num_iterations
        if s.anneal_lr:
            optimizer.param_groups[0]["lr"] = s.learning_rate * remaining
        clip_coef = s.clip_coef * remaining if s.anneal_clip else s.clip_coef

        for step in range(s.num_steps):
            if s.norm_obs:
                obs_rms.update(raw_obs)
                agent.obs_mean.copy_(torch.as_tensor(obs_rms.mean))
                agent.obs_var.copy_(torch.as_tensor(obs_rms.var))
            next_obs = agent.normalize(raw_obs)
            obs[step] = next_obs
            dones[step] = next_done
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
            values[step], actions[step], logprobs[step] = value, action, logprob

            env_actions = action.numpy()
            if bounds is not None:
                env_actions = np.clip(env_actions, bounds.low, bounds.high)
            raw_obs, reward, terminations, truncations, infos = envs.step(env_actions)
            raw_obs = raw_obs.reshape(s.num_envs, n_obs)
            global_step += s.num_envs
            episodic_returns += reward
            episodic_lengths += 1

            if s.norm_reward:
                # Scale by the running deviation of the discounted return (not its mean).
                discounted_returns = discounted_returns * s.gamma + reward
                return_rms.update(discounted_returns)
                reward = np.clip(reward / np.sqrt(return_rms.var + 1e-8), -10, 10)

            done = np.logical_or(terminations, truncations)
            step_reward = torch.as_tensor(reward, dtype=torch.float32)
            for i in np.flatnonzero(done):
                log.episode(global_step, episodic_returns[i], episodic_lengths[i])
                episodic_returns[i], episodic_lengths[i] = 0.0, 0
                discounted_returns[i] = 0.0
                if truncations[i] and not terminations[i]:
                    # A time limit is not the end of the task: bootstrap from the last state.
                    final = np.asarray(infos["final_obs"][i]).reshape(1, n_obs)
                    with torch.no_grad():
                        step_reward[i] += s.gamma * agent.get_value(agent.normalize(final))[0]
            rewards[step] = step_reward
            next_done = torch.as_tensor(done, dtype=torch.float32)
        log.update(global_step)

        # Generalized advantage estimation, bootstrapped from the value of the next state.
        with torch.no_grad():
            next_value = agent.get_value(agent.normalize(raw_obs))
            advantages = torch.zeros_like(rewards)
            last_gae = torch.zeros(s.num_envs)
            for t in reversed(range(s.num_steps)):
                if t == s.num_steps - 1:
                    next_nonterminal, next_values = 1.0 - next_done, next_value
                else:
                    next_nonterminal, next_values = 1.0 - dones[t + 1], values[t + 1]
                delta = rewards[t] + s.gamma * next_values * next_nonterminal - values[t]
                last_gae = delta + s.gamma * s.gae_lambda * next_nonterminal * last_gae
                advantages[t] = last_gae
            returns = advantages + values

        b_obs = obs.reshape(-1, n_obs)
        b_actions = actions.reshape(-1, *action_shape)
        b_logprobs, b_advantages = logprobs.reshape(-1), advantages.reshape(-1)
        b_returns, b_values = returns.reshape(-1), values.reshape(-1)

        # Several epochs of minibatch updates on the clipped objective.
        indices = np.arange(batch_size)
        for _epoch in range(s.update_epochs):
            np.random.shuffle(indices)
            for start in range(0, batch_size, minibatch_size):
                mb = torch.as_tensor(indices[start : start + minibatch_size])
                mb_actions = b_actions[mb] if continuous else b_actions[mb].long()
                _, new_logprob, entropy, new_value = agent.get_action_and_value(
                    b_obs[mb], mb_actions
                )
                log_ratio = new_logprob - b_logprobs[mb]
                ratio = log_ratio.exp()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - log_ratio).mean()

                mb_advantages = b_advantages[mb]
                if s.norm_adv and len(mb) > 1:
                    mb_advantages = (mb_advantages - mb_advantages.mean()) / (
                        mb_advantages.std() + 1e-8
                    )
                pg_loss = torch.max(
                    -mb_advantages * ratio,
                    -mb_advantages * torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef),
                ).mean()

                if s.clip_vloss:
                    v_clipped = b_values[mb] + torch.clamp(
                        new_value - b_values[mb], -clip_coef, clip_coef
                    )
                    v_loss_unclipped = (new_value - b_returns[mb]) ** 2
                    v_loss_clipped = (v_clipped - b_returns[mb]) ** 2
                    v_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()
                else:
                    v_loss = 0.5 * ((new_value - b_returns[mb]) ** 2).mean()

                loss = pg_loss - s.ent_coef * entropy.mean() + s.vf_coef * v_loss
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), s.max_grad_norm)
                optimizer.step()
            if s.target_kl and approx_kl > s.target_kl:
                break
    log.update(global_step)
    envs.close()
    return agent


# What the package runs: the actor, acting deterministically.
AGENT_PROGRAM = AGENT_PROGRAMS / "ppo_agent.py"


def write_agent(agent: Agent, settings: Settings, folder: Path) -> None:
    """Write the deterministic policy of ``agent`` as an agent package in ``folder``."""
    policy = {k: v for k, v in agent.state_dict().items() if k.startswith(("actor.", "obs_"))}
    write_package(
        folder,
        name="ppo",
        challenge=settings.challenge,
        framework="torch",
        description=f"PPO baseline, {settings.total_steps:,} steps.",
        agent_program=AGENT_PROGRAM,
        settings=settings,
        save_weights=lambda f: torch.save(policy, f / "policy.pt"),
    )


if __name__ == "__main__":
    settings, out = parse_settings(Settings, "ppo", None)
    run("ppo", settings, out)
