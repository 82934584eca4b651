"""How good the shipped baselines are: each one scored on its challenge's dev phase.

Every package in ``aigc/baselines/trained/<challenge>/<algorithm>/`` (what
``aigc baselines build`` writes) is evaluated exactly as ``aigc evaluate`` does it, on the
dev phase's episodes in the Docker sandbox (the local one with ``--sandbox local``), with the
95% bootstrap interval of the score, and set against the bar it must reach (``BARS`` in
``aigc/baselines/common.py``); untrained reference packages (the text challenge's reference
language model) are scored beside them, without a bar. The training's
steps and wall time come from the package's learning curve. For the tabular challenges the
exact expected score of the greedy policy under the environment's dynamics is computed too,
with the optimum beside it: 100 episodes of a success rate vary by several points.

    python benchmarks/baselines_quality.py [--sandbox docker|local] [--folder DIR]
        [--challenge ID ...]

Figures go to ``benchmarks/results/baselines_quality.json`` (rows of the challenges not
measured in this run are kept) and, as a Markdown table, to stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
from provenance import write_results

from aigc.baselines import common, qlearning
from aigc.leaderboard.ranking import board_figures
from aigc.platform.settings import SHIPPED_BASELINES
from aigc.submissions.challenge import get_challenge
from aigc.submissions.docker_sandbox import DockerSandbox
from aigc.submissions.evaluator import evaluate
from aigc.submissions.sandbox import LocalSandbox

RESULTS = Path(__file__).parent / "results" / "baselines_quality.json"


def training(folder: Path) -> tuple[int, float]:
    """Environment steps and seconds of the training, from its learning curve."""
    with (folder / "learning_curve.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    settings = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
    return int(settings["total_steps"]), float(rows[-1]["seconds"]) if rows else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandbox", choices=["docker", "local"], default="docker")
    parser.add_argument("--folder", type=Path, default=SHIPPED_BASELINES)
    parser.add_argument(
        "--challenge",
        action="append",
        choices=list(common.BASELINES),
        help="only this challenge's baselines (repeatable; default: all)",
    )
    args = parser.parse_args()
    sandbox = DockerSandbox() if args.sandbox == "docker" else LocalSandbox()

    chosen = args.challenge or list(common.BASELINES)
    rows = []
    for challenge in chosen:
        spec = get_challenge(challenge)
        packages = [(a, True) for a in common.BASELINES[challenge]] + [
            (name, False) for name in common.REFERENCE_PACKAGES.get(challenge, ())
        ]
        for algorithm, trained in packages:
            folder = args.folder / challenge / algorithm
            result = evaluate(folder, spec, "dev", sandbox=sandbox)
            if result.failure is not None:
                raise SystemExit(f"{folder}: {result.failure.code}: {result.failure.message}")
            # The interval the board shows (seeded by 0 here, by the submission there).
            low, high, _ = board_figures(result, spec.metrics, seed=0)
            steps, seconds = training(folder) if trained else (0, 0.0)
            row = {
                "challenge": challenge,
                "algorithm": algorithm,
                "metric": spec.metrics.primary,
                "dev_score": result.score,
                "ci95": [low, high] if low is not None else None,
                "metrics": result.metrics,
                "episodes": len(result.episodes),
                "bar": common.BARS[(algorithm, challenge)] if trained else None,
                "training_steps": steps,
                "training_seconds": round(seconds, 1),
            }
            if algorithm == "qlearning":
                q_table = np.load(folder / "q_table.npy")
                row["expected"], row["optimum"] = qlearning.expected_scores(challenge, q_table)
            print(json.dumps(row), flush=True)
            rows.append(row)

    RESULTS.parent.mkdir(exist_ok=True)
    kept = []
    if RESULTS.is_file():
        kept = [
            r for r in json.loads(RESULTS.read_text())["results"] if r["challenge"] not in chosen
        ]
    order = list(common.BASELINES)
    rows = sorted(kept + rows, key=lambda r: order.index(r["challenge"]))
    meta = {"date": time.strftime("%Y-%m-%d"), "sandbox": args.sandbox}
    write_results(RESULTS, {"meta": meta, "results": rows})
    print(markdown(rows))


def markdown(rows: list[dict]) -> str:
    lines = [
        "| challenge | algorithm | training steps | training time | dev score [95% CI] "
        "| episodes | bar | expected score (optimum) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        expected = f"{r['expected']:.3f} ({r['optimum']:.3f})" if "expected" in r else ""
        ci = f" [{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]" if r.get("ci95") else ""
        steps = f"{r['training_steps']:,}" if r["bar"] is not None else "—"
        seconds = f"{r['training_seconds']:.0f} s" if r["bar"] is not None else "—"
        bar = f"{r['bar']:g}" if r["bar"] is not None else "—"
        lines.append(
            f"| {r['challenge']} | {r['algorithm']} | {steps} | {seconds} "
            f"| {r['dev_score']:.2f}{ci} | {r['episodes']} | {bar} | {expected} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
