"""The charts' labels: round ticks, axes within a metric's bounds, times that differ, lines
that stay visible when they coincide, the mean's label clear of the bars."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from aigc.leaderboard import plots

T0 = datetime(2026, 12, 1, 15, 0, 5, tzinfo=UTC)
NS = "{http://www.w3.org/2000/svg}"


def texts(svg: str) -> list[ET.Element]:
    return list(ET.fromstring(svg).iter(NS + "text"))


def y_ticks(svg: str) -> list[float]:
    labels = [t.text or "" for t in texts(svg) if t.get("text-anchor") == "end"]
    return [float(label) for label in labels if not label.startswith("2026")]


def test_a_rate_axis_stays_within_zero_and_one() -> None:
    for values in ([0.7], [1.0], [0.0, 1.0], [0.35, 0.95]):
        series = {"a": [(T0 + timedelta(minutes=i), v) for i, v in enumerate(values)]}
        ticks = y_ticks(plots.best_over_time(series, "t", "rate", bounds=(0.0, 1.0)))
        assert min(ticks) >= 0.0 and max(ticks) <= 1.0, (values, ticks)
        assert min(ticks) <= min(values) and max(values) <= max(ticks)


def time_labels(series: dict[str, list[tuple[datetime, float]]]) -> list[str]:
    svg = plots.best_over_time(series, "t", "score")
    return [t.text or "" for t in texts(svg) if t.text and t.text.startswith("2026")]


def test_time_labels_differ_or_there_is_one() -> None:
    seconds = {"a": [(T0, 1.0), (T0 + timedelta(seconds=40), 2.0)]}
    assert time_labels(seconds) == ["2026-12-01 15:00:05", "2026-12-01 15:00:45"]
    days = {"a": [(T0, 1.0), (T0 + timedelta(days=3), 2.0)]}
    assert time_labels(days) == ["2026-12-01", "2026-12-04"]
    hours = {"a": [(T0, 1.0), (T0 + timedelta(hours=3), 2.0)]}
    assert time_labels(hours) == ["2026-12-01 15:00", "2026-12-01 18:00"]
    assert time_labels({"a": [(T0, 1.0)], "b": [(T0, 2.0)]}) == ["2026-12-01 15:00"]


def test_coinciding_lines_are_drawn_differently() -> None:
    line = [(T0, 1.0), (T0 + timedelta(minutes=5), 2.0)]
    svg = plots.best_over_time({"a": line, "b": list(line)}, "t", "score")
    paths = list(ET.fromstring(svg).iter(NS + "path"))
    assert len(paths) == 2 and paths[0].get("d") == paths[1].get("d")
    assert paths[0].get("stroke-dasharray") != paths[1].get("stroke-dasharray")
    assert paths[0].get("stroke") != paths[1].get("stroke")


def test_histogram_ticks_are_round_and_the_mean_is_above_the_bars() -> None:
    values = [-0.02935, 0.0113, 0.2071, 0.4419, 0.3]
    svg = plots.histogram(values, "Returns", "return")
    middle = [t.text or "" for t in texts(svg) if t.get("text-anchor") == "middle"]
    ticks = [float(t) for t in middle if t.replace(".", "").replace("-", "").isdigit()]
    assert len(ticks) >= 3 and all(round(t, 2) == t for t in ticks)
    assert min(ticks) <= min(values) and max(values) <= max(ticks)
    [mean] = [t for t in texts(svg) if (t.text or "").startswith("mean ")]
    bars = [r for r in ET.fromstring(svg).iter(NS + "rect") if r.find(NS + "title") is not None]
    assert float(mean.get("y") or 0) < min(float(r.get("y") or 0) for r in bars)


def test_a_narrow_chart_keeps_its_text_size() -> None:
    series = {"a": [(T0, 1.0), (T0 + timedelta(minutes=5), 2.0)]}
    for svg in (
        plots.best_over_time(series, "t", "score", width=360),
        plots.histogram([1.0, 2.0], "Returns", "return", width=360),
    ):
        root = ET.fromstring(svg)
        assert root.get("viewBox") == f"0 0 360 {root.get('height')}"
        assert root.get("width") == "360" and root.get("font-size") == "12"


def test_a_narrow_chart_has_its_legend_under_the_axis_and_inside() -> None:
    series = {"alice": [(T0, 1.0)], "bob": [(T0 + timedelta(minutes=5), 2.0)]}
    root = ET.fromstring(plots.best_over_time(series, "t", "score", width=360))
    height = float(root.get("height") or 0)
    assert root.get("viewBox") == f"0 0 360 {root.get('height')}"
    [axis] = [t for t in root.iter(NS + "text") if t.text == "submitted"]
    legend = [t for t in root.iter(NS + "text") if t.text in ("alice", "bob")]
    assert len(legend) == 2
    assert all(float(axis.get("y") or 0) < float(t.get("y") or 0) < height for t in legend)
