"""DQN agent: the action with the highest Q-value.

Written into its package as agent.py by aigc.baselines.dqn; needs numpy and torch. The
widths of the hidden layers come from the package's ``settings.json``, the weights from
``q_network.pt``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn


class QNetwork(nn.Module):
    """Q-values of every action: linear layers with ReLU between them."""

    def __init__(self, n_obs: int, hidden_sizes: Sequence[int], n_actions: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for width in hidden_sizes:
            layers += [nn.Linear(n_obs, width), nn.ReLU()]
            n_obs = width
        layers.append(nn.Linear(n_obs, n_actions))
        self.network = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)


class Agent:
    """Acts greedily on a trained Q-network."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space) -> None:
        if not isinstance(observation_space, spaces.Box):
            raise ValueError(
                f"the DQN agent needs Box observations, not {observation_space}: "
                "evaluate it on the challenge it was trained on"
            )
        if not isinstance(action_space, spaces.Discrete):
            raise ValueError(
                f"the DQN agent needs Discrete actions, not {action_space}: "
                "evaluate it on the challenge it was trained on"
            )
        torch.set_num_threads(1)
        with open("settings.json", encoding="utf-8") as handle:
            hidden_sizes = json.load(handle)["hidden_sizes"]
        n_obs = int(np.prod(observation_space.shape))
        self.q_network = QNetwork(n_obs, hidden_sizes, int(action_space.n))
        self.q_network.load_state_dict(torch.load("q_network.pt", weights_only=True))
        self.q_network.eval()

    def act(self, observation: Any) -> int:
        """Return the action with the highest Q-value."""
        return int(self.act_batch(np.asarray(observation)[None])[0])

    def act_batch(self, observations: Any) -> np.ndarray:
        """Return the action with the highest Q-value for each observation."""
        x = torch.as_tensor(np.asarray(observations, dtype=np.float32))
        with torch.no_grad():
            return self.q_network(x.reshape(len(x), -1)).argmax(dim=1).numpy()
