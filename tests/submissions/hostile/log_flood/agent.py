"""Stdout/stderr flood: prints about 200 MB inside act, then hangs."""

import sys
import time

LINE = "flood " * 17476 + "\n"  # about 100 KiB


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        for n in range(2000):
            (sys.stdout if n % 2 else sys.stderr).write(LINE)
        time.sleep(3600)
