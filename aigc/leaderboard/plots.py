"""Plots of leaderboards as self-contained SVG: no script, no font or file from elsewhere."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

import numpy as np

# Colour-blind-safe palette (Okabe–Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 44, 44
NARROW = 480  # charts narrower than this put their legend under the axis


def _ticks(low: float, high: float, count: int = 5, whole: bool = False) -> list[float]:
    """Round tick values from at most ``low`` to at least ``high`` (whole numbers if asked)."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(f * magnitude for f in (1, 2, 2.5, 5, 10) if raw <= f * magnitude)
    if whole:
        step = max(1.0, float(math.ceil(step)))
    first = math.floor(low / step) * step
    ticks = [first]
    while ticks[-1] < high - step * 1e-9:
        ticks.append(ticks[-1] + step)
    return ticks


def _bounded_ticks(low: float, high: float, bounds: tuple[float, float] | None) -> list[float]:
    """Round ticks around [low, high], none beyond ``bounds`` (a rate stays within 0 and 1)."""
    if high == low:  # one value: keep it in the middle, not on the axis
        low, high = low - 0.5, high + 0.5
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    ticks = _ticks(low, high)
    if bounds is not None:
        ticks = [t for t in ticks if bounds[0] - 1e-9 <= t <= bounds[1] + 1e-9]
    return ticks


def _number(value: float) -> str:
    text = f"{value:.4g}"
    return "0" if text == "-0" else text


# Dash patterns by series: a line that lies exactly on another still shows through its gaps.
DASHES = ("", "8 5", "2 4", "12 4 2 4", "4 4", "1 3", "10 2", "6 3 2 3")
# Time labels, coarse to fine: the first that tells the first and the last moment apart.
TIME_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str, extra: str = "") -> str:
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" {extra}/>'
    )


def _text(x: float, y: float, words: str, anchor: str = "middle", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {extra}>{escape(words)}</text>'


class _Chart:
    """A titled SVG with a plot area and y values mapped from [low, high]."""

    def __init__(self, width: int, height: int, title: str, below: int = 0):
        self.width, self.height = width, height + below
        self.below = below  # room under the x axis, for a legend
        self.low, self.high = 0.0, 1.0
        self.parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {self.height}" '
            f'width="{width}" height="{self.height}" role="img" aria-label="{escape(title)}" '
            'font-family="sans-serif" font-size="12">',
            f"<title>{escape(title)}</title>",
            _text(width / 2, 20, title, extra='font-size="14" font-weight="bold"'),
        ]

    def x(self, fraction: float) -> float:
        return LEFT + fraction * (self.width - LEFT - RIGHT)

    def y(self, value: float) -> float:
        fraction = (value - self.low) / ((self.high - self.low) or 1.0)
        return TOP + (1 - fraction) * (self.height - self.below - TOP - BOTTOM)

    def axes(self, ticks: list[float], y_label: str, x_label: str) -> None:
        self.low, self.high = ticks[0], ticks[-1]
        for tick in ticks:
            self.parts.append(_line(self.x(0), self.y(tick), self.x(1), self.y(tick), "#ddd"))
            self.parts.append(_text(self.x(0) - 6, self.y(tick) + 4, _number(tick), "end"))
        bottom, middle = self.y(self.low), (self.y(self.low) + self.y(self.high)) / 2
        self.parts += [
            _line(self.x(0), bottom, self.x(0), self.y(self.high), "#444"),
            _line(self.x(0), bottom, self.x(1), bottom, "#444"),
            _text(14, middle, y_label, extra=f'transform="rotate(-90 14 {middle:.1f})"'),
            _text(self.x(0.5), self.height - self.below - 6, x_label),
        ]

    def empty(self, message: str) -> str:
        self.parts.append(_text(self.width / 2, self.height / 2, message))
        return self.svg()

    def svg(self) -> str:
        return "".join([*self.parts, "</svg>"])


