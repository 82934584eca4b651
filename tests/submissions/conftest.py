"""Fixtures for the evaluation core: test agent packages and small challenges."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aigc.submissions.challenge import ChallengeSpec, parse_challenge

AGENTS = Path(__file__).parent / "agents"


def agent(name: str) -> Path:
    """Return the folder of a test agent package under tests/submissions/agents."""
    path = AGENTS / name
    assert (path / "aigc.toml").is_file(), f"no test agent {name!r}"
    return path


def make_challenge(
    env_id: str = "CartPole-v1",
    episodes: int = 6,
    success: str | None = "truncated",
    **limits: object,
) -> ChallengeSpec:
    """Build a small challenge with short limits (overridable by keyword)."""
    spec = {
        "id": "test-" + env_id.split("-")[0].lower(),
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
    return parse_challenge(yaml.safe_load(yaml.safe_dump(spec)))


@pytest.fixture
def cartpole() -> ChallengeSpec:
    return make_challenge()
