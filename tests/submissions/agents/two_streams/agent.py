"""Writes lines to stdout and stderr by turns while it starts, then pushes left.

Between two streams the order of lines is the order their reader receives them: the agent
pauses at each change of stream so that order is the order it wrote them in.
"""

import os
import sys
import time

LINES = [
    (sys.stdout, "out 1: loading"),
    (sys.stdout, "out 2: still loading"),
    (sys.stderr, "err 1: a warning"),
    (sys.stdout, "out 3: loaded"),
    (sys.stderr, "err 2: \x1b[31mred\x1b[0m"),
]


class Agent:
    def __init__(self, observation_space, action_space):
        previous = None
        for stream, line in LINES:
            if previous is not None and stream is not previous:
                time.sleep(0.3)
            print(line, file=stream, flush=True)
            previous = stream
        time.sleep(0.3)
        os.write(2, b"err 3: no newline")

    def act(self, observation):
        return 0
