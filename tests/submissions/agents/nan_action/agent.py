"""Returns NaN torque for Pendulum."""

import numpy as np


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        return np.array([np.nan], dtype=np.float32)
