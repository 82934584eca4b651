"""Raises on its 60th action, after a few episodes have finished."""


class Agent:
    def __init__(self, observation_space, action_space):
        self.calls = 0

    def act(self, observation):
        self.calls += 1
        if self.calls == 60:
            return 1 / 0
        return 0
