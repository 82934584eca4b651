"""Evaluation results: the typed records and their JSON."""

from __future__ import annotations

import json
import math

from aigc.submissions import results as r
from aigc.submissions.results import EvaluationResult, Failure

from .conftest import episode

# --- EvaluationResult --------------------------------------------------------------------------


def finished_result(**overrides) -> EvaluationResult:
    fields = {
        "challenge": "cartpole",
        "phase": "dev",
        "agent": "my-agent",
        "episodes_requested": 2,
        "episodes": [episode(500.0, 500, True, 0), episode(12.0, 12, False, 1, True, False)],
        "metrics": {"mean_return": 256.0, "success_rate": 0.5, "std_return": None},
        "primary_metric": "mean_return",
        "wall_time": 1.25,
        "steps": 512,
        "logs": "hello from the agent\n",
    }
    return EvaluationResult(**{**fields, **overrides})


def test_json_round_trip_is_equal():
    result = finished_result()
    assert EvaluationResult.from_json(result.to_json()) == result


def test_json_round_trip_keeps_info_values():
    episodes = [episode(1.0, values={"gold": 0.5, "nll": None}, index=0)]
    result = finished_result(episodes=episodes, episodes_requested=1)
    back = EvaluationResult.from_json(result.to_json())
    assert back == result and back.episodes[0].values == {"gold": 0.5, "nll": None}


def test_json_without_info_values_loads_with_none_declared():
    data = json.loads(finished_result().to_json())
    for record in data["episodes"]:
        del record["values"]  # as written before episodes carried them
    back = EvaluationResult.from_dict(data)
    assert [e.values for e in back.episodes] == [{}, {}]
    assert back == finished_result()


def test_json_round_trip_keeps_a_failure():
    failure = Failure(r.INVALID_ACTION, "action 5 is outside Discrete(2)", episode=1, step=0)
    result = finished_result(failure=failure, episodes=[episode(500.0, index=0)])
    back = EvaluationResult.from_json(result.to_json(indent=2))
    assert back == result and back.failure == failure


def test_dict_round_trip_does_not_change_the_input():
    data = finished_result().to_dict()
    EvaluationResult.from_dict(data)
    assert isinstance(data["episodes"][0], dict)


def test_ok_needs_every_episode_and_no_failure():
    assert finished_result().ok
    assert not finished_result(episodes=[episode(1.0)]).ok
    assert not finished_result(failure=Failure(r.STEP_TIMEOUT, "too slow")).ok


def test_score_is_the_primary_metric():
    assert finished_result().score == 256.0
    assert finished_result(primary_metric="success_rate").score == 0.5
    assert finished_result(primary_metric="std_return").score is None
    assert finished_result(primary_metric="max_return").score is None


def test_json_has_the_key_names_a_participant_reads():
    failure = Failure(r.AGENT_ERROR, "ZeroDivisionError in act", episode=1, step=3)
    data = json.loads(finished_result(failure=failure).to_json())
    assert set(data) == {
        "challenge",
        "phase",
        "agent",
        "episodes_requested",
        "episodes",
        "metrics",
        "primary_metric",
        "failure",
        "wall_time",
        "startup_time",
        "steps",
        "logs",
    }
    assert set(data["episodes"][0]) == {
        "index",
        "seed",
        "total_return",
        "length",
        "wall_time",
        "terminated",
        "truncated",
        "success",
        "values",
        "actions",
        "prompt",
        "completion",
    }
    assert data["failure"] == {
        "code": "agent_error",
        "message": "ZeroDivisionError in act",
        "episode": 1,
        "step": 3,
    }
    assert data["metrics"]["std_return"] is None


def test_failure_codes_are_distinct_snake_case_words():
    codes = [
        r.AGENT_START_FAILED,
        r.AGENT_ERROR,
        r.AGENT_EXITED,
        r.INVALID_ACTION,
        r.PROTOCOL_ERROR,
        r.STEP_TIMEOUT,
        r.EPISODE_TIMEOUT,
        r.EVALUATION_TIMEOUT,
    ]
    assert len(set(codes)) == len(codes)
    assert all(code.replace("_", "").isalpha() and code.islower() for code in codes)


def _refuse(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def test_json_is_standard_even_when_an_episode_return_is_not_finite():
    result = finished_result(episodes=[episode(math.nan, index=0), episode(1.0, index=1)])
    json.loads(result.to_json(), parse_constant=_refuse)
