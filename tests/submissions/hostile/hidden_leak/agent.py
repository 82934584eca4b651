"""Smuggles what it saw on a hidden phase out through where it fails.

It reads a number off its first observation (5 to 6 bits of it), plays that many
episodes, then raises. A participant who could see the episode counter, the episode
index of the failure or the exact run time would read the number back.
"""


class Agent:
    def __init__(self, observation_space, action_space):
        self.episodes = -1
        self.secret = None

    def reset(self):  # stateful: the evaluator gives one episode at a time
        self.episodes += 1
        if self.secret is not None and self.episodes >= self.secret:
            raise RuntimeError(f"leaving after episode {self.secret}")

    def act(self, observation):
        if self.secret is None:
            self.secret = 1 + int(abs(float(observation[0])) * 1e4) % 40
        return int(observation[2] + 0.5 * observation[3] > 0)
