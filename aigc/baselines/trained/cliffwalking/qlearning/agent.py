"""Q-learning agent: the greedy action of a learned Q-table (``q_table.npy``).

Written into its package as agent.py by aigc.baselines.qlearning; needs only numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces


class Agent:
    """Acts greedily on a table of action values, one row per state."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space) -> None:
        self.q_table = np.load("q_table.npy")

    def act(self, observation: Any) -> int:
        """Return the action of highest value in the observed state."""
        return int(np.argmax(self.q_table[int(observation)]))

    def act_batch(self, observations: Any) -> np.ndarray:
        """Return the action of highest value in each observed state."""
        return np.argmax(self.q_table[np.asarray(observations, dtype=np.int64)], axis=1)
