"""Writes garbage bytes straight onto its socket to the evaluator."""

import os
import stat


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            try:
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    os.write(fd, b"\x00\x00\x00\x05garbage-bytes")
            except OSError:
                pass
        return 0
