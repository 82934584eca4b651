"""Submission quotas: per day (a rolling 24 hours) and in total, per entrant and phase."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from aigc.platform.models import Submission, User
from aigc.submissions.challenge import Quotas

DAY = timedelta(hours=24)


@dataclass
class QuotaExceeded(Exception):
    """A quota is used up; ``retry_at`` is when the next submission is possible (None: never)."""

    message: str
    retry_at: datetime | None

    def __str__(self) -> str:
        return self.message


def _counted(user: User, challenge_id: int, phase: str) -> list:
    # A team shares its quota, and it includes what its members submitted before they
    # joined: otherwise making a team would give a participant a fresh quota.
    entrant: ColumnElement[bool] = Submission.user_id == user.id
    if user.team_id:
        members = select(User.id).where(User.team_id == user.team_id)
        entrant = or_(Submission.team_id == user.team_id, Submission.user_id.in_(members))
    return [
        entrant,
        Submission.challenge_id == challenge_id,
        Submission.phase == phase,
        Submission.platform_failure.is_(False),  # the platform's failures are not the entrant's
    ]


def check_quota(
    session: Session, user: User, challenge_id: int, phase: str, quotas: Quotas, at: datetime
) -> None:
    """Raise QuotaExceeded if the user (or their team) may not submit to this phase now."""
    where = _counted(user, challenge_id, phase)
    who = f"team {user.team.name!r}" if user.team else "you"
    if quotas.total is not None:
        total = session.scalar(select(func.count()).select_from(Submission).where(*where)) or 0
        if total >= quotas.total:
            raise QuotaExceeded(
                f"{who} used all {quotas.total} submissions allowed to phase {phase!r}: "
                "no further submission is possible",
                None,
            )
    if quotas.per_day is not None:
        recent = session.scalars(
            select(Submission.created_at)
            .where(*where, Submission.created_at > at - DAY)
            .order_by(Submission.created_at)
        ).all()
        if len(recent) >= quotas.per_day:
            # The window frees a place when the oldest submission in it turns 24 hours old.
            retry_at = recent[len(recent) - quotas.per_day] + DAY
            wait = retry_at - at
            hours, minutes = divmod(math.ceil(wait.total_seconds() / 60), 60)
            raise QuotaExceeded(
                f"{who} made {len(recent)} submissions to phase {phase!r} in the last 24 hours, "
                f"the daily quota: the next is possible at {retry_at:%Y-%m-%d %H:%M} UTC "
                f"(in {hours} h {minutes} min)",
                retry_at,
            )


@dataclass(frozen=True)
class Remaining:
    """What is left of a phase's quotas for a user (or their team); None: no such quota."""

    phase: str
    per_day: int | None
    total: int | None
    used_today: int  # in the last 24 hours
    used_total: int
    next_at: datetime | None  # when the daily quota frees a place, while it is used up

    @property
    def left_today(self) -> int | None:
        if self.per_day is None:
            return None if self.total is None else self.left_total
        today = max(0, self.per_day - self.used_today)
        return today if self.left_total is None else min(today, self.left_total)

    @property
    def left_total(self) -> int | None:
        return None if self.total is None else max(0, self.total - self.used_total)


def remaining(
    session: Session, user: User, challenge_id: int, phase: str, quotas: Quotas, at: datetime
) -> Remaining:
    """Count what the user (or their team) has used of a phase's quotas, as check_quota does."""
    where = _counted(user, challenge_id, phase)
    total = session.scalar(select(func.count()).select_from(Submission).where(*where)) or 0
    recent = session.scalars(
        select(Submission.created_at)
        .where(*where, Submission.created_at > at - DAY)
        .order_by(Submission.created_at)
    ).all()
    next_at = None
    if quotas.per_day is not None and len(recent) >= quotas.per_day:
        next_at = recent[len(recent) - quotas.per_day] + DAY
    return Remaining(phase, quotas.per_day, quotas.total, len(recent), total, next_at)
