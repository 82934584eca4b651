"""Samples from the action space (seeded by the runtime)."""


class Agent:
    def __init__(self, observation_space, action_space):
        self.action_space = action_space

    def act(self, observation):
        return self.action_space.sample()
