"""A submission's statuses: one enum for the server, its database and the ``aigc`` commands.

It imports nothing of the server's libraries, so the participant's install (no Flask, no
SQLAlchemy) reads the statuses from here too.
"""

from __future__ import annotations

from enum import StrEnum


class SubmissionStatus(StrEnum):
    """Where a submission is: queued -> running -> finished | failed | cancelled.

    Stored, sent and shown as the member's value ("queued", ...).
    """

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


# Waiting for a worker or evaluated now; over, with or without a result.
ACTIVE = frozenset({SubmissionStatus.QUEUED, SubmissionStatus.RUNNING})
ENDED = frozenset({SubmissionStatus.FINISHED, SubmissionStatus.FAILED, SubmissionStatus.CANCELLED})
