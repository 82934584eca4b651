"""Returns a huge info, then writes a frame far beyond the cap straight to the evaluator."""

import gc

import gymnasium as gym
from gymnasium import spaces

from aigc.submissions.protocol import Connection


class Env(gym.Env):
    observation_space = spaces.Discrete(2)
    action_space = spaces.Discrete(2)

    def __init__(self):
        self.steps = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return 0, {}

    def step(self, action):
        self.steps += 1
        if self.steps == 1:  # an info of a million entries; metrics.info names one of them
            info = {f"k{i}": i for i in range(10**6)}
            info["reached"] = ["x"] * 10**6
            return 0, 0.0, False, False, info
        conn = next(o for o in gc.get_objects() if isinstance(o, Connection))
        conn.sock.sendall((2**31).to_bytes(4, "big") + b"\0" * 4096)
        return 0, 0.0, False, False, {}
