"""Text-generation throughput: the reference-policy agent in-process vs through the evaluator.

Runs the shipped reference language model, written as an agent package, on the text
challenge's dev prompts (the same seeds on every side) in one run: directly in this
process (``agent.act_batch`` over ``parallel`` environments side by side, then ``env.step``
on each, no protocol) and through the evaluator with the agent in the local sandbox (a
child process) and in the Docker sandbox (a container). Every side scores its completions
the same way: the environment's reward model and reference model run in the evaluator's
process. Prints generated tokens/s for each side and the ratio to in-process, and writes
the figures to ``benchmarks/results/textgen_throughput.json``.

    python benchmarks/textgen_throughput.py [--episodes 200] [--parallel 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from provenance import write_results

from aigc.baselines.text_agent import write_reference_package
from aigc.submissions.challenge import get_challenge
from aigc.submissions.docker_sandbox import DockerSandbox, docker_client
from aigc.submissions.evaluator import evaluate
from aigc.submissions.package import load_agent_class, read_manifest
from aigc.submissions.sandbox import LocalSandbox, Sandbox

RESULTS = Path(__file__).parent / "results" / "textgen_throughput.json"
CHALLENGE = "textgen"


def in_process(package: Path, episodes: int, parallel: int) -> tuple[float, int, float]:
    """Run the agent and ``parallel`` environments in this process, batched as the evaluator
    batches; return seconds, generated tokens and the mean reward-model score."""
    challenge = get_challenge(CHALLENGE)
    seeds = challenge.phase("dev").seeds(challenge.id, episodes)
    envs = [challenge.environment.make() for _ in range(min(parallel, episodes))]
    cwd = Path.cwd()
    os.chdir(package)  # the agent reads its files from its own folder, as in the sandbox
    try:
        agent = load_agent_class(package, read_manifest(package))(
            envs[0].observation_space, envs[0].action_space
        )
    finally:
        os.chdir(cwd)
    pending = list(seeds)
    start = time.perf_counter()
    active = [(env, env.reset(seed=pending.pop(0))[0]) for env in envs]
    tokens, scores = 0, []
    while active:
        batch = {key: np.stack([o[key] for _, o in active]) for key in active[0][1]}
        actions = agent.act_batch(batch)
        still = []
        for (env, _), action in zip(active, actions, strict=True):
            observation, reward, terminated, truncated, _ = env.step(int(action))
            tokens += 1
            if terminated or truncated:
                scores.append(float(reward))
                if pending:
                    still.append((env, env.reset(seed=pending.pop(0))[0]))
            else:
                still.append((env, observation))
        active = still
    return time.perf_counter() - start, tokens, float(np.mean(scores))


def through_evaluator(
    package: Path, sandbox: Sandbox, episodes: int, parallel: int
) -> tuple[float, int, float]:
    """Evaluate the package on the dev phase; return seconds, tokens and the mean score."""
    start = time.perf_counter()
    result = evaluate(
        package,
        get_challenge(CHALLENGE),
        "dev",
        sandbox=sandbox,
        episodes=episodes,
        parallel=parallel,
    )
    elapsed = time.perf_counter() - start
    assert result.ok, result.failure
    return elapsed, result.steps, float(result.metrics["mean_return"] or 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--parallel", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    client = docker_client()
    sides: list[tuple[str, Sandbox | None]] = [("in-process", None), ("local", LocalSandbox())]
    if client is not None:
        sides.append(("docker", DockerSandbox(client=client)))
    else:
        print("no Docker engine answers: the Docker sandbox is left out")

    rates: dict[str, list[float]] = {}
    scores: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(tmp) / "reference"
        write_reference_package(package)
        for repeat in range(args.repeats):
            for name, sandbox in sides:
                if sandbox is None:
                    seconds, tokens, score = in_process(package, args.episodes, args.parallel)
                    label = "in-process"
                else:
                    seconds, tokens, score = through_evaluator(
                        package, sandbox, args.episodes, args.parallel
                    )
                    label = f"{name} sandbox, parallel {args.parallel}"
                rates.setdefault(label, []).append(tokens / seconds)
                scores.setdefault(label, []).append(score)
            print(
                f"repeat {repeat + 1}/{args.repeats}: "
                + ", ".join(f"{side} {values[-1]:,.0f} tokens/s" for side, values in rates.items()),
                flush=True,
            )

    base = statistics.median(rates["in-process"])
    rows = [
        {
            "side": side,
            "tokens_per_s_median": statistics.median(values),
            "tokens_per_s_runs": values,
            "ratio": statistics.median(values) / base,
            "mean_reward_model_score": statistics.mean(scores[side]),
        }
        for side, values in rates.items()
    ]
    print(
        f"\n{CHALLENGE}: reference-policy agent, {args.episodes} dev episodes per run, "
        f"median of {args.repeats} alternating runs"
    )
    print(f"{'side':<32}{'tokens/s':>10}{'ratio':>8}{'RM score':>10}")
    for row in rows:
        print(
            f"{row['side']:<32}{row['tokens_per_s_median']:>10,.0f}{row['ratio']:>8.2f}"
            f"{row['mean_reward_model_score']:>10.3f}"
        )
    document = {
        "benchmark": "textgen_throughput",
        "episodes": args.episodes,
        "parallel": args.parallel,
        "repeats": args.repeats,
        "machine": {"python": platform.python_version(), "cores": os.cpu_count()},
        "rows": rows,
    }
    write_results(RESULTS, document)


if __name__ == "__main__":
    main()
