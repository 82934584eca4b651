"""Declares Discrete(2) observations, then returns 7 after the first step."""

import gymnasium as gym
from gymnasium import spaces


class Env(gym.Env):
    observation_space = spaces.Discrete(2)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return 0, {}

    def step(self, action):
        return 7, 1.0, False, False, {}
