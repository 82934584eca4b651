"""Balances CartPole, taking 10 ms per action: evaluations last a few seconds."""

import time


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        time.sleep(0.01)
        angle, angular_velocity = observation[2], observation[3]
        return int(angle + 0.5 * angular_velocity > 0)
