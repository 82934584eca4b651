"""PPO agent: acts deterministically on the actor of a PPO baseline.

For Discrete actions the most likely action; for Box actions the Gaussian's mean, clipped to
the bounds. Written into its package as agent.py by aigc.baselines.ppo; needs numpy and
torch. The widths of the hidden layers come from the package's ``settings.json``, the
weights and the observation statistics from ``policy.pt``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn


class Policy(nn.Module):
    """Normalize the observation with the training's statistics, then the actor network."""

    obs_mean: torch.Tensor
    obs_var: torch.Tensor

    def __init__(self, n_obs: int, hidden_sizes: Sequence[int], n_out: int) -> None:
        super().__init__()
        self.register_buffer("obs_mean", torch.zeros(n_obs))
        self.register_buffer("obs_var", torch.ones(n_obs))
        layers: list[nn.Module] = []
        for width in hidden_sizes:
            layers += [nn.Linear(n_obs, width), nn.Tanh()]
            n_obs = width
        layers.append(nn.Linear(n_obs, n_out))
        self.actor = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.clamp((x - self.obs_mean) / torch.sqrt(self.obs_var + 1e-8), -10, 10)
        return self.actor(x)


class Agent:
    """Acts deterministically on a trained actor."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space) -> None:
        if not isinstance(observation_space, spaces.Box):
            raise ValueError(
                f"the PPO agent needs Box observations, not {observation_space}: "
                "evaluate it on the challenge it was trained on"
            )
        # Box actions are clipped to these bounds; None for Discrete actions.
        self.bounds: spaces.Box | None = None
        if isinstance(action_space, spaces.Discrete):
            n_out = int(action_space.n)
        elif isinstance(action_space, spaces.Box):
            self.bounds = action_space
            n_out = int(np.prod(action_space.shape))
        else:
            raise ValueError(
                f"the PPO agent needs Discrete or Box actions, not {action_space}: "
                "evaluate it on the challenge it was trained on"
            )
        torch.set_num_threads(1)
        with open("settings.json", encoding="utf-8") as handle:
            hidden_sizes = json.load(handle)["hidden_sizes"]
        self.policy = Policy(int(np.prod(observation_space.shape)), hidden_sizes, n_out)
        self.policy.load_state_dict(torch.load("policy.pt", weights_only=True))
        self.policy.eval()

    def act(self, observation: Any) -> int | np.ndarray:
        """Return the action for one observation."""
        action = self.act_batch(np.asarray(observation)[None])[0]
        return int(action) if self.bounds is None else action

    def act_batch(self, observations: Any) -> np.ndarray:
        """Return the actions for observations stacked on axis 0."""
        x = torch.as_tensor(np.asarray(observations, dtype=np.float32))
        with torch.no_grad():
            out = self.policy(x.reshape(len(x), -1)).numpy()
        if self.bounds is None:
            return out.argmax(axis=1)
        space = self.bounds
        mean = out.reshape(len(out), *space.shape)
        return np.clip(mean, space.low, space.high).astype(space.dtype)
