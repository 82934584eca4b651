"""Never answers: sleeps forever in act."""

import time


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        time.sleep(3600)
