"""Leaderboards as CSV and JSON, for download and for the API."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from aigc.leaderboard.ranking import LeaderboardRow

COLUMNS = (
    "rank", "name", "team", "baseline", "score", "ci_low", "ci_high", "overlaps_next",
    "episodes", "submission_id", "submitted_at", "challenge_version", "outdated",
)  # fmt: skip


def row_dict(row: LeaderboardRow) -> dict[str, Any]:
    """One row for JSON: its figures and, under ``metrics``, the other reported metrics."""
    return {
        "rank": row.rank,
        "name": row.name,
        "team": row.team,
        "baseline": row.baseline,
        "score": row.score,
        "ci_low": row.ci_low,
        "ci_high": row.ci_high,
        "overlaps_next": row.overlaps_next,
        "episodes": row.episodes,
        "submission_id": row.submission_id,
        "submitted_at": row.submitted_at.isoformat().replace("+00:00", "Z"),
        "challenge_version": row.challenge_version,
        "outdated": row.outdated,
        "metrics": dict(row.metrics),
    }


def to_json(rows: list[LeaderboardRow], **meta: Any) -> str:
    """A JSON document: the given metadata and the rows."""
    return json.dumps({**meta, "rows": [row_dict(r) for r in rows]}, indent=2)


def to_csv(rows: list[LeaderboardRow], metrics: tuple[str, ...] = ()) -> str:
    """CSV with a header row, one column per metric in ``metrics`` after the fixed ones;
    empty cells for missing values."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS + metrics, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        cells = {k: v for k, v in row_dict(row).items() if k != "metrics"}
        cells.update({name: row.metrics.get(name) for name in metrics})
        writer.writerow({k: "" if v is None else v for k, v in cells.items()})
    return buffer.getvalue()
