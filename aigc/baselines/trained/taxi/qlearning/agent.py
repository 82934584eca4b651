"""Q-learning agent for taxi: the greedy action of a learned Q-table.

Trained by aigc.baselines.qlearning; needs only numpy.
"""

import numpy as np


class Agent:
    def __init__(self, observation_space, action_space):
        self.q_table = np.load("q_table.npy")

    def act(self, observation):
        return int(np.argmax(self.q_table[int(observation)]))

    def act_batch(self, observations):
        return np.argmax(self.q_table[np.asarray(observations, dtype=np.int64)], axis=1)
