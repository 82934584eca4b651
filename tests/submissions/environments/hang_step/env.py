"""Never answers a step: it sleeps in step for good."""

import time

import gymnasium as gym
from gymnasium import spaces


class Env(gym.Env):
    observation_space = spaces.Discrete(2)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return 0, {}

    def step(self, action):
        while True:
            time.sleep(60)
