"""Balances CartPole by pushing towards the side the pole leans to."""


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        angle, angular_velocity = observation[2], observation[3]
        return int(angle + 0.5 * angular_velocity > 0)
