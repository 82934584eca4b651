"""Returns an action of an exotic type; the file `kind` beside this one says which.

Each once crashed the agent runtime with its own traceback (reported as agent_exited)
instead of failing as an invalid action with a line that says what to return.
"""

from pathlib import Path

import numpy as np


class RaisingArray:
    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("no array for you")

    def __repr__(self):
        raise RuntimeError("no repr either")


def make(kind):
    if kind == "float128":
        return np.float128(1)
    if kind == "huge_int":
        return 2**70
    if kind == "huge_int_array":
        return [2**70]
    if kind == "complex":
        return np.complex128(1)
    if kind == "raising_array":
        return RaisingArray()
    raise ValueError(f"unknown kind {kind!r}")


class Agent:
    def __init__(self, observation_space, action_space):
        self.action = make((Path(__file__).parent / "kind").read_text().strip())

    def act(self, observation):
        return self.action
