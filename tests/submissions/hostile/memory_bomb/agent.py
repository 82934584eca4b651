"""Memory bomb: allocates and touches memory until it is killed."""

CHUNK = 16 * 2**20


class Agent:
    def __init__(self, observation_space, action_space):
        self.hoard = []

    def act(self, observation):
        while True:
            # Repeating a byte writes every page: the memory is really used, not just reserved.
            self.hoard.append(b"\x01" * CHUNK)
