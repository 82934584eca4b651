"""Defines a class without act()."""


class Agent:
    def __init__(self, observation_space, action_space):
        pass
