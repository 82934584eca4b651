"""Plots of leaderboards as self-contained SVG: no script, no font or file from elsewhere."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

import numpy as np

# Colour-blind-safe palette (Okabe–Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 36, 44


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


def _number(value: float) -> str:
    return f"{value:.4g}"


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str, extra: str = "") -> str:
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" {extra}/>'
    )


def _text(x: float, y: float, words: str, anchor: str = "middle", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {extra}>{escape(words)}</text>'


class _Chart:
    """A titled SVG with a plot area and y values mapped from [low, high]."""

    def __init__(self, width: int, height: int, title: str):
        self.width, self.height = width, height
        self.low, self.high = 0.0, 1.0
        self.parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" '
            'font-family="sans-serif" font-size="12">',
            f"<title>{escape(title)}</title>",
            _text(width / 2, 20, title, extra='font-size="14" font-weight="bold"'),
        ]

    def x(self, fraction: float) -> float:
        return LEFT + fraction * (self.width - LEFT - RIGHT)

    def y(self, value: float) -> float:
        fraction = (value - self.low) / ((self.high - self.low) or 1.0)
        return TOP + (1 - fraction) * (self.height - TOP - BOTTOM)

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
            _text(self.x(0.5), self.height - 6, x_label),
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
) -> str:
    """Each entrant's best score so far, as a step line over the time of submission."""
    chart = _Chart(width, height, title)
    points = [(t, v) for line in series.values() for t, v in line if math.isfinite(v)]
    if not points:
        return chart.empty("no scores yet")
    start = min(t for t, _ in points).timestamp()
    span = (max(t for t, _ in points).timestamp() - start) or 1.0
    low, high = min(v for _, v in points), max(v for _, v in points)
    if high == low:  # one value: keep it in the middle, not on the axis
        low, high = low - 0.5, high + 0.5
    chart.axes(_ticks(low, high), y_label, "submitted")
    for fraction, anchor in ((0.0, "start"), (1.0, "end")):
        moment = datetime.fromtimestamp(start + fraction * span, UTC)
        chart.parts.append(
            _text(chart.x(fraction), chart.y(chart.low) + 16, f"{moment:%Y-%m-%d %H:%M}", anchor)
        )
    better = (lambda a, b: a > b) if higher_is_better else (lambda a, b: a < b)
    box = f'<rect x="{chart.x(1) - 156:.1f}" y="{TOP}" width="150" height="{16 * len(series) + 6}"'
    legend = [f'{box} fill="white" fill-opacity="0.85" stroke="#ccc"/>']  # drawn over the lines
    for index, (name, line) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
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
                f'<path d="{" ".join(steps)}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        row = TOP + 4 + 16 * index
        legend.append(
            f'<rect x="{chart.x(1) - 150:.1f}" y="{row}" width="10" height="10" fill="{colour}"/>'
        )
        legend.append(_text(chart.x(1) - 136, row + 9, name[:20], "start"))
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
    for fraction in (0.0, 0.5, 1.0):
        chart.parts.append(
            _text(chart.x(fraction), chart.y(0) + 16, _number(low + fraction * (high - low)))
        )
    mean = float(finite.mean())
    x = chart.x((mean - low) / (high - low))
    chart.parts.append(
        _line(x, chart.y(0), x, chart.y(chart.high), PALETTE[4], 'stroke-dasharray="4 3"')
    )
    chart.parts.append(
        _text(
            x + 4,
            chart.y(chart.high) + 12,
            f"mean {_number(mean)}",
            "start",
            f'fill="{PALETTE[4]}"',
        )
    )
    return chart.svg()
