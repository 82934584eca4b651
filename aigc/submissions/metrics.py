"""The metrics a challenge can report: one table for the spec, the evaluator and the boards.

Each metric is a statistic of one per-episode quantity:

================  =====================  =========
metric            per-episode quantity   statistic
================  =====================  =========
mean_return       return                 mean
std_return        return                 std (population)
median_return     return                 median
min_return        return                 min
max_return        return                 max
mean_length       length                 mean
success_rate      success (1 or 0)       mean
mean_x            info value x           mean
================  =====================  =========

``mean_x`` exists for each name ``x`` a challenge lists in ``metrics.info``: the number the
environment puts in the info of an episode's last step.

What does not count. An episode whose success has no verdict does not count towards
``success_rate``; one without a finite number for ``x`` (missing, not a number, NaN or
infinite) does not count towards ``mean_x``. A return, by contrast, always counts as the
number it is: a NaN return makes every return metric NaN, an infinite one makes the mean
infinite (the minimum of 1 and infinity is still 1). Leaving such episodes out would
reward whatever made the environment give them. A statistic that is NaN or infinite is
undefined: the metric is None, a submission without its primary metric ranks below every
scored one, and no confidence interval is stored for it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from aigc.submissions.results import EpisodeResult

INFO_PREFIX = "mean_"  # a name x in metrics.info is reported as the metric mean_x


@dataclass(frozen=True)
class Metric:
    """One row of the table: a statistic of one per-episode quantity."""

    name: str
    quantity: str  # "return", "length", "success", or "info:x" for mean_x
    statistic: Callable[..., Any]  # a numpy reduction that takes ``axis``


TABLE = (
    Metric("mean_return", "return", np.mean),
    Metric("std_return", "return", np.std),
    Metric("median_return", "return", np.median),
    Metric("min_return", "return", np.min),
    Metric("max_return", "return", np.max),
    Metric("mean_length", "length", np.mean),
    Metric("success_rate", "success", np.mean),
)
METRICS = tuple(m.name for m in TABLE)
_BY_NAME = {m.name: m for m in TABLE}


def bounds(name: str) -> tuple[float, float] | None:
    """The values a metric can take, where the metric itself bounds them (a rate: 0 to 1)."""
    return (0.0, 1.0) if metric(name).quantity == "success" else None


def info_metric(name: str) -> str:
    """The metric that reports the info value ``name``: its mean over episodes."""
    return INFO_PREFIX + name


def metric(name: str) -> Metric:
    """Look a metric up by name: one of METRICS, or mean_x. Raise KeyError for others."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name.startswith(INFO_PREFIX) and len(name) > len(INFO_PREFIX):
        return Metric(name, f"info:{name.removeprefix(INFO_PREFIX)}", np.mean)
    raise KeyError(f"unknown metric {name!r}")


_TITLES = {
    "mean_return": "Mean return",
    "std_return": "Std of return",
    "median_return": "Median return",
    "min_return": "Min return",
    "max_return": "Max return",
    "mean_length": "Mean length",
    "success_rate": "Success rate",
}


@dataclass(frozen=True)
class Shown:
    """How a reported metric is shown: its title, and which way is better (None: neither)."""

    name: str
    title: str
    higher_is_better: bool | None

    @property
    def arrow(self) -> str:
        """↑ where higher is better, ↓ where lower is, nothing where neither is."""
        return {True: "↑", False: "↓", None: ""}[self.higher_is_better]

    @property
    def direction(self) -> str:
        """'higher is better', 'lower is better', or '' where neither is."""
        return {True: "higher is better", False: "lower is better", None: ""}[self.higher_is_better]


def default_title(name: str) -> str:
    """A metric's title when the challenge gives none: 'Mean return', 'Mean gold'."""
    if name in _TITLES:
        return _TITLES[name]
    return "Mean " + name.removeprefix(INFO_PREFIX).replace("_", " ")


