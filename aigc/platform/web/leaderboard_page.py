"""The leaderboard page: a phase's ranked rows, the best score over time, episode returns.

Everything the page draws from a board is cached with the board's version, so a request
for an unchanged board renders a template and nothing more.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request
from markupsafe import Markup
from sqlalchemy import select

from aigc.leaderboard import plots
from aigc.leaderboard.ranking import LeaderboardRow
from aigc.platform import challenges, visibility
from aigc.platform.board_cache import Board
from aigc.platform.context import platform
from aigc.platform.models import EpisodeRow, Evaluation
from aigc.platform.web.challenge_pages import load
from aigc.platform.web.formatting import chart_pair, decimals, number
from aigc.platform.web.signin import current_user
from aigc.submissions.challenge import SpecError
from aigc.submissions.metrics import bounds

bp = Blueprint("boards", __name__)
OVERLAP_NOTE = "the 95% interval overlaps the next row's: their order could be chance"


def figures(row: LeaderboardRow) -> str:
    """``305.0 [293.1, 317.2]``: the score and its interval, with the same decimals."""
    if row.score is None:
        return "no score"
    bounds = [v for v in (row.ci_low, row.ci_high) if v is not None]
    digits = decimals(max(abs(v) for v in (row.score, *bounds)))
    text = number(row.score, digits)
    if row.ci_low is not None and row.ci_high is not None:
        text += f" [{number(row.ci_low, digits)}, {number(row.ci_high, digits)}]"
    return text


def table(board: Board) -> list[dict[str, Any]]:
    """The board's rows as the template shows them (made once per board version)."""
    return [
        {
            "rank": row.rank,
            "name": row.name,
            "team": row.team,
            "baseline": row.baseline,
            "figures": figures(row),
            "scored": row.score is not None,
            "overlaps_next": row.overlaps_next,
            "episodes": row.episodes,
            "columns": [number(row.metrics.get(name)) for name in board.columns],
            "submitted": f"{row.submitted_at:%Y-%m-%d %H:%M}",
            "submitted_iso": row.submitted_at.isoformat(),
            "submission_id": row.submission_id,
            "outdated": row.outdated,
            "version": row.challenge_version,
        }
        for row in board.rows
    ]


def rows_html(board: Board, phase_id: str) -> Markup:
    """The board's table, rendered once per board version (500 rows take milliseconds)."""
    html = render_template(
        "board_table.html",
        rows=table(board),
        board=board,
        phase_id=phase_id,
        overlap_note=OVERLAP_NOTE,
    )
    return Markup(html)


def progress_chart(board: Board, title: str) -> Markup:
    name = board.headings[0].title if board.headings else board.metric
    return chart_pair(
        lambda width: plots.best_over_time(
            board.series,
            f"Best over time: {name} — {title}",
            name,
            board.higher_is_better,
            width=width,
            bounds=bounds(board.metric),
        )
    )


def returns_chart(submission_id: int, label: str) -> Markup:
    with platform().db.session() as session:
        returns = session.scalars(
            select(EpisodeRow.total_return)
            .join(Evaluation, Evaluation.id == EpisodeRow.evaluation_id)
            .where(Evaluation.submission_id == submission_id)
            .order_by(EpisodeRow.index)
        ).all()
    values = [r for r in returns if r is not None]
    return chart_pair(
        lambda width: plots.histogram(values, f"Episode returns — {label}", "return", width=width)
    )


@bp.get("/challenges/<slug>/leaderboard")
def leaderboard(slug: str) -> Any:
    """Show a phase's leaderboard, or say it is hidden until the organizers reveal it."""
    viewer = current_user()
    organizer = viewer is not None and viewer.is_organizer
    p = platform()
    with p.db.session() as session:
        challenge = load(session, slug)
        # Versions never change once stored: a challenge's spec is kept per version.
        spec = p.fragments.get(
            ("spec", challenge.id, challenge.current_version),
            lambda: challenges.spec_of(challenge),
        )
        phase_id = request.args.get("phase") or spec.phases[0].id
        try:
            phase = spec.phase(phase_id)
        except SpecError as exc:
            abort(404, description=str(exc))
        is_revealed = phase.visibility == "hidden" and visibility.revealed(
            session, challenge, phase_id
        )
        shown = visibility.board_visible(phase, organizer, is_revealed)
        board = p.boards.get(session, challenge, phase_id) if shown else None
    page: dict[str, Any] = {
        "challenge": challenge,
        "spec": spec,
        "phase": phase,
        "revealed": is_revealed,
        "organizer": organizer,
        "board": board,
        "public": visibility.board_visible(phase, False, is_revealed),
    }
    if board is None:  # a page like any other, saying the board waits for the reveal
        return render_template("leaderboard.html", **page)
    key = (challenge.id, phase_id, board.version)
    cache = p.fragments
    rows = cache.get(("rows", *key), lambda: rows_html(board, phase_id))
    chart = cache.get(("progress", *key), lambda: progress_chart(board, phase.title))
    first, scored = cache.get(("scored", *key), lambda: _scored(board))
    chosen = scored.get(request.args.get("submission", -1, type=int), first)
    histogram = None
    if chosen is not None:
        mark = f'<tr data-submission="{chosen.submission_id}"'
        rows = Markup(str(rows).replace(mark, f'{mark} aria-current="true"', 1))
        label = f"{chosen.name} (submission {chosen.submission_id})"
        histogram = cache.get(
            ("returns", *key, chosen.submission_id),
            lambda: returns_chart(chosen.submission_id, label),
        )
    return render_template(
        "leaderboard.html", **page, table=rows, chart=chart, chosen=chosen, histogram=histogram
    )


def _scored(board: Board) -> tuple[LeaderboardRow | None, dict[int, LeaderboardRow]]:
    """The first row with a score (drawn by default), and every such row by submission."""
    scored = {row.submission_id: row for row in board.rows if row.score is not None}
    return next(iter(scored.values()), None), scored
