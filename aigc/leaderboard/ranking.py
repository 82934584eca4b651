"""Ranking: each entrant's best submission, ordered, with confidence intervals.

Pure functions on plain records: no web framework, no database. The platform turns its
rows into :class:`Candidate` records and shows the :class:`LeaderboardRow` records back.

Rules:

- An entrant (a participant, or a team) is represented by its best submission by the
  primary metric, in the challenge's direction.
- Ties on the primary metric are broken by the tie-breaker metric (when the challenge has
  one), then by the earlier submission.
- A submission without a score (its evaluation failed, or the metric came out NaN) never
  ranks above one with a score.
- Baseline rows are ordered among the others but take no rank: ranks count entrants.
- Each row carries a 95% bootstrap confidence interval of its primary metric over its
  episodes, and a mark where its interval overlaps the next row's: the order of two such
  rows could be chance.

Besides the built-in metrics, ``mean_x`` is the mean over episodes of the number ``x`` the
environment put in the info of each episode's last step (a challenge's ``metrics.info``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from aigc.submissions.challenge import INFO_PREFIX

BOOTSTRAP_SAMPLES = 2000
CONFIDENCE = 0.95

# Each built-in metric is a statistic of one per-episode quantity (mean_x: see _statistic_of).
_STATISTICS: dict[str, tuple[str, Callable[..., np.ndarray]]] = {
    "mean_return": ("return", np.mean),
    "std_return": ("return", np.std),
    "median_return": ("return", np.median),
    "min_return": ("return", np.min),
    "max_return": ("return", np.max),
    "mean_length": ("length", np.mean),
    "success_rate": ("success", np.mean),
}


def _statistic_of(metric: str) -> tuple[str, Callable[..., np.ndarray]]:
    """The per-episode quantity of a metric ("info:x" for mean_x) and its statistic."""
    if metric in _STATISTICS:
        return _STATISTICS[metric]
    if metric.startswith(INFO_PREFIX) and len(metric) > len(INFO_PREFIX):  # mean_x
        return f"info:{metric.removeprefix(INFO_PREFIX)}", np.mean
    raise KeyError(f"unknown metric {metric!r}")


@dataclass(frozen=True)
class Candidate:
    """One scored (or failed) submission, as ranking needs it."""

    entrant: str  # a stable key: "user:12", "team:3", "baseline:ppo"
    name: str  # what the board shows
    submission_id: int
    submitted_at: datetime
    score: float | None  # the primary metric; None when there is none
    tie_breaker: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    episodes: int = 0
    baseline: bool = False
    team: bool = False
    # The challenge's other reported metrics of this submission, shown beside the score.
    metrics: Mapping[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class LeaderboardRow:
    rank: int | None  # None for baselines
    entrant: str
    name: str
    submission_id: int
    submitted_at: datetime
    score: float | None
    ci_low: float | None
    ci_high: float | None
    episodes: int
    baseline: bool
    team: bool
    overlaps_next: bool = False  # the interval overlaps the next row's
    metrics: Mapping[str, float | None] = field(default_factory=dict)


def _present(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _sort_key(candidate: Candidate, higher_is_better: bool, tie_higher_is_better: bool) -> tuple:
    def directed(value: float | None, higher: bool) -> tuple[int, float]:
        if not _present(value):
            return (1, 0.0)  # missing values sort after every real one
        assert value is not None
        return (0, -value if higher else value)

    return (
        directed(candidate.score, higher_is_better),
        directed(candidate.tie_breaker, tie_higher_is_better),
        candidate.submitted_at,
        candidate.submission_id,
    )


def rank(
    candidates: Iterable[Candidate],
    higher_is_better: bool = True,
    tie_breaker_higher_is_better: bool = False,
) -> list[LeaderboardRow]:
    """Keep each entrant's best candidate and order them; see the module's rules."""
    order = lambda c: _sort_key(c, higher_is_better, tie_breaker_higher_is_better)  # noqa: E731
    best: dict[str, Candidate] = {}
    for candidate in candidates:
        kept = best.get(candidate.entrant)
        if kept is None or order(candidate) < order(kept):
            best[candidate.entrant] = candidate
    ordered = sorted(best.values(), key=order)
    rows, next_rank = [], 1
    for candidate in ordered:
        row_rank = None
        if not candidate.baseline:
            row_rank, next_rank = next_rank, next_rank + 1
        rows.append(
            LeaderboardRow(
                rank=row_rank,
                entrant=candidate.entrant,
                name=candidate.name,
                submission_id=candidate.submission_id,
                submitted_at=candidate.submitted_at,
                score=candidate.score if _present(candidate.score) else None,
                ci_low=candidate.ci_low,
                ci_high=candidate.ci_high,
                episodes=candidate.episodes,
                baseline=candidate.baseline,
                team=candidate.team,
                metrics=candidate.metrics,
            )
        )
    return [
        replace(row, overlaps_next=_overlap(row, rows[i + 1])) if i + 1 < len(rows) else row
        for i, row in enumerate(rows)
    ]


def _overlap(a: LeaderboardRow, b: LeaderboardRow) -> bool:
    if not all(_present(v) for v in (a.ci_low, a.ci_high, b.ci_low, b.ci_high)):
        return False
    assert a.ci_low is not None and a.ci_high is not None
    assert b.ci_low is not None and b.ci_high is not None
    return a.ci_low <= b.ci_high and b.ci_low <= a.ci_high


def episode_values(
    metric: str,
    returns: Sequence[float],
    lengths: Sequence[int],
    successes: Sequence[bool | None],
    infos: Sequence[Mapping[str, float | None]] = (),
) -> np.ndarray:
    """The per-episode quantity a metric is a statistic of.

    ``infos`` holds each episode's info values (``EpisodeResult.values``) for ``mean_x``
    metrics. Successes without a verdict and missing info values are dropped.
    """
    quantity = _statistic_of(metric)[0]
    if quantity == "return":
        return np.asarray(returns, dtype=np.float64)
    if quantity == "length":
        return np.asarray(lengths, dtype=np.float64)
    if quantity == "success":
        return np.asarray([float(s) for s in successes if s is not None], dtype=np.float64)
    name = quantity.removeprefix("info:")
    found = (values.get(name) for values in infos)
    return np.asarray([v for v in found if v is not None], dtype=np.float64)


def statistic(metric: str, values: np.ndarray) -> float | None:
    """The metric of these per-episode values (None if there are none, or it is not finite)."""
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return None
    value = float(_statistic_of(metric)[1](values))
    return value if math.isfinite(value) else None


def bootstrap_interval(
    metric: str, values: np.ndarray, seed: int = 0, samples: int = BOOTSTRAP_SAMPLES
) -> tuple[float, float] | None:
    """The 95% percentile-bootstrap interval of a metric over episodes (None if undefined).

    Seeded: the same episodes always give the same interval.
    """
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return None
    statistic = _statistic_of(metric)[1]
    generator = np.random.default_rng(seed)
    picks = generator.integers(0, len(values), size=(samples, len(values)))
    estimates = statistic(values[picks], axis=1)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(low), float(high)
