"""Raises in its constructor."""


class Agent:
    def __init__(self, observation_space, action_space):
        raise ValueError("weights.npy is missing")

    def act(self, observation):
        return 0
