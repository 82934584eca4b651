"""Keeps the previous observation; fails loudly if two episodes are ever interleaved."""


class Agent:
    def __init__(self, observation_space, action_space):
        self.previous = None
        self.resets = 0

    def reset(self):
        self.previous = None
        self.resets += 1

    def act(self, observation):
        if self.resets == 0:
            raise RuntimeError("act() before any reset()")
        if self.previous is not None:
            # CartPole moves the cart by exactly tau * velocity per step (tau = 0.02).
            expected = self.previous[0] + 0.02 * self.previous[1]
            if abs(observation[0] - expected) > 1e-4:
                raise RuntimeError("observations of two episodes were interleaved")
        self.previous = observation
        angle, angular_velocity = observation[2], observation[3]
        return int(angle + 0.5 * angular_velocity > 0)
