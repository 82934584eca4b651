"""A hostile environment whose frames are not what a replay can show.

``frame`` (a kwarg) says how it draws: ``huge`` a 3000 x 3000 image (beyond the protocol's
frame cap), ``tall`` a 5000 x 2 image (within the cap, beyond the side limit), ``flat`` a
2-d image, ``float`` an image of floats, ``objects`` an image of Python objects. It plays
like a short corridor: the action 1 ends the episode with reward 1. ``TextEnv`` draws ansi
text with terminal escapes, longer than a frame keeps.
"""

from __future__ import annotations

from typing import ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

FRAMES = {
    "huge": lambda: np.zeros((3000, 3000, 3), dtype=np.uint8),
    "tall": lambda: np.zeros((5000, 2, 3), dtype=np.uint8),
    "flat": lambda: np.zeros((64, 64), dtype=np.uint8),
    "float": lambda: np.zeros((8, 8, 3), dtype=np.float32),
    "objects": lambda: np.array([[[object()] * 3] * 4] * 4, dtype=object),
}


class Env(gym.Env):
    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, frame: str = "huge", render_mode: str | None = None):
        self.frame, self.render_mode = frame, render_mode
        self.observation_space = spaces.Discrete(2)
        self.action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return 0, {}

    def step(self, action):
        done = int(action) == 1
        return int(done), float(done), done, False, {}

    def render(self):
        return FRAMES[self.frame]()


class TextEnv(Env):
    """Draws ansi text: terminal escapes, then far more text than a frame keeps."""

    metadata: ClassVar[dict] = {"render_modes": ["ansi"]}

    def render(self):
        return "\x1b[2J\x1b]0;owned\x07" + "x" * 10**6
