"""Draws actions from numpy's and Python's global generators (seeded by the runtime)."""

import random

import numpy as np


class Agent:
    def __init__(self, observation_space, action_space):
        self.n = int(action_space.n)

    def act(self, observation):
        if random.random() < 0.5:
            return int(np.random.randint(self.n))
        return self.n - 1
