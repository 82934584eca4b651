"""Reads a Dict observation and answers with a MultiDiscrete action."""

import numpy as np


class Agent:
    def __init__(self, observation_space, action_space):
        assert set(observation_space.spaces) == {"target", "position"}
        self.nvec = action_space.nvec

    def act(self, observation):
        # Aim for the target, whatever the position.
        return np.asarray(observation["target"], dtype=np.int64) % self.nvec
