"""The good CartPole policy, answering whole batches with act_batch."""

import numpy as np


class Agent:
    def __init__(self, observation_space, action_space):
        self.calls = 0

    def act_batch(self, observations):
        self.calls += 1
        return (observations[:, 2] + 0.5 * observations[:, 3] > 0).astype(np.int64)
