"""Hostile frames: what each costs the trusted evaluator to refuse, against plain decoding.

Each of the protocol tests' bomb frames (``tests/submissions/test_protocol.py``: 16 MiB
of empty maps, lists, small ints or floats, built to become millions of Python objects) is
read by the evaluator's :class:`~aigc.submissions.protocol.Connection` from a socket, in a
fresh process each, timing the read until it is refused and measuring the process's peak
resident memory above what it held before (the kernel's peak, reset on entering). The
other side decodes the same frame as msgpack does by default (``msgpack.unpackb``, no
limits of ours): what the evaluator did before its frames were decoded within limits.
That side costs a gigabyte or more and many seconds a frame, so by default it runs on the
first bomb only (``--plain all`` runs it on every one). Figures go to
``benchmarks/results/frame_bombs.json``.

    python benchmarks/frame_bombs.py [--plain one|all|none]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).parents[1]
sys.path.insert(0, str(REPO))

from provenance import write_results  # noqa: E402

from tests.submissions.test_protocol import BOMBS, frame  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "frame_bombs.json"

# Run in a fresh process: prints seconds, peak memory growth in bytes, and the outcome.
GUARDED = """
import socket, sys, threading, time
from pathlib import Path
from aigc.submissions.protocol import AGENT_MESSAGES, Connection, ProtocolError
from tests.submissions.conftest import PeakMemory

data = Path(sys.argv[1]).read_bytes()
ours, theirs = socket.socketpair()
sender = threading.Thread(target=theirs.sendall, args=(data,))
with PeakMemory() as memory:
    start = time.perf_counter()
    sender.start()
    try:
        Connection(ours).recv(AGENT_MESSAGES)
        outcome = "accepted"
    except ProtocolError as exc:
        outcome = "refused"
    took = time.perf_counter() - start
    sender.join()
print(took, memory.growth, outcome)
"""
PLAIN = """
import sys, time
from pathlib import Path
import msgpack
from tests.submissions.conftest import PeakMemory

body = Path(sys.argv[1]).read_bytes()[4:]
with PeakMemory() as memory:
    start = time.perf_counter()
    try:
        msgpack.unpackb(body, raw=False, strict_map_key=False)
        outcome = "decoded"
    except Exception as exc:
        outcome = type(exc).__name__
    took = time.perf_counter() - start
print(took, memory.growth, outcome)
"""


def measure(program: str, path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", program, str(path)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    seconds, growth, outcome = done.stdout.split()
    return {"seconds": float(seconds), "peak_growth_bytes": int(growth), "outcome": outcome}


def shown(side: dict[str, Any]) -> str:
    mib = side["peak_growth_bytes"] / 2**20
    return f"{side['outcome']} {side['seconds']:.3f} s {mib:.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plain", choices=["one", "all", "none"], default="one")
    args = parser.parse_args()
    names = sorted(BOMBS)
    figures: dict[str, dict[str, Any]] = {}
    print(f"{'frame':28}{'evaluator':>26}{'plain msgpack':>28}")
    with tempfile.TemporaryDirectory() as tmp:
        for i, name in enumerate(names):
            path = Path(tmp) / name
            path.write_bytes(frame(BOMBS[name]))
            row: dict[str, Any] = {"frame_bytes": len(BOMBS[name])}
            row["evaluator"] = guarded = measure(GUARDED, path)
            plain_too = args.plain == "all" or (args.plain == "one" and i == 0)
            if plain_too:
                row["plain"] = measure(PLAIN, path)
            figures[name] = row
            plain = shown(row["plain"]) if plain_too else "-"
            print(f"{name:28}{shown(guarded):>26}{plain:>28}")
    write_results(RESULTS, {"frames": figures})


if __name__ == "__main__":
    main()
