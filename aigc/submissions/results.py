"""What an evaluation produces: typed records that round-trip through JSON."""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from aigc.submissions.challenge import MetricsSpec, info_metric

# Failure codes, each a different thing for a participant to fix.
AGENT_START_FAILED = "agent_start_failed"  # import, constructor or startup deadline
AGENT_ERROR = "agent_error"  # act/act_batch/reset raised
AGENT_EXITED = "agent_exited"  # the process ended (crash, exit(), out of memory)
INVALID_ACTION = "invalid_action"
PROTOCOL_ERROR = "protocol_error"  # garbage, oversized frame, wrong message
STEP_TIMEOUT = "step_timeout"
EPISODE_TIMEOUT = "episode_timeout"
EVALUATION_TIMEOUT = "evaluation_timeout"


@dataclass(frozen=True)
class EpisodeResult:
    """One finished episode."""

    index: int
    seed: int
    total_return: float
    length: int
    wall_time: float
    terminated: bool
    truncated: bool
    success: bool | None = None
    # The numbers named in the challenge's metrics.info, from the info of the last step;
    # None where the environment gave no finite number.
    values: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    """Why an evaluation stopped early, in words a participant can act on."""

    code: str
    message: str
    episode: int | None = None  # index of the episode that was running, if any
    step: int | None = None


@dataclass
class EvaluationResult:
    """Finished episodes, their aggregate metrics, and a failure if the run stopped early."""

    challenge: str
    phase: str
    agent: str
    episodes_requested: int
    episodes: list[EpisodeResult] = field(default_factory=list)
    metrics: dict[str, float | None] = field(default_factory=dict)
    primary_metric: str = "mean_return"
    failure: Failure | None = None
    wall_time: float = 0.0
    startup_time: float | None = None  # starting the sandbox -> the agent's first action
    steps: int = 0
    logs: str = ""

    @property
    def ok(self) -> bool:
        return self.failure is None and len(self.episodes) == self.episodes_requested

    @property
    def score(self) -> float | None:
        return self.metrics.get(self.primary_metric)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, **kwargs: Any) -> str:
        """Serialise to strict JSON: a non-finite number becomes null."""
        return json.dumps(_json_safe(self.to_dict()), allow_nan=False, **kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationResult:
        data = dict(data)
        data["episodes"] = [EpisodeResult(**e) for e in data.get("episodes", [])]
        data["failure"] = Failure(**data["failure"]) if data.get("failure") else None
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> EvaluationResult:
        return cls.from_dict(json.loads(text))


def compute_metrics(episodes: list[EpisodeResult], spec: MetricsSpec) -> dict[str, float | None]:
    """Aggregate the finished episodes into the metrics the challenge reports."""
    returns = np.array([e.total_return for e in episodes], dtype=np.float64)
    lengths = np.array([e.length for e in episodes], dtype=np.float64)
    successes = [e.success for e in episodes if e.success is not None]

    def stat(values: np.ndarray, fn: Any) -> float | None:
        with np.errstate(invalid="ignore", over="ignore"):
            return float(fn(values)) if len(values) else None

    table: dict[str, float | None] = {
        "mean_return": stat(returns, np.mean),
        "std_return": stat(returns, np.std),
        "median_return": stat(returns, np.median),
        "min_return": stat(returns, np.min),
        "max_return": stat(returns, np.max),
        "mean_length": stat(lengths, np.mean),
        "success_rate": float(np.mean(successes)) if successes else None,
    }
    for x in spec.info:  # the mean over the episodes that have a number for it
        found = (e.values.get(x) for e in episodes)
        values = [v for v in found if v is not None and math.isfinite(v)]
        table[info_metric(x)] = stat(np.array(values, dtype=np.float64), np.mean)
    return {name: _finite(table[name]) for name in spec.report}


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _finite(value: float | None) -> float | None:
    # JSON has no NaN or infinity; an env that produced one gets no number for it.
    return value if value is None or math.isfinite(value) else None


def episode_success(
    spec: MetricsSpec, total_return: float, terminated: bool, truncated: bool, info: dict
) -> bool | None:
    """Apply the challenge's definition of success to one finished episode."""
    if spec.success == "terminated":
        return terminated
    if spec.success == "truncated":
        return truncated and not terminated
    if spec.success == "info":
        value = info.get("is_success")
        return None if value is None else bool(value)
    if spec.success == "min_return":
        assert spec.success_min_return is not None
        return total_return >= spec.success_min_return
    return None


def info_values(spec: MetricsSpec, info: Mapping[str, Any]) -> dict[str, float | None]:
    """Read the numbers the challenge declares in metrics.info from a last step's info.

    A missing value, one that is not a real number, or one that is NaN or infinite gives
    None. True and False count as 1 and 0, so the mean of a flag is how often it was set.
    """
    return {name: _info_number(info.get(name)) for name in spec.info}


def _info_number(value: Any) -> float | None:
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()  # a 0-d array holds one number
    if not isinstance(value, numbers.Real | np.bool_):  # numpy numbers are registered
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError):  # an int too large for a float
        return None
    return number if math.isfinite(number) else None
