"""How the pages write times, scores and our own charts (template filters among them)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from markupsafe import Markup


def when(moment: datetime | None) -> str:
    """A timestamp as people read it, in UTC."""
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "—"


def number(value: float | None, digits: int | None = None) -> str:
    """A score with as many decimals as its size needs (or ``digits``)."""
    if value is None:
        return "—"
    if digits is None:
        digits = decimals(abs(value))
    return f"{value:.{digits}f}"


def decimals(size: float) -> int:
    return 1 if size >= 100 else 2 if size >= 1 else 3


NARROW_CHART = 360  # px: drawn at this width, a chart's 12 px text stays 12 px on a phone


def chart_pair(draw: Callable[[int], str]) -> Markup:
    """A chart drawn for wide screens and again, narrower, for phones (CSS shows one)."""
    wide, narrow = inline_svg(draw(720)), inline_svg(draw(NARROW_CHART))
    return Markup(f'<div class="chart-wide">{wide}</div><div class="chart-narrow">{narrow}</div>')


def inline_svg(svg: str) -> Markup:
    """Mark one of our plots safe for inlining (HTML needs no namespace URL on <svg>)."""
    return Markup(svg.replace(' xmlns="http://www.w3.org/2000/svg"', "", 1))
