"""Throttles on sign-in and sign-up, counted in the database.

Every server process (gunicorn workers, several hosts) shares one database, so they all see
the same counts. An attempt is written and committed before it is counted: however many
attempts arrive at once, from however many processes, each one's count includes all those
committed before it, so no more than a limit's number get through.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from aigc.platform.db import Database
from aigc.platform.models import Attempt, now

# Attempts older than this count for no limit: they are deleted as new ones arrive.
KEPT = timedelta(days=1)


@dataclass(frozen=True)
class Limit:
    """At most ``count`` attempts under one key in any ``window``; ``refusal`` says whose."""

    name: str
    count: int
    window: timedelta
    refusal: str

    def key(self, value: str) -> str:
        """The stored key: a hash, so attempted usernames are not kept in the clear."""
        return hashlib.sha256(f"{self.name}\0{value[:256]}".encode()).hexdigest()


# A username is tried a few times by its owner; an address may be a whole classroom's.
SIGN_IN_PER_USERNAME = Limit(
    "sign-in per username", 10, timedelta(minutes=15), "too many failed sign-ins for this username"
)
SIGN_IN_PER_ADDRESS = Limit(
    "sign-in per address", 50, timedelta(minutes=15), "too many failed sign-ins from your address"
)


def sign_up_per_address(per_hour: int) -> Limit:
    return Limit(
        "sign-up per address", per_hour, timedelta(hours=1), "too many sign-ups from your address"
    )


def sign_in_limits(username: str, address: str) -> list[tuple[Limit, str]]:
    """What a sign-in attempt is counted against: its username (known or not) and address."""
    return [(SIGN_IN_PER_USERNAME, username.casefold()), (SIGN_IN_PER_ADDRESS, address)]


class Throttled(Exception):
    """Refused by a limit; ``str`` says why and when to try again."""

    def __init__(self, refusal: str, retry_at: datetime, moment: datetime):
        self.retry_after = max(1, math.ceil((retry_at - moment).total_seconds()))
        self.retry_at = retry_at
        super().__init__(f"{refusal}: try again in {_wait(self.retry_after)}")


def _wait(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


@dataclass(frozen=True)
class Counted:
    """An attempt that got through, by the ids of its rows."""

    ids: tuple[int, ...]

    def forget(self, session: Session) -> None:
        """Stop counting the attempt (a sign-in that succeeded was no failure)."""
        session.execute(delete(Attempt).where(Attempt.id.in_(self.ids)))


def attempt(db: Database, limits: Sequence[tuple[Limit, str]]) -> Counted:
    """Count an attempt under each (limit, value); raise Throttled if any limit is passed.

    Call it before the work the limits protect (hashing a password, say): a refused attempt
    costs two small queries and is not counted.
    """
    moment = now()
    with db.session() as session:
        session.execute(delete(Attempt).where(Attempt.at < moment - KEPT))
        rows = [Attempt(key=limit.key(value), at=moment) for limit, value in limits]
        session.add_all(rows)
        session.flush()
        counted = Counted(tuple(row.id for row in rows))
    refusals = []
    with db.session() as session:
        for (limit, _value), row in zip(limits, rows, strict=True):
            # The newest others in the window; this attempt passes while fewer than count.
            others = session.scalars(
                select(Attempt.at)
                .where(
                    Attempt.key == row.key,
                    Attempt.at > moment - limit.window,
                    Attempt.id != row.id,
                )
                .order_by(Attempt.at.desc())
                .limit(limit.count)
            ).all()
            if len(others) >= limit.count:
                # Once the oldest of these leaves the window, an attempt gets through again.
                refusals.append((others[-1] + limit.window, limit.refusal))
        if refusals:
            counted.forget(session)
    if refusals:
        retry_at, refusal = max(refusals)
        raise Throttled(refusal, retry_at, moment)
    return counted
