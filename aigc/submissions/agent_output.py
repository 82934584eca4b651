"""The agent's output as it is kept: its lines in the order written, each marked with its stream.

Sandboxes collect stdout and stderr apart and hand each line, as it completes, to one
:class:`LogBuffer`, which writes it as ``out| text`` or ``err| text``. A line that never
ends is cut into pieces of :data:`LINE_BYTES`. The buffer keeps the first and the last
lines of a flood and says how many bytes it skipped between them (that note has no mark).
The pages and ``aigc logs`` read the marks back with :func:`lines`.
"""

from __future__ import annotations

import threading

STREAMS = ("out", "err")
SEPARATOR = "| "
LOG_HEAD_BYTES = 16 * 1024
LOG_TAIL_BYTES = 48 * 1024
LINE_BYTES = 4 * 1024


class LogBuffer:
    """Keeps the first and last lines of two streams that may be flooded, in their order."""

    def __init__(
        self, head: int = LOG_HEAD_BYTES, tail: int = LOG_TAIL_BYTES, line: int = LINE_BYTES
    ):
        self.head_limit, self.tail_limit, self.line_limit = head, tail, line
        self.head, self.tail = bytearray(), bytearray()
        self.head_full = False
        self.skipped = 0
        self.pending = {stream: bytearray() for stream in STREAMS}
        self.lock = threading.Lock()

    def write(self, data: bytes, stream: str = "out") -> None:
        """Add what ``stream`` (out or err) wrote; each line is kept when it completes."""
        with self.lock:
            pending = self.pending[stream]
            pending += data
            while True:
                # A line longer than the limit is cut, whether or not its end has come.
                end = pending.find(b"\n", 0, self.line_limit + 1)
                if end < 0 and len(pending) >= self.line_limit:
                    end = self.line_limit  # cut it, and keep no more of it waiting
                if end < 0:
                    return
                self._add(_entry(stream, bytes(pending[:end])))
                del pending[: end + 1 if pending[end : end + 1] == b"\n" else end]

    def _add(self, entry: bytes) -> None:
        if not self.head_full and len(self.head) + len(entry) <= self.head_limit:
            self.head += entry
            return
        self.head_full = True
        self.tail += entry
        overflow = len(self.tail) - self.tail_limit
        if overflow > 0:  # drop whole lines from the front of the tail
            newline = self.tail.find(b"\n", overflow - 1)
            drop = newline + 1 if newline >= 0 else len(self.tail)
            self.skipped += drop
            del self.tail[:drop]

    def text(self) -> str:
        """The lines so far (head, a note of what was skipped, tail), unfinished ones last."""
        with self.lock:
            middle = f"[... {self.skipped} bytes of output skipped ...]\n" if self.skipped else ""
            unfinished = b"".join(_entry(s, bytes(p)) for s, p in self.pending.items() if p)
            return (
                bytes(self.head).decode("utf-8", "replace")
                + middle
                + (bytes(self.tail) + unfinished).decode("utf-8", "replace")
            )


def _entry(stream: str, line: bytes) -> bytes:
    return stream.encode() + SEPARATOR.encode() + line.removesuffix(b"\r") + b"\n"


def split_mark(line: str) -> tuple[str | None, str]:
    """``("err", "text")`` for ``err| text``; ``(None, line)`` for a line without a mark."""
    stream, separator, text = line.partition(SEPARATOR)
    if separator and stream in STREAMS:
        return stream, text
    return None, line


def lines(text: str) -> list[tuple[str | None, str]]:
    """The stored output as (stream, line) pairs, in the order the lines were written."""
    return [split_mark(line) for line in text.splitlines()]