def best_over_time(
    series: dict[str, list[tuple[datetime, float]]],
    title: str,
    y_label: str,
    higher_is_better: bool = True,
    width: int = 720,
    height: int = 320,
    bounds: tuple[float, float] | None = None,
) -> str:
    """Each entrant's best score so far, as a step line over the time of submission.

    ``bounds`` keeps the axis within the values the metric can take (0 and 1 for a rate).
    """
    # A narrow chart has no room for a legend on the plot: it goes under the axis.
    under = width < NARROW
    chart = _Chart(width, height, title, 16 * len(series) + 8 if under else 0)
    points = [(t, v) for line in series.values() for t, v in line if math.isfinite(v)]
    if not points:
        return chart.empty("no scores yet")
    start = min(t for t, _ in points).timestamp()
    end = max(t for t, _ in points).timestamp()
    span = (end - start) or 1.0
    low, high = min(v for _, v in points), max(v for _, v in points)
    chart.axes(_bounded_ticks(low, high, bounds), y_label, "submitted")
    first, last = (datetime.fromtimestamp(t, UTC) for t in (start, end))
    fmt = next((f for f in TIME_FORMATS if f"{first:{f}}" != f"{last:{f}}"), None)
    if fmt is None:  # one moment: one label, under the points
        chart.parts.append(_text(chart.x(0), chart.y(chart.low) + 16, f"{first:%Y-%m-%d %H:%M}"))
    else:
        for x, moment, anchor in ((0.0, first, "start"), (1.0, last, "end")):
            chart.parts.append(
                _text(chart.x(x), chart.y(chart.low) + 16, f"{moment:{fmt}}", anchor)
            )
    better = (lambda a, b: a > b) if higher_is_better else (lambda a, b: a < b)
    left, top = (LEFT, chart.height - chart.below) if under else (chart.x(1) - 186, TOP)
    box = f'<rect x="{left - 6:.1f}" y="{top}" width="190" height="{16 * len(series) + 6}"'
    legend = [] if under else [f'{box} fill="white" fill-opacity="0.85" stroke="#ccc"/>']
    for index, (name, line) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        dash = DASHES[index % len(DASHES)]
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        steps: list[str] = []
        best: float | None = None
        for moment, value in sorted(p for p in line if math.isfinite(p[1])):
            improved = best is None or better(value, best)
            if improved:
                best = value
            assert best is not None
            x = chart.x((moment.timestamp() - start) / span)
            steps.append(
                f"M{x:.1f} {chart.y(best):.1f}" if not steps else f"H{x:.1f} V{chart.y(best):.1f}"
            )
            if improved:  # a dot: an entrant with one score shows, not as a zero-length line
                chart.parts.append(
                    f'<circle cx="{x:.1f}" cy="{chart.y(best):.1f}" r="3" fill="{colour}"/>'
                )
        if steps:
            steps.append(f"H{chart.x(1):.1f}")
            chart.parts.append(
                f'<path d="{" ".join(steps)}" fill="none" stroke="{colour}" '
                f'stroke-width="2"{dashed}/>'
            )
        row = top + 4 + 16 * index
        legend.append(
            _line(left - 2, row + 5, left + 12, row + 5, colour, f'stroke-width="3"{dashed}')
        )
        shown = name if len(name) <= 24 else name[:23] + "…"
        legend.append(_text(left + 16, row + 9, shown, "start"))
    chart.parts += legend
    return chart.svg()


def histogram(
    values: Sequence[float],
    title: str,
    x_label: str,
    bins: int = 20,
    width: int = 720,
    height: int = 280,
) -> str:
    """A histogram of values (episode returns, say), with their mean marked."""
    chart = _Chart(width, height, title)
    finite = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    if len(finite) == 0:
        return chart.empty("no episodes")
    low, high = float(finite.min()), float(finite.max())
    if high == low:
        low, high = low - 0.5, high + 0.5
    x_ticks = _ticks(low, high, count=4)  # the bins span round numbers, and are labelled so
    low, high = x_ticks[0], x_ticks[-1]
    counts, edges = np.histogram(finite, bins=bins, range=(low, high))
    chart.axes(_ticks(0, float(counts.max()), whole=True), "episodes", x_label)
    bar = (chart.x(1) - chart.x(0)) / bins
    for i, count in enumerate(counts):
        top = chart.y(count)
        chart.parts.append(
            f'<rect x="{chart.x(i / bins) + 1:.1f}" y="{top:.1f}" width="{bar - 2:.1f}" '
            f'height="{chart.y(0) - top:.1f}" fill="{PALETTE[0]}"><title>'
            f"{_number(edges[i])} to {_number(edges[i + 1])}: {count}</title></rect>"
        )
    for tick in x_ticks:
        chart.parts.append(
            _text(chart.x((tick - low) / (high - low)), chart.y(0) + 16, _number(tick))
        )
    mean = float(finite.mean())
    x = chart.x((mean - low) / (high - low))
    chart.parts.append(
        _line(x, chart.y(0), x, chart.y(chart.high) - 2, PALETTE[4], 'stroke-dasharray="4 3"')
    )
    # Above the plot, not on a bar: the label stays readable whatever the counts.
    label = f"mean {_number(mean)}"
    half = 3.5 * len(label)  # about half its width at 12 px
    middle = min(max(x, chart.x(0) + half), chart.x(1) - half)
    chart.parts.append(_text(middle, TOP - 4, label, "middle", f'fill="{PALETTE[4]}"'))
    return chart.svg()
