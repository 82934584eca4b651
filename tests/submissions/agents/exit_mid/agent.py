"""Exits the process with status 3 on its 40th action."""

import os


class Agent:
    def __init__(self, observation_space, action_space):
        self.calls = 0

    def act(self, observation):
        self.calls += 1
        if self.calls == 40:
            print("giving up now", flush=True)
            os._exit(3)
        return 0
