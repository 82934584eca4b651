"""Text-generation throughput: the text agent that keeps its attention cache against the one
that recomputes every sequence, each in-process and through the evaluator.

Runs the shipped reference language model, written as an agent package, on the text
challenge's dev prompts (the same seeds on every side) in one run, twice: with the agent
program that ``aigc.baselines.text_agent`` writes (it keeps its keys and values between
steps) and with the agent as it was before (``textgen_recomputing_agent.py``, which reads
every sequence whole for every token). Each runs directly in this process
(``agent.act_batch`` over ``parallel`` environments side by side, then the evaluator's
``step_all`` on them, no protocol) and through the evaluator with the agent in the local
sandbox (a child process) and in the Docker sandbox: a container started for the run
(cold), and one taken from a warm pool of one whose runtime imported torch ahead (warm,
``AIGC_POOL_SIZE=1``; each warm run waits for such a container). Every side scores its
completions the same way: the environment's reward model and reference model run in the
evaluator's process. Prints generated tokens/s for each side, the ratio of each side to
the recomputing agent on the same side, and of each sandbox to in-process for the same
agent, and writes the figures to ``benchmarks/results/textgen_throughput.json``.

    python benchmarks/textgen_throughput.py [--episodes 200] [--parallel 64] [--repeats 3]
        [--settle 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from agent_startup import wait_warm
from provenance import write_results

from aigc.baselines.text_agent import write_reference_package
from aigc.submissions.challenge import get_challenge
from aigc.submissions.docker_sandbox import DockerSandbox, docker_client
from aigc.submissions.environment_host import step_all
from aigc.submissions.evaluator import evaluate
from aigc.submissions.package import load_agent_class, read_manifest
from aigc.submissions.sandbox import LocalSandbox, Sandbox

RESULTS = Path(__file__).parent / "results" / "textgen_throughput.json"
CHALLENGE = "textgen"
RECOMPUTING_AGENT = Path(__file__).parent / "textgen_recomputing_agent.py"
AGENTS = ("recomputing", "cached")


Run = tuple[float, float, int, float]
"""Seconds in all, seconds to the first answer, generated tokens, mean reward-model score."""


def in_process(package: Path, episodes: int, parallel: int) -> Run:
    """Make ``parallel`` environments and the agent in this process and run them, batched as
    the evaluator batches."""
    challenge = get_challenge(CHALLENGE)
    seeds = challenge.phase("dev").seeds(challenge.id, episodes)
    start = time.perf_counter()  # as the evaluator's side: making the agent counts
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
    startup = None
    active = [(env, env.reset(seed=pending.pop(0))[0]) for env in envs]
    tokens, scores = 0, []
    while active:
        batch = {key: np.stack([o[key] for _, o in active]) for key in active[0][1]}
        actions = agent.act_batch(batch)
        startup = startup or time.perf_counter() - start
        still = []
        stepped = step_all([env for env, _ in active], [int(a) for a in actions])
        for (env, _), (observation, reward, terminated, truncated, _) in zip(
            active, stepped, strict=True
        ):
            tokens += 1
            if terminated or truncated:
                scores.append(float(reward))
                if pending:
                    still.append((env, env.reset(seed=pending.pop(0))[0]))
            else:
                still.append((env, observation))
        active = still
    assert startup is not None
    return time.perf_counter() - start, startup, tokens, float(np.mean(scores))


def through_evaluator(package: Path, sandbox: Sandbox, episodes: int, parallel: int) -> Run:
    """Evaluate the package on the dev phase."""
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
    assert result.startup_time is not None
    score = float(result.metrics["mean_return"] or 0.0)
    return elapsed, result.startup_time, result.steps, score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--parallel", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds a warm container has to import torch"
    )
    args = parser.parse_args()

    client = docker_client()
    sides: list[tuple[str, Sandbox | None]] = [("in-process", None), ("local", LocalSandbox())]
    warm: DockerSandbox | None = None
    if client is not None:
        cold = DockerSandbox(client=client)
        # A warm pool of one (AIGC_POOL_SIZE=1): torch imported ahead, as the text agents
        # declare it; each run waits for a warm container, as in steady use.
        warm = DockerSandbox(image=cold.image, client=client, pool_size=1)
        sides += [("docker", cold), ("warm docker", warm)]
    else:
        print("no Docker engine answers: the Docker sandbox is left out")

    # Per (agent, side): tokens/s over the whole run and after the first answer.
    rates: dict[tuple[str, str], list[float]] = {}
    running: dict[tuple[str, str], list[float]] = {}
    startups: dict[tuple[str, str], list[float]] = {}
    scores: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        packages = {agent: Path(tmp) / agent for agent in AGENTS}
        for package in packages.values():
            write_reference_package(package)
        shutil.copyfile(RECOMPUTING_AGENT, packages["recomputing"] / "agent.py")
        for repeat in range(args.repeats):
            for name, sandbox in sides:
                for agent, package in packages.items():
                    if sandbox is None:
                        run = in_process(package, args.episodes, args.parallel)
                        key = (agent, "in-process")
                    else:
                        if sandbox is warm:
                            wait_warm(warm, args.settle, get_challenge(CHALLENGE).limits)
                        run = through_evaluator(package, sandbox, args.episodes, args.parallel)
                        key = (agent, f"{name} sandbox, parallel {args.parallel}")
                    seconds, startup, tokens, score = run
                    rates.setdefault(key, []).append(tokens / seconds)
                    running.setdefault(key, []).append(tokens / (seconds - startup))
                    startups.setdefault(key, []).append(startup)
                    scores.setdefault(key, []).append(score)
            print(
                f"repeat {repeat + 1}/{args.repeats}: "
                + ", ".join(
                    f"{agent} {side} {values[-1]:,.0f} tokens/s"
                    for (agent, side), values in rates.items()
                ),
                flush=True,
            )

    if warm is not None and warm.pool is not None:
        warm.pool.close()

    def median(values: dict[tuple[str, str], list[float]], agent: str, side: str) -> float:
        return statistics.median(values[agent, side])

    rows = [
        {
            "agent": agent,
            "side": side,
            "tokens_per_s_median": median(rates, agent, side),
            "tokens_per_s_runs": rates[agent, side],
            "ratio_to_recomputing": median(rates, agent, side) / median(rates, "recomputing", side),
            "ratio_to_in_process": median(rates, agent, side) / median(rates, agent, "in-process"),
            "startup_s_median": median(startups, agent, side),
            "after_startup_tokens_per_s_median": median(running, agent, side),
            "after_startup_ratio_to_recomputing": median(running, agent, side)
            / median(running, "recomputing", side),
            "after_startup_ratio_to_in_process": median(running, agent, side)
            / median(running, agent, "in-process"),
            "mean_reward_model_score": statistics.mean(scores[agent, side]),
        }
        for agent, side in rates
    ]
    print(
        f"\n{CHALLENGE}: reference-policy agent, {args.episodes} dev episodes per run, "
        f"median of {args.repeats} alternating runs; after start-up in brackets"
    )
    print(f"{'agent':<13}{'side':<30}{'tokens/s':>16}{'vs recompute':>16}{'vs in-process':>16}")
    for row in rows:
        after = {k.removeprefix("after_startup_"): v for k, v in row.items()}
        print(
            f"{row['agent']:<13}{row['side']:<30}"
            f"{row['tokens_per_s_median']:>7,.0f} ({after['tokens_per_s_median']:>6,.0f})"
            f"{row['ratio_to_recomputing']:>9.2f} ({after['ratio_to_recomputing']:.2f})"
            f"{row['ratio_to_in_process']:>9.2f} ({after['ratio_to_in_process']:.2f})"
            f"  start-up {row['startup_s_median']:.2f} s"
            f"  RM score {row['mean_reward_model_score']:.3f}"
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
