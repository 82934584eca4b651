"""Balances CartPole with numpy, beside a numpy.py of its own that must not be used."""

import numpy as np


class Agent:
    def __init__(self, observation_space, action_space):
        self.weights = np.array([0.0, 0.0, 1.0, 0.5])

    def act(self, observation):
        return int(float(np.dot(self.weights, observation)) > 0)