@dataclass(frozen=True)
class MetricsSpec:
    """The ``metrics`` section of a challenge: what is reported, ranked and called success."""

    primary: str = "mean_return"
    higher_is_better: bool = True
    success: str | None = None  # "terminated", "truncated", "info" or "min_return"
    success_min_return: float | None = None
    report: tuple[str, ...] = ("mean_return", "std_return", "mean_length")
    tie_breaker: str | None = "std_return"
    tie_breaker_higher_is_better: bool = False
    # Numbers the environment puts in the info of an episode's last step (trusted side).
    info: tuple[str, ...] = ()
    # Titles and directions the challenge gives to reported metrics; the rest get defaults.
    shown: tuple[Shown, ...] = ()

    def with_shown(self, shown: Sequence[tuple[str, str, bool | None]]) -> MetricsSpec:
        """This spec with these (metric, title, higher_is_better) for reported metrics."""
        return replace(self, shown=tuple(Shown(*given) for given in shown))

    def show(self, name: str) -> Shown:
        """How the metric ``name`` is shown: as the challenge says, or by default.

        By default the primary metric goes the board's way, return metrics but the spread
        go the primary's way when it is a return metric (else up), ``std_return`` and the
        tie-breaker go their way, ``success_rate`` goes up, and length and info means go
        neither way (a long episode is good in one environment, bad in another).
        """
        for given in self.shown:
            if given.name == name:
                return given
        return Shown(name, default_title(name), self._default_direction(name))

    def _default_direction(self, name: str) -> bool | None:
        if name == self.primary:
            return self.higher_is_better
        if name == self.tie_breaker:
            return self.tie_breaker_higher_is_better
        if name == "std_return":
            return False
        if name == "success_rate":
            return True
        if metric(name).quantity == "return":
            return self.higher_is_better if metric(self.primary).quantity == "return" else True
        return None

    @property
    def names(self) -> tuple[str, ...]:
        """Every metric this challenge can use: METRICS, then mean_x for each x in info."""
        return METRICS + tuple(info_metric(x) for x in self.info)


def episode_values(
    name: str,
    returns: Sequence[float],
    lengths: Sequence[int],
    successes: Sequence[bool | None],
    infos: Sequence[Mapping[str, float | None]] = (),
) -> np.ndarray:
    """The per-episode quantity a metric is a statistic of, with what does not count left out.

    ``infos`` holds each episode's info values (``EpisodeResult.values``) for ``mean_x``.
    """
    quantity = metric(name).quantity
    if quantity == "return":
        return np.asarray(returns, dtype=np.float64)
    if quantity == "length":
        return np.asarray(lengths, dtype=np.float64)
    if quantity == "success":
        return np.asarray([float(s) for s in successes if s is not None], dtype=np.float64)
    x = quantity.removeprefix("info:")
    found = (values.get(x) for values in infos)
    return np.asarray([v for v in found if v is not None and math.isfinite(v)], dtype=np.float64)


def values_of(name: str, episodes: Sequence[EpisodeResult]) -> np.ndarray:
    """:func:`episode_values` of finished episodes."""
    return episode_values(
        name,
        [e.total_return for e in episodes],
        [e.length for e in episodes],
        [e.success for e in episodes],
        [e.values for e in episodes],
    )


def statistic(name: str, values: np.ndarray) -> float | None:
    """The metric of these per-episode values: None if there are none or it is not finite."""
    if len(values) == 0:
        return None
    with np.errstate(invalid="ignore", over="ignore"):
        value = float(metric(name).statistic(values))
    return value if math.isfinite(value) else None


def compute_metrics(
    episodes: Sequence[EpisodeResult], spec: MetricsSpec
) -> dict[str, float | None]:
    """Aggregate the finished episodes into the metrics the challenge reports, in its order."""
    return {name: statistic(name, values_of(name, episodes)) for name in spec.report}


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
