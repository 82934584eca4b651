"""Ranking: each entrant's best submission, ordered, with confidence intervals.

Pure functions on plain records: no web framework, no database. The platform turns its
rows into :class:`Candidate` records and shows the :class:`LeaderboardRow` records back.

Rules:

- An entrant (a participant, or a team) is represented by its best submission by the
  primary metric, in the challenge's direction.
- Ties on the primary metric are broken by the tie-breaker metric (when the challenge has
  one), then by the earlier submission.
- A submission without a score (its evaluation failed, or the metric is undefined: see
  :mod:`aigc.submissions.metrics`) never ranks above one with a score.
- Baseline rows are ordered among the others but take no rank: ranks count entrants.
- Each row carries the challenge version its submission was scored under; with the
  current version given, rows scored under an earlier one are marked ``outdated`` (an
  organizer may rerun them), but still ranked.
- Each row carries a 95% bootstrap confidence interval of its primary metric over its
  episodes, and a mark where its interval overlaps the next row's: the order of two such
  rows could be chance.

The metrics themselves, and what counts towards them, are :mod:`aigc.submissions.metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from aigc.submissions.metrics import MetricsSpec, statistic, values_of
from aigc.submissions.metrics import metric as metric_named
from aigc.submissions.results import EvaluationResult

BOOTSTRAP_SAMPLES = 2000
CONFIDENCE = 0.95


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
    challenge_version: int | None = None  # the version it was scored under


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
    challenge_version: int | None = None
    outdated: bool = False  # scored under an earlier version than the current one


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
    current_version: int | None = None,
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
                challenge_version=candidate.challenge_version,
                outdated=current_version is not None
                and candidate.challenge_version is not None
                and candidate.challenge_version < current_version,
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


def bootstrap_interval(
    metric: str, values: np.ndarray, seed: int = 0, samples: int = BOOTSTRAP_SAMPLES
) -> tuple[float, float] | None:
    """The 95% percentile-bootstrap interval of a metric over episodes (None if undefined).

    Undefined where the metric is (see :mod:`aigc.submissions.metrics`), and over fewer
    than two episodes. Seeded: the same episodes always give the same interval.
    """
    if len(values) < 2 or statistic(metric, values) is None:
        return None
    reduce = metric_named(metric).statistic
    generator = np.random.default_rng(seed)
    picks = generator.integers(0, len(values), size=(samples, len(values)))
    tail = (1 - CONFIDENCE) / 2 * 100
    with np.errstate(invalid="ignore", over="ignore"):
        estimates = reduce(values[picks], axis=1)
        low, high = (float(v) for v in np.percentile(estimates, [tail, 100 - tail]))
    return (low, high) if math.isfinite(low) and math.isfinite(high) else None


def board_figures(
    result: EvaluationResult, metrics: MetricsSpec, seed: int
) -> tuple[float | None, float | None, float | None]:
    """What a result brings to its board: the score's interval and the tie-breaker's value.

    The score itself is the result's primary metric, computed by the same table.
    """
    interval = bootstrap_interval(
        metrics.primary, values_of(metrics.primary, result.episodes), seed
    )
    tie = None
    if metrics.tie_breaker is not None:
        tie = statistic(metrics.tie_breaker, values_of(metrics.tie_breaker, result.episodes))
    return (interval[0], interval[1], tie) if interval else (None, None, tie)
