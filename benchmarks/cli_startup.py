"""Start-up of the ``aigc`` command against Python importing click alone.

Every side is a fresh process, timed from start to exit: ``python -c "import click"`` (the
floor: an interpreter and the command-line library), ``aigc --version``, ``aigc --help``
and ``aigc status --help``. ``--tree LABEL=FOLDER`` adds ``python -m aigc --version`` run
from another checkout (``PYTHONPATH=FOLDER``), e.g. an older commit in a temporary git
worktree, so that before and after are measured in one run. The sides take turns, round
by round, after one warm-up each; medians are reported with their ratio to the floor, and
the figures are written to ``benchmarks/results/cli_startup.json``.

    python benchmarks/cli_startup.py [--runs 30] [--tree before=/tmp/aigc-before]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from provenance import write_results

RESULTS = Path(__file__).parent / "results" / "cli_startup.json"
TARGET = 2.0  # aigc --version at most twice the floor


def _aigc() -> list[str]:
    """The ``aigc`` console script beside this interpreter (as installed), else ``-m aigc``."""
    script = Path(sys.executable).with_name("aigc")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "aigc"]


def sides(trees: list[tuple[str, Path]]) -> list[tuple[str, list[str], dict[str, str]]]:
    here = dict(os.environ)
    found = [
        ('python -c "import click"', [sys.executable, "-c", "import click"], here),
        ("aigc --version", [*_aigc(), "--version"], here),
        ("aigc --help", [*_aigc(), "--help"], here),
        ("aigc status --help", [*_aigc(), "status", "--help"], here),
    ]
    for label, folder in trees:
        found.append(
            (
                f"python -m aigc --version ({label})",
                [sys.executable, "-m", "aigc", "--version"],
                {**here, "PYTHONPATH": str(folder)},
            )
        )
    return found


def time_once(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="Timed runs of each side.")
    parser.add_argument(
        "--tree",
        action="append",
        default=[],
        metavar="LABEL=FOLDER",
        help="Also time python -m aigc --version from this checkout (repeatable).",
    )
    args = parser.parse_args()
    trees = []
    for item in args.tree:
        label, _, folder = item.partition("=")
        if not folder or not (Path(folder) / "aigc" / "__init__.py").is_file():
            parser.error(f"--tree {item!r}: give LABEL=FOLDER, FOLDER a checkout holding aigc/")
        trees.append((label, Path(folder).resolve()))

    measured = sides(trees)
    times: dict[str, list[float]] = {label: [] for label, _, _ in measured}
    # An empty working folder: `python -m` puts it first on sys.path, ahead of PYTHONPATH.
    with tempfile.TemporaryDirectory(prefix="aigc-startup-") as empty:
        for _, argv, env in measured:  # warm-up: every side's files in the page cache
            time_once(argv, env, Path(empty))
        for _ in range(args.runs):
            for label, argv, env in measured:
                times[label].append(time_once(argv, env, Path(empty)))

    floor = statistics.median(times[measured[0][0]])
    rows = []
    print(f"{'side':<48} {'median':>9} {'min':>9} {'ratio':>6}")
    for label, _, _ in measured:
        median = statistics.median(times[label])
        rows.append(
            {
                "side": label,
                "median_s": round(median, 4),
                "min_s": round(min(times[label]), 4),
                "max_s": round(max(times[label]), 4),
                "ratio_to_import_click": round(median / floor, 2),
            }
        )
        print(f"{label:<48} {median:>8.3f}s {min(times[label]):>8.3f}s {median / floor:>6.2f}")
    version = next(row for row in rows if row["side"] == "aigc --version")
    met = version["ratio_to_import_click"] <= TARGET
    print(f"target aigc --version ≤ {TARGET} × import click: {'met' if met else 'NOT met'}")
    write_results(
        RESULTS,
        {
            "runs": args.runs,
            "interpreter": sys.executable,
            "trees": {label: str(folder) for label, folder in trees},
            "target_ratio": TARGET,
            "target_met": met,
            "sides": rows,
        },
    )


if __name__ == "__main__":
    main()
