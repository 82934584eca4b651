"""One environment step three ways: through gymnasium.make's wrappers, as the evaluator steps
it (past the wrappers that only pass a step on, a TimeLimit's count kept), and unwrapped.

The evaluator's own work per step is small beside the environment's, so this measures the
part of ``env.step`` it can leave out. Rounds of 20,000 CartPole steps alternate between the
three; the minimum and the median over the rounds are reported (the minimum is the figure
least moved by other work on the machine). Figures go to
``benchmarks/results/env_step.json``.

    python benchmarks/env_step.py [--rounds 40] [--env CartPole-v1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
from provenance import write_results

from aigc.submissions.environment_host import direct_step

RESULTS = Path(__file__).parent / "results" / "env_step.json"
STEPS = 20_000


def steps_of(env: gym.Env, step: Callable[[Any], Any]) -> float:
    """Microseconds per step over one round (alternating actions, reset at each end)."""
    env.reset(seed=0)
    start = time.perf_counter()
    for i in range(STEPS):
        _, _, terminated, truncated, _ = step(i & 1)
        if terminated or truncated:
            env.reset()
    return (time.perf_counter() - start) / STEPS * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--env", default="CartPole-v1")
    args = parser.parse_args()
    env = gym.make(args.env)
    env.reset(seed=0)
    env.step(0)  # the checker's first step: from here the evaluator steps past it
    direct = direct_step(env)
    if direct is None:
        raise SystemExit(f"{args.env}: the evaluator steps it through its wrappers")
    sides = {"wrapped": env.step, "evaluator": direct, "unwrapped": env.unwrapped.step}
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.rounds):
        for name, step in sides.items():
            times[name].append(steps_of(env, step))
    figures = {
        name: {"min_us": min(values), "median_us": statistics.median(values)}
        for name, values in times.items()
    }
    print(f"{args.env}, {args.rounds} rounds of {STEPS} steps, microseconds per step")
    print(f"{'side':12}{'min':>8}{'median':>9}{'min / wrapped':>15}")
    for name, figure in figures.items():
        ratio = figure["min_us"] / figures["wrapped"]["min_us"]
        print(f"{name:12}{figure['min_us']:8.3f}{figure['median_us']:9.3f}{ratio:15.2f}")
    write_results(RESULTS, {"env": args.env, "rounds": args.rounds, "sides": figures})


if __name__ == "__main__":
    main()
