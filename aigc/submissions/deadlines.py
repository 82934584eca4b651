"""Waiting on a sandboxed process with a deadline and an ear for the cancel signal.

The evaluator waits on two kinds of sandboxed peer, the agent and an organizer's
environment, and every wait on either, sending included, obeys its deadline and the
evaluation's cancel event. :func:`until` cuts a wait into slices of at most
:data:`CANCEL_CHECK` seconds and looks at the event between them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from aigc.submissions.protocol import DeadlineExceeded

CANCEL_CHECK = 0.25  # seconds between looks at the cancel event while a peer is silent

T = TypeVar("T")


class EvaluationCancelled(Exception):
    """The evaluation was stopped from outside (its ``cancel`` event was set)."""


def until(when: float, attempt: Callable[[float], T], cancel: threading.Event | None) -> T:
    """Run ``attempt(deadline)`` until it succeeds or ``when`` passes, looking at ``cancel``
    every CANCEL_CHECK seconds; raise EvaluationCancelled once it is set.

    A :class:`~aigc.submissions.protocol.Connection` keeps a partial frame in either
    direction, so a slice that ends mid-frame loses nothing: the next slice goes on with it.
    """
    if cancel is None:
        return attempt(when)
    while True:
        if cancel.is_set():
            raise EvaluationCancelled()
        try:
            return attempt(min(when, time.monotonic() + CANCEL_CHECK))
        except DeadlineExceeded:
            if time.monotonic() >= when:
                raise


def check(cancel: threading.Event | None) -> None:
    """Raise EvaluationCancelled if ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        raise EvaluationCancelled()
