"""What an evaluation produces: typed records that round-trip through JSON."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

# Failure codes, each a different thing for a participant to fix.
AGENT_START_FAILED = "agent_start_failed"  # import, constructor or startup deadline
AGENT_ERROR = "agent_error"  # act/act_batch/reset raised
AGENT_EXITED = "agent_exited"  # the process ended (crash, exit(), out of memory)
INVALID_ACTION = "invalid_action"
PROTOCOL_ERROR = "protocol_error"  # garbage, oversized frame, wrong message
STEP_TIMEOUT = "step_timeout"
EPISODE_TIMEOUT = "episode_timeout"
EVALUATION_TIMEOUT = "evaluation_timeout"
# The challenge's own environment failed: the organizer's fault, never the agent's.
ENVIRONMENT_ERROR = "environment_error"


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
    # What a replay needs (aigc.submissions.recording): the actions played, packed as text
    # (None where not recorded), and a text environment's prompt and completion.
    actions: str | None = None
    prompt: str | None = None
    completion: str | None = None


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


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value
