"""Leaderboards of the platform, built from the database and cached by version.

Ranking is :mod:`aigc.leaderboard`'s, who may see a board :mod:`aigc.platform.visibility`'s.
A board is rebuilt only when its challenge's ``board_version`` changes, which every write
a board shows (a result, a disqualification, a rerun, a reveal, a new spec) bumps in its
own transaction. A request for an unchanged board costs one lookup by primary key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from aigc.leaderboard.ranking import Candidate, LeaderboardRow, rank
from aigc.platform import challenges
from aigc.platform.lru import LRU
from aigc.platform.models import Challenge, Evaluation, Submission, Team, User, now
from aigc.platform.statuses import SubmissionStatus
from aigc.submissions.challenge import ChallengeSpec
from aigc.submissions.metrics import Shown

T = TypeVar("T")
TOP_SERIES = 5  # entrants drawn in the best-score-over-time chart
CACHE_SIZE = 256


@dataclass(frozen=True)
class Board:
    challenge: str
    phase: str
    metric: str
    higher_is_better: bool
    rows: list[LeaderboardRow]
    # The challenge's other reported metrics, shown as columns after the score: an agent's
    # gold score beside its reward-model score, say.
    columns: tuple[str, ...]
    # How the score and each column are headed: a title and an arrow for the better way.
    headings: tuple[Shown, ...]
    # Best score over time of the top entrants: name -> [(submitted, score)].
    series: dict[str, list[tuple[datetime, float]]]
    version: int
    built_at: datetime
    challenge_version: int = 0  # the current one; rows scored under earlier ones are outdated


def on_the_board(challenge_id: int, phase: str) -> tuple[ColumnElement[bool], ...]:
    """What makes a submission one the phase's board ranks: its evaluation ended (scored or
    failed by its agent), and it is neither disqualified nor a platform failure."""
    return (
        Submission.challenge_id == challenge_id,
        Submission.phase == phase,
        Submission.status.in_((SubmissionStatus.FINISHED, SubmissionStatus.FAILED)),
        Submission.disqualified.is_(False),
        Submission.platform_failure.is_(False),
    )


def bump_board(
    session: Session, challenge_id: int | None = None, submission_id: int | None = None
) -> None:
    """Mark a challenge's boards out of date (by the challenge or one of its submissions)."""
    if challenge_id is None:
        challenge_id = session.scalar(
            select(Submission.challenge_id).where(Submission.id == submission_id)
        )
    session.execute(
        update(Challenge)
        .where(Challenge.id == challenge_id)
        .values(board_version=Challenge.board_version + 1)
        .execution_options(synchronize_session=False)
    )


def candidates(
    session: Session, challenge: Challenge, phase: str, columns: tuple[str, ...] = ()
) -> list[Candidate]:
    """Every scored or failed submission of the phase that may be ranked, with the metrics
    named in ``columns``."""
    rows = session.execute(
        select(
            Submission.id,
            Submission.user_id,
            Submission.team_id,
            Submission.created_at,
            Submission.status,
            Submission.baseline,
            Submission.package_name,
            Submission.challenge_version,
            User.username,
            Team.name,
            Evaluation.score,
            Evaluation.tie_breaker,
            Evaluation.ci_low,
            Evaluation.ci_high,
            Evaluation.episodes_requested,
            Evaluation.metrics,
        )
        .join(User, User.id == Submission.user_id)
        .outerjoin(Team, Team.id == Submission.team_id)
        .outerjoin(Evaluation, Evaluation.submission_id == Submission.id)
        .where(*on_the_board(challenge.id, phase))
    )
    found = []
    for (
        sid,
        user_id,
        team_id,
        created,
        status,
        baseline,
        package,
        version,
        username,
        team,
        score,
        tie,
        low,
        high,
        episodes,
        measured,
    ) in rows:
        if baseline:
            entrant, name = f"baseline:{package}", package
        elif team_id is not None:
            entrant, name = f"team:{team_id}", team
        else:
            entrant, name = f"user:{user_id}", username
        found.append(
            Candidate(
                entrant=entrant,
                name=name,
                submission_id=sid,
                submitted_at=created,
                score=score if status == SubmissionStatus.FINISHED else None,
                tie_breaker=tie,
                ci_low=low,
                ci_high=high,
                episodes=episodes or 0,
                baseline=baseline,
                team=team_id is not None and not baseline,
                metrics={k: v for k, v in (measured or {}).items() if k in columns},
                challenge_version=version,
            )
        )
    return found


def build(session: Session, challenge: Challenge, spec: ChallengeSpec, phase: str) -> Board:
    metrics = spec.metrics
    columns = tuple(m for m in metrics.report if m != metrics.primary)
    found = candidates(session, challenge, phase, columns)
    rows = rank(
        found,
        metrics.higher_is_better,
        metrics.tie_breaker_higher_is_better,
        current_version=challenge.current_version,
    )
    top = [row.entrant for row in rows[:TOP_SERIES]]
    series: dict[str, list[tuple[datetime, float]]] = {}
    names = {row.entrant: row.name + (" (baseline)" if row.baseline else "") for row in rows}
    for candidate in found:
        if candidate.entrant in top and candidate.score is not None:
            series.setdefault(names[candidate.entrant], []).append(
                (candidate.submitted_at, candidate.score)
            )
    ordered = {names[e]: series[names[e]] for e in top if names[e] in series}
    return Board(
        challenge=challenge.slug,
        phase=phase,
        metric=metrics.primary,
        higher_is_better=metrics.higher_is_better,
        rows=rows,
        columns=columns,
        headings=tuple(metrics.show(name) for name in (metrics.primary, *columns)),
        series=ordered,
        version=challenge.board_version,
        built_at=now(),
        challenge_version=challenge.current_version,
    )


class BoardCache:
    """Boards by (challenge, phase, board_version), and what is rendered from them.

    Safe across request threads. A rendering (the JSON body, a chart) is made once per
    board version: repeated requests for an unchanged board only look up its version.
    """

    def __init__(self, size: int = CACHE_SIZE):
        self.boards: LRU[tuple[int, str, int], Board] = LRU(size)
        self.renderings: LRU[tuple[object, ...], Any] = LRU(size * 4)

    def rendered(self, board: Board, kind: str, render: Callable[[], T]) -> T:
        """``render()`` of this board, made once per board version (``kind`` names it)."""
        key = (board.challenge, board.phase, board.version, kind)
        return cast(T, self.renderings.get(key, render))

    def get(self, session: Session, challenge: Challenge, phase: str) -> Board:
        """The board of a phase as its challenge's ``board_version`` says it is now."""
        key = (challenge.id, phase, challenge.board_version)
        return self.boards.get(
            key, lambda: build(session, challenge, challenges.spec_of(challenge), phase)
        )
