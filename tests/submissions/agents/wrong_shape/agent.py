"""Returns a pair where Discrete wants one integer."""


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        return [0, 1]
