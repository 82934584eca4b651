"""The metrics table: metrics from finished episodes, what counts, success rules, intervals."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from aigc.submissions.metrics import (
    METRICS,
    MetricsSpec,
    compute_metrics,
    episode_success,
    info_values,
)

from .conftest import episode

ALL = MetricsSpec(success="terminated", report=METRICS)


# --- compute_metrics ---------------------------------------------------------------------------


def test_metrics_have_exact_values():
    episodes = [episode(1.0, 10), episode(2.0, 20), episode(3.0, 30), episode(10.0, 40)]
    metrics = compute_metrics(episodes, ALL)
    assert metrics["mean_return"] == 4.0
    assert metrics["std_return"] == pytest.approx(math.sqrt(12.5))  # population std
    assert metrics["median_return"] == 2.5
    assert metrics["min_return"] == 1.0
    assert metrics["max_return"] == 10.0
    assert metrics["mean_length"] == 25.0


def test_metrics_are_plain_floats():
    metrics = compute_metrics([episode(1.0), episode(2.0, success=True)], ALL)
    assert all(type(value) is float for value in metrics.values())


def test_one_episode_has_zero_std():
    metrics = compute_metrics([episode(-7.5, 3)], ALL)
    assert metrics["std_return"] == 0.0
    assert metrics["mean_return"] == metrics["min_return"] == metrics["max_return"] == -7.5


def test_success_rate_counts_only_episodes_with_a_verdict():
    verdicts = [True, False, None, True]
    episodes = [episode(1.0, success=verdict) for verdict in verdicts]
    assert compute_metrics(episodes, ALL)["success_rate"] == pytest.approx(2 / 3)


def test_success_rate_is_none_when_no_episode_has_a_verdict():
    assert compute_metrics([episode(1.0), episode(2.0)], ALL)["success_rate"] is None


def test_no_episodes_gives_no_numbers():
    metrics = compute_metrics([], ALL)
    assert metrics == dict.fromkeys(METRICS)


# numpy warns while computing std of an infinite return; the result is what matters here.
NUMPY_INF_WARNING = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")


@NUMPY_INF_WARNING
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_returns_give_none(bad):
    metrics = compute_metrics([episode(1.0, success=True), episode(bad, success=True)], ALL)
    for name in ("mean_return", "std_return"):
        assert metrics[name] is None
    assert metrics["mean_length"] == 10.0 and metrics["success_rate"] == 1.0
    json.dumps(metrics, allow_nan=False)  # JSON-safe


@NUMPY_INF_WARNING
def test_finite_extremes_survive_a_non_finite_return():
    metrics = compute_metrics([episode(1.0), episode(math.inf)], ALL)
    assert metrics["min_return"] == 1.0 and metrics["max_return"] is None


def test_only_the_reported_metrics_are_returned_in_report_order():
    spec = MetricsSpec(report=("max_return", "mean_length"))
    assert compute_metrics([episode(3.0, 7)], spec) == {"max_return": 3.0, "mean_length": 7.0}


INFO = MetricsSpec(info=("gold", "nll"), report=("mean_return", "mean_gold", "mean_nll"))


def test_info_metrics_are_means_over_the_episodes_that_have_the_value():
    episodes = [
        episode(1.0, values={"gold": 0.5, "nll": 3.0}),
        episode(2.0, values={"gold": None, "nll": 5.0}),  # the env gave no number
        episode(3.0, values={"gold": 1.5, "nll": None}),
        episode(4.0, values={"gold": 0.25, "nll": 4.0}),
    ]
    metrics = compute_metrics(episodes, INFO)
    assert list(metrics) == ["mean_return", "mean_gold", "mean_nll"]
    assert metrics["mean_gold"] == pytest.approx(0.75)
    assert metrics["mean_nll"] == pytest.approx(4.0)
    assert metrics["mean_return"] == 2.5
    assert type(metrics["mean_gold"]) is float


def test_info_metric_without_any_value_is_none():
    episodes = [episode(1.0, values={"gold": None}), episode(2.0)]  # e.g. results from before
    assert compute_metrics(episodes, INFO)["mean_gold"] is None
    assert compute_metrics([], INFO) == dict.fromkeys(INFO.report)


def test_info_metric_leaves_out_a_value_that_is_not_finite():
    episodes = [episode(1.0, values={"gold": 2.0}), episode(1.0, values={"gold": math.nan})]
    assert compute_metrics(episodes, INFO)["mean_gold"] == 2.0


def test_info_values_not_reported_are_not_returned():
    spec = MetricsSpec(info=("gold",), report=("mean_return",))
    assert compute_metrics([episode(1.0, values={"gold": 1.0})], spec) == {"mean_return": 1.0}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2, 2.0),
        (-0.5, -0.5),
        (np.float32(1.5), 1.5),
        (np.int64(7), 7.0),
        (np.array(0.25), 0.25),  # a 0-d array holds one number
        (True, 1.0),  # a flag counts as 1 or 0: its mean is how often it was set
        (np.bool_(False), 0.0),
        (math.nan, None),
        (math.inf, None),
        (np.float64(-np.inf), None),
        (10**400, None),  # too large for a float
        ("0.5", None),
        (None, None),
        ([1.0], None),
        (np.array([1.0, 2.0]), None),
        (1 + 2j, None),
        ({"x": 1}, None),
    ],
)
def test_info_values_take_finite_real_numbers_only(value, expected):
    assert info_values(MetricsSpec(info=("x",)), {"x": value, "other": 3.0}) == {"x": expected}


def test_info_values_give_none_for_a_missing_key_and_keep_the_declared_order():
    spec = MetricsSpec(info=("b", "a"))
    values = info_values(spec, {"a": 1, "c": 2})
    assert values == {"b": None, "a": 1.0} and list(values) == ["b", "a"]
    assert info_values(MetricsSpec(), {"a": 1}) == {}


# --- episode_success ---------------------------------------------------------------------------


def success(rule: str | None, total_return=0.0, terminated=False, truncated=False, info=None):
    spec = MetricsSpec(success=rule)
    return episode_success(spec, total_return, terminated, truncated, info or {})


@pytest.mark.parametrize(
    ("terminated", "truncated", "expected"),
    [(True, False, True), (False, True, False), (True, True, True), (False, False, False)],
)
def test_terminated_rule(terminated, truncated, expected):
    assert success("terminated", terminated=terminated, truncated=truncated) is expected


@pytest.mark.parametrize(
    ("terminated", "truncated", "expected"),
    [(False, True, True), (True, True, False), (True, False, False), (False, False, False)],
)
def test_truncated_rule_means_truncated_and_not_terminated(terminated, truncated, expected):
    assert success("truncated", terminated=terminated, truncated=truncated) is expected


@pytest.mark.parametrize(
    ("info", "expected"),
    [({"is_success": True}, True), ({"is_success": 0}, False), ({"is_success": 1.0}, True)],
)
def test_info_rule_reads_is_success(info, expected):
    assert success("info", terminated=True, info=info) is expected


def test_info_rule_without_is_success_gives_no_verdict():
    assert success("info", terminated=True, info={"other": 1}) is None
    assert success("info", terminated=True, info={"is_success": None}) is None


@pytest.mark.parametrize(("total", "expected"), [(194.9, False), (195.0, True), (500.0, True)])
def test_min_return_rule_counts_the_boundary_as_success(total, expected):
    spec = MetricsSpec(success="min_return", success_min_return=195.0)
    assert episode_success(spec, total, False, True, {}) is expected


def test_no_rule_gives_no_verdict():
    assert success(None, 1e9, terminated=True, truncated=True, info={"is_success": True}) is None
