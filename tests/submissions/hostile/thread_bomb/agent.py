"""Thread bomb: starts sleeping threads until no more can start."""

import threading
import time


class Agent:
    def __init__(self, observation_space, action_space):
        self.threads = []

    def act(self, observation):
        while True:
            thread = threading.Thread(target=time.sleep, args=(3600,), daemon=True)
            thread.start()  # raises RuntimeError: can't start new thread
            self.threads.append(thread)
