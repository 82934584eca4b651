"""Word that a submission changed, for the requests that wait on one.

``GET /api/v1/submissions/<id>?wait=S`` answers as soon as the submission's status or its
count of finished episodes differs from what it was when the request came, or once it has
ended, or after S seconds; ``aigc submit --wait`` follows an evaluation that way instead of
asking again and again. Whoever changes a submission calls :func:`announce` in the session
that changes it. When that session commits, the requests of this process that wait on the
submission wake at once (the embedded server evaluates in its own process), and on
PostgreSQL a ``NOTIFY`` on :data:`CHANNEL` goes out with the commit, so that servers in
other processes, whose listener thread hears it, wake too (Celery workers evaluate
elsewhere). A waiting request also reads the submission again every :data:`RECHECK`
seconds, so a change that came without word (a listener that lost its connection, a row
changed by hand) is seen all the same.

At most :data:`MAX_WAITING` requests of one process wait at once: each holds one of the web
server's threads. The others are answered at once, as if they had not asked to wait.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy import event, make_url, text
from sqlalchemy.orm import Session

log = logging.getLogger("aigc.changes")

CHANNEL = "aigc_submissions"
MAX_WAIT = 30.0  # seconds a request may ask to wait
RECHECK = 1.0  # seconds between reads of a submission that a request waits on
MAX_WAITING = 4  # requests of one process waiting at once (aigc serve answers with 8 threads)
LISTEN_RETRY = 2.0  # seconds before a listener that lost its connection connects again
LISTEN_RETRY_MAX = 60.0  # the longest pause between two such attempts
LISTEN_START = 5.0  # seconds the first wait of a process gives its listener to start
LISTEN_STOP_CHECK = 1.0  # seconds between a listener's looks at whether it should stop
_ANNOUNCED = "aigc_announced_submissions"  # the key in Session.info

State = TypeVar("State")


def announce(session: Session, submission_id: int) -> None:
    """Say that ``session`` changes the submission: its waiters wake once the session commits."""
    session.info.setdefault(_ANNOUNCED, set()).add(submission_id)
    if session.get_bind().dialect.name == "postgresql":
        # Delivered on commit, and not at all on a rollback.
        session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": str(submission_id)},
        )


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    announced = session.info.pop(_ANNOUNCED, None)
    if announced:
        _waiters.wake(announced)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_ANNOUNCED, None)


class _Waiters:
    """The requests of this process waiting on a submission, each with an event to set."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: dict[int, set[threading.Event]] = {}
        self.count = 0

    def enter(self, submission_id: int) -> threading.Event | None:
        with self.lock:
            if self.count >= MAX_WAITING:
                return None
            self.count += 1
            woken = threading.Event()
            self.events.setdefault(submission_id, set()).add(woken)
            return woken

    def leave(self, submission_id: int, woken: threading.Event) -> None:
        with self.lock:
            self.count -= 1
            waiting = self.events.get(submission_id)
            if waiting is not None:
                waiting.discard(woken)
                if not waiting:
                    del self.events[submission_id]

    def wake(self, submission_ids: Iterable[int]) -> None:
        with self.lock:
            for submission_id in submission_ids:
                for woken in self.events.get(submission_id, ()):
                    woken.set()


_waiters = _Waiters()


def waiting() -> int:
    """How many requests of this process wait on a submission now."""
    return _waiters.count


def wait_for_change(
    submission_id: int,
    seen: State,
    state: Callable[[], State],
    seconds: float,
    database_url: str | None = None,
) -> None:
    """Wait until ``state()`` differs from ``seen`` (what the caller read before), or
    ``seconds`` pass; return at once if too many requests wait.

    ``state`` reads the submission in a session of its own: nothing is held while this
    waits. On PostgreSQL, ``database_url`` has this process listen for the other
    processes' word.
    """
    woken = _waiters.enter(submission_id)
    if woken is None:
        return
    try:
        deadline = time.monotonic() + min(seconds, MAX_WAIT)
        if database_url is not None:
            _listen(database_url, min(seconds, LISTEN_START))
        # Read once this request waits: a change since ``seen`` was read is found here,
        # one after it wakes the request.
        while state() == seen:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            woken.wait(min(left, RECHECK))
            woken.clear()
    finally:
        _waiters.leave(submission_id, woken)


# -- PostgreSQL: a listener thread per process and database -----------------------------


class _Listener:
    """A thread that hears one database's NOTIFYs and wakes this process's waiters."""

    def __init__(self, conninfo: str):
        self.conninfo = conninfo
        self.listening = threading.Event()  # set once LISTEN has run
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="aigc-changes", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import psycopg

        pause = LISTEN_RETRY
        while not self.stopped.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    pause = LISTEN_RETRY
                    while not self.stopped.is_set():
                        for notice in connection.notifies(timeout=LISTEN_STOP_CHECK):
                            if notice.payload.isdigit():
                                _waiters.wake((int(notice.payload),))
            except Exception as exc:  # the database went away: waiters still read every RECHECK
                if pause == LISTEN_RETRY:
                    log.warning("listening for submission changes failed (%s); trying again", exc)
                self.stopped.wait(pause)
                pause = min(pause * 2, LISTEN_RETRY_MAX)


_listeners: dict[str, _Listener] = {}  # by database URL
_listeners_lock = threading.Lock()


def _listen(database_url: str, seconds: float) -> None:
    """Have a thread of this process hear the NOTIFYs of ``database_url``, if PostgreSQL.

    Waits up to ``seconds`` until the thread listens, so that the word of a change made
    right after is not missed.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return
    with _listeners_lock:
        listener = _listeners.get(database_url)
        if listener is None:
            conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
            listener = _listeners[database_url] = _Listener(conninfo)
    listener.listening.wait(seconds)


def stop_listening(database_url: str) -> None:
    """Stop this process's listener of ``database_url``, if it has one (the next wait
    starts another)."""
    with _listeners_lock:
        listener = _listeners.pop(database_url, None)
    if listener is not None:
        listener.stopped.set()
        listener.thread.join(LISTEN_STOP_CHECK * 4)


def _forget_after_fork() -> None:
    """A forked child has none of its parent's threads: it starts listeners of its own."""
    global _waiters, _listeners_lock
    _listeners.clear()
    _listeners_lock = threading.Lock()
    _waiters = _Waiters()


os.register_at_fork(after_in_child=_forget_after_fork)
