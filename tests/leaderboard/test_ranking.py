"""Ranking with hand-built candidates: best per entrant, ties, failures, baselines, intervals."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from aigc.leaderboard import plots
from aigc.leaderboard.export import to_csv, to_json
from aigc.leaderboard.ranking import Candidate, board_figures, bootstrap_interval, rank
from aigc.submissions.metrics import MetricsSpec, compute_metrics, episode_values, statistic
from aigc.submissions.results import EpisodeResult, EvaluationResult

T0 = datetime(2026, 11, 1, tzinfo=UTC)
SUBMISSION_IDS = itertools.count(1)  # the same ids in every run, unlike hash()


def candidate(entrant: str, score: float | None, minutes: int = 0, **fields) -> Candidate:
    return Candidate(
        entrant=entrant,
        name=fields.pop("name", entrant),
        submission_id=fields.pop("submission_id", next(SUBMISSION_IDS)),
        submitted_at=T0 + timedelta(minutes=minutes),
        score=score,
        **fields,
    )


def names(rows) -> list[str]:
    return [row.name for row in rows]


def test_each_entrant_is_represented_by_its_best_submission():
    rows = rank(
        [
            candidate("alice", 100, 0),
            candidate("alice", 300, 10, submission_id=2),
            candidate("alice", 200, 20),
            candidate("bob", 250, 5, submission_id=7),
        ]
    )
    assert names(rows) == ["alice", "bob"]
    assert [r.rank for r in rows] == [1, 2]
    assert rows[0].submission_id == 2 and rows[0].score == 300


def test_lower_is_better_reverses_the_order():
    rows = rank([candidate("a", 10), candidate("b", 5), candidate("a", 3)], higher_is_better=False)
    assert names(rows) == ["a", "b"] and rows[0].score == 3


def test_ties_go_to_the_tie_breaker_then_to_the_earlier_submission():
    rows = rank(
        [
            candidate("late", 500, 30, tie_breaker=1.0),
            candidate("steady", 500, 40, tie_breaker=0.0),  # lower spread wins the tie
            candidate("early", 500, 10, tie_breaker=1.0),
        ],
        tie_breaker_higher_is_better=False,
    )
    assert names(rows) == ["steady", "early", "late"]


def test_equal_scores_without_tie_breaker_keep_submission_order():
    rows = rank([candidate("second", 1.0, 5), candidate("first", 1.0, 1)])
    assert names(rows) == ["first", "second"]


@pytest.mark.parametrize("missing", [None, math.nan, math.inf, -math.inf])
def test_failed_or_nan_scores_never_rank_above_real_ones(missing):
    rows = rank([candidate("broken", missing), candidate("weak", -1e9), candidate("good", 5)])
    assert names(rows) == ["good", "weak", "broken"]
    assert rows[-1].score is None
    # Also when lower is better: a missing score is not a small one.
    rows = rank([candidate("broken", missing), candidate("good", 5)], higher_is_better=False)
    assert names(rows) == ["good", "broken"]


def test_a_real_score_replaces_an_entrants_failed_one():
    rows = rank([candidate("alice", None, 0), candidate("alice", 12.0, 5), candidate("bob", 11.0)])
    assert names(rows) == ["alice", "bob"] and rows[0].score == 12.0


def test_baselines_are_ordered_among_entrants_but_take_no_rank():
    rows = rank(
        [
            candidate("baseline:ppo", 480, name="PPO", baseline=True),
            candidate("alice", 500),
            candidate("bob", 200),
            candidate("baseline:random", 20, name="random", baseline=True),
        ]
    )
    assert names(rows) == ["alice", "PPO", "bob", "random"]
    assert [r.rank for r in rows] == [1, None, 2, None]
    assert [r.baseline for r in rows] == [False, True, False, True]


def test_neighbours_with_overlapping_intervals_are_marked():
    rows = rank(
        [
            candidate("a", 10, ci_low=9, ci_high=11),
            candidate("b", 9.5, ci_low=8.5, ci_high=10.5),  # overlaps a
            candidate("c", 5, ci_low=4, ci_high=6),  # clear of b
            candidate("d", 4, ci_low=None, ci_high=None),  # no interval: no claim
        ]
    )
    assert [r.overlaps_next for r in rows] == [True, False, False, False]


def test_bootstrap_interval_covers_the_estimate_and_repeats():
    values = np.random.default_rng(1).normal(100, 20, 200)
    low, high = bootstrap_interval("mean_return", values)
    assert low < values.mean() < high
    # Standard error 20 / sqrt(200) ~ 1.41: the 95% interval is about +-2.8 wide.
    assert 4 < high - low < 7
    assert bootstrap_interval("mean_return", values) == (low, high)


def test_bootstrap_interval_of_identical_episodes_is_a_point():
    assert bootstrap_interval("mean_return", np.full(50, 500.0)) == (500.0, 500.0)


def test_bootstrap_interval_needs_two_finite_episodes():
    assert bootstrap_interval("mean_return", np.array([3.0])) is None
    assert bootstrap_interval("mean_return", np.array([3.0, math.nan])) is None


def test_episode_values_follow_the_metric():
    returns, lengths, successes = [1.0, 2.0], [10, 20], [True, None]
    assert list(episode_values("mean_return", returns, lengths, successes)) == [1.0, 2.0]
    assert list(episode_values("mean_length", returns, lengths, successes)) == [10.0, 20.0]
    assert list(episode_values("success_rate", returns, lengths, successes)) == [1.0]
    low, high = bootstrap_interval("success_rate", np.array([1.0, 0.0] * 50))
    assert 0.35 < low < 0.5 < high < 0.65


def test_info_metrics_are_means_of_each_episodes_info_value():
    returns, lengths, successes = [1.0, 2.0, 3.0], [10, 20, 30], [None] * 3
    infos = [{"gold": 0.5, "nll": 2.0}, {"gold": None, "nll": 4.0}, {"gold": 1.5}]
    gold = episode_values("mean_gold", returns, lengths, successes, infos)
    assert list(gold) == [0.5, 1.5]  # an episode without the value is left out
    assert list(episode_values("mean_nll", returns, lengths, successes, infos)) == [2.0, 4.0]
    assert statistic("mean_gold", gold) == 1.0
    assert len(episode_values("mean_gold", returns, lengths, successes)) == 0  # no infos given
    assert statistic("mean_gold", np.array([])) is None
    # An info value named like a built-in quantity is still read from the infos.
    flags = episode_values("mean_success", returns, lengths, [True] * 3, [{"success": 0.0}])
    assert list(flags) == [0.0]


def test_bootstrap_interval_of_an_info_metric_is_that_of_its_mean():
    values = np.random.default_rng(2).normal(-3.0, 0.5, 400)
    infos = [{"nll": float(v)} for v in values]
    per_episode = episode_values("mean_nll", [0.0] * 400, [1] * 400, [None] * 400, infos)
    interval = bootstrap_interval("mean_nll", per_episode, seed=7)
    assert interval == bootstrap_interval("mean_return", values, seed=7)
    low, high = interval
    assert low < values.mean() < high and high - low < 0.2


def test_unknown_metric_is_refused():
    with pytest.raises(KeyError):
        episode_values("best_return", [1.0], [1], [None])
    with pytest.raises(KeyError):
        statistic("mean_", np.array([1.0]))


def test_csv_and_json_exports_carry_every_row():
    rows = rank(
        [
            candidate("alice", 2.5, ci_low=2.0, ci_high=3.0, episodes=100),
            candidate("broken", None),
            candidate("baseline:dqn", 1.0, name="DQN", baseline=True),
        ]
    )
    table = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [r["name"] for r in table] == ["alice", "DQN", "broken"]
    assert table[0]["rank"] == "1" and table[1]["rank"] == "" and table[2]["score"] == ""
    assert table[0]["submitted_at"].endswith("Z")
    document = json.loads(to_json(rows, challenge="cartpole", phase="dev"))
    assert document["challenge"] == "cartpole"
    assert [r["rank"] for r in document["rows"]] == [1, None, 2]
    assert document["rows"][0]["ci_low"] == 2.0


def test_the_other_reported_metrics_travel_with_each_row():
    rows = rank(
        [
            candidate("alice", 1.5, metrics={"mean_gold": 0.64, "mean_nll": 4.5}),
            candidate("bob", 0.4, metrics={"mean_gold": 0.31}),
        ]
    )
    assert rows[0].metrics == {"mean_gold": 0.64, "mean_nll": 4.5}
    table = list(csv.DictReader(io.StringIO(to_csv(rows, ("mean_gold", "mean_nll")))))
    assert [(r["mean_gold"], r["mean_nll"]) for r in table] == [("0.64", "4.5"), ("0.31", "")]
    document = json.loads(to_json(rows))
    assert document["rows"][1]["metrics"] == {"mean_gold": 0.31}


def test_rows_scored_under_an_earlier_version_are_marked_but_ranked():
    found = [
        candidate("alice", 300, challenge_version=1),
        candidate("bob", 200, challenge_version=2),
        candidate("carol", 100),  # no version known
    ]
    rows = rank(found, current_version=2)
    assert names(rows) == ["alice", "bob", "carol"] and [r.rank for r in rows] == [1, 2, 3]
    assert [(r.challenge_version, r.outdated) for r in rows] == [
        (1, True),
        (2, False),
        (None, False),
    ]
    assert not any(r.outdated for r in rank(found))  # without the current version: no marks
    table = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [(r["challenge_version"], r["outdated"]) for r in table] == [
        ("1", "True"), ("2", "False"), ("", "False"),
    ]  # fmt: skip
    document = json.loads(to_json(rows))
    assert [r["outdated"] for r in document["rows"]] == [True, False, False]


def test_plots_are_valid_standalone_svg():
    series = {
        "alice": [(T0, 1.0), (T0 + timedelta(hours=1), 3.0)],
        "<script>": [(T0, 2.0)],  # names are escaped
    }
    for svg in (
        plots.best_over_time(series, "Best score", "mean return"),
        plots.best_over_time({}, "Best score", "mean return"),
        plots.histogram([1.0, 2.0, 2.0, math.nan], "Returns", "return"),
        plots.histogram([], "Returns", "return"),
        plots.histogram([5.0, 5.0], "Returns", "return"),
    ):
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
        assert "<script" not in svg and "http" not in svg.replace("http://www.w3.org/2000/svg", "")


def test_a_nan_return_leaves_no_score_and_no_interval_anywhere():
    """The evaluator's metrics and the board's figures follow one table and agree."""
    episodes = [
        EpisodeResult(i, i, value, 10, 0.1, True, False)
        for i, value in enumerate([1, 2, math.nan, 3])
    ]
    spec = MetricsSpec(report=("mean_return", "min_return", "mean_length"))
    metrics = compute_metrics(episodes, spec)
    assert metrics == {"mean_return": None, "min_return": None, "mean_length": 10.0}
    result = EvaluationResult("c", "dev", "a", 4, episodes, metrics)
    assert board_figures(result, spec, seed=1) == (None, None, None)  # std of a NaN: undefined
    returns = episode_values(
        "mean_return", [e.total_return for e in episodes], [10] * 4, [None] * 4
    )
    assert statistic("mean_return", returns) is None
    assert bootstrap_interval("mean_return", returns) is None
    # Unscored, it ranks below a scored submission however low.
    rows = rank([candidate("nan", metrics["mean_return"]), candidate("low", -1e9)])
    assert [(r.name, r.rank, r.score) for r in rows] == [("low", 1, -1e9), ("nan", 2, None)]


def test_an_infinite_return_counts_as_the_number_it_is():
    returns = np.array([1.0, math.inf])
    assert statistic("min_return", returns) == 1.0
    assert statistic("max_return", returns) is None and statistic("mean_return", returns) is None
    # No interval where a resample can give an infinite estimate.
    assert bootstrap_interval("min_return", returns) is None
