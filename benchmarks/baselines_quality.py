"""How good the shipped baselines are: each one scored on its challenge's dev phase.

Every package in ``aigc/baselines/trained/<challenge>/<algorithm>/`` (what
``aigc baselines build`` writes) is evaluated exactly as ``aigc evaluate`` does it, on the
dev phase's 100 episodes in the Docker sandbox (the local one with ``--sandbox local``), and
set against the bar it must reach (``BARS`` in ``aigc/baselines/common.py``). The training's
steps and wall time come from the package's learning curve. For the tabular challenges the
exact expected score of the greedy policy under the environment's dynamics is computed too,
with the optimum beside it: 100 episodes of a success rate vary by several points.

    python benchmarks/baselines_quality.py [--sandbox docker|local] [--folder DIR]

Figures go to ``benchmarks/results/baselines_quality.json`` and, as a Markdown table, to
stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from aigc.baselines import common, qlearning
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
    args = parser.parse_args()
    sandbox = DockerSandbox() if args.sandbox == "docker" else LocalSandbox()

    rows = []
    for challenge, algorithms in common.BASELINES.items():
        spec = get_challenge(challenge)
        for algorithm in algorithms:
            folder = args.folder / challenge / algorithm
            result = evaluate(folder, spec, "dev", sandbox=sandbox)
            if result.failure is not None:
                raise SystemExit(f"{folder}: {result.failure.code}: {result.failure.message}")
            steps, seconds = training(folder)
            row = {
                "challenge": challenge,
                "algorithm": algorithm,
                "metric": spec.metrics.primary,
                "dev_score": result.score,
                "episodes": len(result.episodes),
                "bar": common.BARS[(algorithm, challenge)],
                "training_steps": steps,
                "training_seconds": round(seconds, 1),
            }
            if algorithm == "qlearning":
                q_table = np.load(folder / "q_table.npy")
                row["expected"], row["optimum"] = qlearning.expected_scores(challenge, q_table)
            print(json.dumps(row), flush=True)
            rows.append(row)

    RESULTS.parent.mkdir(exist_ok=True)
    meta = {"date": time.strftime("%Y-%m-%d"), "sandbox": args.sandbox}
    RESULTS.write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    print(markdown(rows))


def markdown(rows: list[dict]) -> str:
    lines = [
        "| challenge | algorithm | training steps | training time | dev score (100 episodes) "
        "| bar | expected score (optimum) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        expected = f"{r['expected']:.3f} ({r['optimum']:.3f})" if "expected" in r else ""
        lines.append(
            f"| {r['challenge']} | {r['algorithm']} | {r['training_steps']:,} "
            f"| {r['training_seconds']:.0f} s | {r['dev_score']:.2f} | {r['bar']:g} | {expected} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
