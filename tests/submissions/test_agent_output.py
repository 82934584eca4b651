"""The agent's output keeps the order its lines were written in, each marked with its stream."""

from __future__ import annotations

import pytest

from aigc.submissions.agent_output import LogBuffer, lines, split_mark
from aigc.submissions.evaluator import evaluate
from aigc.submissions.sandbox import LocalSandbox

from .conftest import agent, make_challenge

# What agents/two_streams writes, in order (its last line has no newline).
WRITTEN = [
    ("out", "out 1: loading"),
    ("out", "out 2: still loading"),
    ("err", "err 1: a warning"),
    ("out", "out 3: loaded"),
    ("err", "err 2: \x1b[31mred\x1b[0m"),
    ("err", "err 3: no newline"),
]


def test_lines_are_kept_in_order_with_their_stream() -> None:
    buffer = LogBuffer()
    buffer.write(b"half a ", "out")
    buffer.write(b"warning\n", "err")
    buffer.write(b"line\nnext", "out")
    assert lines(buffer.text()) == [
        ("err", "warning"),
        ("out", "half a line"),
        ("out", "next"),  # unfinished lines come last
    ]


def test_a_line_that_never_ends_is_cut() -> None:
    buffer = LogBuffer(line=10)
    buffer.write(b"x" * 25, "out")
    assert lines(buffer.text()) == [("out", "x" * 10), ("out", "x" * 10), ("out", "x" * 5)]


def test_a_line_longer_than_the_limit_is_cut_though_its_end_came_with_it() -> None:
    """Docker hands over whole lines: a 100 KiB one is cut too, so its start is kept."""
    buffer = LogBuffer(head=100, tail=100, line=10)
    buffer.write(b"flood " * 1000 + b"\n")
    kept = buffer.text()
    assert kept.startswith("out| flood floo\nout| d flood fl\n")
    assert "bytes of output skipped" in kept
    assert len(kept.encode()) < 300


def test_a_flood_keeps_whole_first_and_last_lines_within_the_bounds() -> None:
    buffer = LogBuffer(head=100, tail=300)
    for i in range(1000):
        buffer.write(f"line {i}\n".encode(), "err" if i % 2 else "out")
    text = buffer.text()
    assert len(text.encode()) < 100 + 300 + 60
    shown = lines(text)
    assert shown[0] == ("out", "line 0") and shown[-1] == ("err", "line 999")
    note = [line for stream, line in shown if stream is None]
    assert len(note) == 1 and "bytes of output skipped" in note[0]
    for stream, line in shown:
        if stream is not None:  # no line is cut in two by the bounds
            number = int(line.removeprefix("line "))
            assert stream == ("err" if number % 2 else "out")


def test_a_mark_the_agent_writes_itself_stays_its_text() -> None:
    buffer = LogBuffer()
    buffer.write(b"err| forged\n", "out")
    assert lines(buffer.text()) == [("out", "err| forged")]
    assert split_mark("no mark here") == (None, "no mark here")


def evaluated_lines(sandbox: object) -> list[tuple[str | None, str]]:
    result = evaluate(agent("two_streams"), make_challenge(episodes=1), sandbox=sandbox)
    assert result.ok, result.failure
    return lines(result.logs)


def test_the_local_sandbox_keeps_the_order_and_marks_the_stream() -> None:
    assert evaluated_lines(LocalSandbox()) == WRITTEN


@pytest.mark.slow
def test_the_docker_sandbox_keeps_the_order_and_marks_the_stream(docker_sandbox: object) -> None:
    assert evaluated_lines(docker_sandbox) == WRITTEN
