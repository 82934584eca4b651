"""Returns torque 3.0 where Pendulum allows [-2, 2]."""

import numpy as np


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        return np.array([3.0])
