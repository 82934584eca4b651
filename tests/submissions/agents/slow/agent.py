"""Answers every action after 0.2 s: within a step limit, past a short episode limit."""

import time


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        time.sleep(0.2)
        return 0
