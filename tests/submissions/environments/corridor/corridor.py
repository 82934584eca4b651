"""A corridor with a goal at one end: walk to the side the observation points to.

Observation: ``{"position": Box(0, length, (1,), float32), "goal": Discrete(2)}`` (0: the
goal is at 0, 1: at ``length``). Actions: Discrete(3), 0 left, 1 stay, 2 right. Reward
-0.01 a step, +1 for reaching the goal, -1 for the other end; both end the episode. The
info of every step holds ``reached`` (1.0 at the goal, else 0.0) and ``distance``.
It draws ``rgb_array`` frames: one 8 x 8 cell a position, the walker white, the goal green.
"""

from __future__ import annotations

from typing import ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class Corridor(gym.Env):
    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, length: int = 8, render_mode: str | None = None):
        self.length = length
        self.render_mode = render_mode
        self.observation_space = spaces.Dict(
            {
                "position": spaces.Box(0.0, float(length), (1,), np.float32),
                "goal": spaces.Discrete(2),
            }
        )
        self.action_space = spaces.Discrete(3)
        self.position, self.goal = 0, 0

    def _observation(self):
        return {"position": np.array([self.position], dtype=np.float32), "goal": self.goal}

    def _info(self):
        target = 0 if self.goal == 0 else self.length
        return {"reached": float(self.position == target), "distance": abs(target - self.position)}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.goal = int(self.np_random.integers(2))
        self.position = int(self.np_random.integers(1, self.length))
        return self._observation(), self._info()

    def step(self, action):
        self.position = min(self.length, max(0, self.position + int(action) - 1))
        target = 0 if self.goal == 0 else self.length
        at_end = self.position in (0, self.length)
        reward = -0.01 + (1.0 if self.position == target else -1.0 if at_end else 0.0)
        return self._observation(), reward, at_end, False, self._info()

    def render(self):
        cell = 8
        frame = np.zeros((cell, cell * (self.length + 1), 3), dtype=np.uint8)
        target = 0 if self.goal == 0 else self.length
        frame[:, target * cell : (target + 1) * cell, 1] = 200
        frame[2:-2, self.position * cell + 2 : (self.position + 1) * cell - 2, :] = 255
        return frame
