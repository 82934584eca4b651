"""Busy loop: spins forever in act without ever sleeping or answering."""


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        while True:
            pass
