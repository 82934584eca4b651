"""Fixtures for the evaluation core: test agent packages and small challenges."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import yaml
from gymnasium import spaces

from aigc.submissions.challenge import ChallengeSpec, parse_challenge
from aigc.submissions.results import EpisodeResult

AGENTS = Path(__file__).parent / "agents"
HOSTILE = Path(__file__).parent / "hostile"


class PeakMemory:
    """How far this process's resident memory peaked above where it was on entering.

    Linux only: entering resets the kernel's peak (VmHWM) to the current size, so the
    measure holds whatever ran before, in this process or in the one that started it.
    """

    growth = 0  # bytes, once exited

    def __enter__(self) -> PeakMemory:
        Path("/proc/self/clear_refs").write_text("5")
        self.start = _status_bytes("VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        self.growth = _status_bytes("VmHWM") - self.start


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024  # reported in kB
    raise LookupError(field)


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """Run ``call`` in a thread; fail if it has not returned (or raised) after ``seconds``."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds:g} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


HOST_SERVICES = (6379, 5432)  # Redis and PostgreSQL


def loopback_answers(port: int) -> bool:
    """Whether something listens on this host's 127.0.0.1:``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2.0).close()
    except OSError:
        return False
    return True


def agent(name: str) -> Path:
    """Return the folder of a test agent package under tests/submissions/agents."""
    path = AGENTS / name
    assert (path / "aigc.toml").is_file(), f"no test agent {name!r}"
    return path


def hostile(name: str) -> Path:
    """Return the folder of a hostile agent package under tests/submissions/hostile."""
    path = HOSTILE / name
    assert (path / "aigc.toml").is_file(), f"no hostile agent {name!r}"
    return path


class CountingScorer:
    """A text environment's scorer that records how many completions each call scores."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, prompt: str, completion: str) -> float:
        self.calls.append(1)
        return float(len(completion))

    def score_batch(self, prompts: list[str], completions: list[str]) -> list[float]:
        self.calls.append(len(completions))
        return [float(len(c)) for c in completions]


def make_challenge(
    env_id: str = "CartPole-v1",
    episodes: int = 6,
    success: str | None = "truncated",
    metrics: dict | None = None,
    **limits: object,
) -> ChallengeSpec:
    """Build a small challenge with short limits (overridable by keyword).

    ``metrics`` adds to or replaces fields of the spec's metrics.
    """
    spec = {
        "id": "test-" + re.sub(r"[^a-z0-9]+", "-", env_id.split("-")[0].lower()),
        "title": f"{env_id} for tests",
        "environment": {"id": env_id},
        "phases": [
            {"id": "dev", "episodes": episodes, "seeds": {"first": 0}},
            {"id": "test", "visibility": "hidden", "episodes": episodes, "seeds": "secret"},
        ],
        "limits": {
            "step_timeout": "2s",
            "startup_timeout": "30s",
            "episode_timeout": "60s",
            "evaluation_timeout": "120s",
            **limits,
        },
        "metrics": {
            "primary": "mean_return",
            "report": ["mean_return", "std_return", "mean_length"],
        },
    }
    if success:
        spec["metrics"]["success"] = success
        spec["metrics"]["report"].append("success_rate")
    spec["metrics"].update(metrics or {})
    return parse_challenge(yaml.safe_load(yaml.safe_dump(spec)))


@pytest.fixture
def cartpole() -> ChallengeSpec:
    return make_challenge()


class TargetEnv(gym.Env):
    """Dict observation, MultiDiscrete action: +1 for each step the action hits the target.

    Observation: {"target": MultiDiscrete([3, 4]), "position": Box(-1, 1, (2,))}; action:
    MultiDiscrete([3, 4]); episodes last 10 steps.
    """

    def __init__(self) -> None:
        self.observation_space = spaces.Dict(
            {
                "target": spaces.MultiDiscrete([3, 4]),
                "position": spaces.Box(-1.0, 1.0, (2,), dtype=np.float32),
            }
        )
        self.action_space = spaces.MultiDiscrete([3, 4])
        self.steps = 0

    def _observation(self) -> dict:
        return {
            "target": self.target,
            "position": self.np_random.uniform(-1, 1, 2).astype(np.float32),
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.steps = 0
        self.target = self.np_random.integers(0, [3, 4]).astype(np.int64)
        return self._observation(), {}

    def step(self, action):
        assert self.action_space.contains(np.asarray(action))
        reward = float(np.array_equal(action, self.target))
        self.steps += 1
        self.target = self.np_random.integers(0, [3, 4]).astype(np.int64)
        return self._observation(), reward, False, self.steps >= 10, {}


gym.register("aigc-test/Target-v0", entry_point=TargetEnv)


class InfoEnv(gym.Env):
    """Reports numbers in the info of an episode's last step, as the text environment does.

    Observation: Box(-1, 1, (4,)) of zeros; action: Discrete(2); reward 1 per step. The
    episode with seed s lasts ``3 + s % 4`` steps. Its last info holds ``steps`` (that
    length), ``odd`` (whether it is odd, a flag) and ``label`` (text), except for seeds that
    are 4 modulo 6, whose last info is empty; earlier steps' infos say ``steps: -1``.
    """

    def __init__(self) -> None:
        self.observation_space = spaces.Box(-1.0, 1.0, (4,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self.seed_used, self.steps, self.length = 0, 0, 3

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.seed_used, self.steps = seed or 0, 0
        self.length = 3 + self.seed_used % 4
        return np.zeros(4, dtype=np.float32), {}

    def step(self, action):
        self.steps += 1
        done = self.steps >= self.length
        info: dict = {"steps": -1}
        if done:
            info = {"steps": self.steps, "odd": self.steps % 2 == 1, "label": "final"}
            if self.seed_used % 6 == 4:
                info = {}
        return np.zeros(4, dtype=np.float32), 1.0, done, False, info


gym.register("aigc-test/Info-v0", entry_point=InfoEnv)


class WideEnv(gym.Env):
    """Observations of 4 MiB (zeros), far more than a socket's buffer holds; Discrete(2)
    actions; reward 1 per step; episodes last 10 steps."""

    SIZE = 4 * 2**20

    def __init__(self) -> None:
        self.observation_space = spaces.Box(0, 255, (self.SIZE,), dtype=np.uint8)
        self.action_space = spaces.Discrete(2)
        self.steps = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.steps = 0
        return np.zeros(self.SIZE, np.uint8), {}

    def step(self, action):
        self.steps += 1
        return np.zeros(self.SIZE, np.uint8), 1.0, False, self.steps >= 10, {}


gym.register("aigc-test/Wide-v0", entry_point=WideEnv)


def episode(
    total_return: float,
    length: int = 10,
    success: bool | None = None,
    index: int = 0,
    terminated: bool = False,
    truncated: bool = True,
    values: dict[str, float | None] | None = None,
) -> EpisodeResult:
    return EpisodeResult(
        index=index,
        seed=1000 + index,
        total_return=total_return,
        length=length,
        wall_time=0.5,
        terminated=terminated,
        truncated=truncated,
        success=success,
        values=values or {},
    )
