"""Evaluation throughput: the agent called in-process vs through the evaluator and protocol.

Runs one fixed CartPole policy for the same episodes (same seeds) on every side in one
run: directly in this process (``agent.act`` then ``env.step``, no protocol), and through
the evaluator with the agent in the local sandbox (a child process) and in the Docker
sandbox (a container), at several batch widths (episodes side by side, answered in one
round trip). Prints steps/s for each and the ratio to in-process, checks that every side
got the same returns, measures cold start (sandbox start to first action), and writes
the figures to ``benchmarks/results/eval_throughput.json``. Each evaluator run records
every episode's actions for replays, as the platform does; at the widths given by
``--recording-parallel`` the local sandbox runs with and without recording back to back,
and the median ratio of those pairs is the cost of recording.

    python benchmarks/eval_throughput.py [--episodes 1000] [--parallel 1 16 64]
        [--docker-parallel 64] [--recording-parallel 64] [--repeats 3] [--cold-starts 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import yaml
from provenance import write_results

from aigc.submissions.challenge import parse_challenge
from aigc.submissions.docker_sandbox import DockerSandbox, docker_client
from aigc.submissions.evaluator import evaluate
from aigc.submissions.package import load_agent_class, read_manifest
from aigc.submissions.sandbox import LocalSandbox, Sandbox

POLICY = '''
class Agent:
    """Push towards the side the pole is falling to."""

    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        return int(observation[2] + 0.1 * observation[3] > 0)
'''

RESULTS = Path(__file__).parent / "results" / "eval_throughput.json"


def make_package(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "aigc.toml").write_text('name = "bench-policy"\nentry_point = "agent:Agent"\n')
    (folder / "agent.py").write_text(POLICY)
    return folder


def make_challenge(episodes: int):
    return parse_challenge(
        yaml.safe_load(
            f"""
            id: bench-cartpole
            title: CartPole throughput
            environment: {{id: CartPole-v1}}
            phases: [{{id: dev, episodes: {episodes}, seeds: {{first: 0}}}}]
            limits: {{evaluation_timeout: 1h}}
            """
        )
    )


def in_process(package: Path, challenge, episodes: int) -> tuple[float, int, list[float]]:
    """Run the policy and the env in this process; return seconds, steps and returns.

    The seconds are wall-clock time; ``process_time()`` around the call gives its CPU time.
    """
    agent_class = load_agent_class(package, read_manifest(package))
    env = challenge.environment.make()
    agent = agent_class(env.observation_space, env.action_space)
    seeds = challenge.phase("dev").seeds(challenge.id, episodes)
    steps, returns = 0, []
    start = time.perf_counter()
    for seed in seeds:
        observation, _ = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            observation, reward, terminated, truncated, _ = env.step(agent.act(observation))
            total += float(reward)
            steps += 1
            done = terminated or truncated
        returns.append(total)
    return time.perf_counter() - start, steps, returns


def cold_starts(sandbox: Sandbox, package: Path, count: int) -> list[float]:
    """Seconds from starting the sandbox to the agent's first action, ``count`` times."""
    challenge = make_challenge(1)
    times = []
    for _ in range(count):
        result = evaluate(package, challenge, sandbox=sandbox)
        assert result.ok and result.startup_time is not None, result.failure
        times.append(result.startup_time)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--docker-parallel", type=int, nargs="*", default=[64])
    parser.add_argument("--recording-parallel", type=int, nargs="*", default=[64])
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write the figures")
    parser.add_argument("--cold-starts", type=int, default=10)
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="alternate the sides this often; medians are reported",
    )
    args = parser.parse_args()

    client = docker_client()
    docker = DockerSandbox(client=client) if client is not None else None
    if docker is None:
        print("no Docker engine answers: the Docker sandbox is left out")
    sandboxes: list[tuple[str, Sandbox, list[int]]] = [("local", LocalSandbox(), args.parallel)]
    if docker is not None:
        sandboxes.append(("docker", docker, args.docker_parallel))

    challenge = make_challenge(args.episodes)
    rates: dict[str, list[float]] = {"in-process": []}
    # This process's CPU time per step: the evaluator's alone (the agent runs elsewhere).
    cpu_per_step: dict[str, list[float]] = {}
    pairs: dict[int, list[float]] = {}  # recording's speed over none's, per adjacent pair
    starts: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        package = make_package(Path(tmp) / "agent")
        for repeat in range(args.repeats):
            cpu = time.process_time()
            seconds, steps, expected = in_process(package, challenge, args.episodes)
            rates["in-process"].append(steps / seconds)
            cpu_per_step.setdefault("in-process", []).append((time.process_time() - cpu) / steps)
            for kind, sandbox, widths in sandboxes:
                for width in widths:
                    cpu = time.process_time()
                    start = time.perf_counter()
                    result = evaluate(package, challenge, sandbox=sandbox, parallel=width)
                    elapsed = time.perf_counter() - start
                    side = f"{kind} sandbox, parallel {width}"
                    cpu_per_step.setdefault(side, []).append(
                        (time.process_time() - cpu) / result.steps
                    )
                    assert result.ok, result.failure
                    got = [e.total_return for e in result.episodes]
                    assert got == expected, "the evaluator and the in-process loop disagree"
                    rates.setdefault(side, []).append(result.steps / elapsed)
                    assert all(e.actions for e in result.episodes), "an episode went unrecorded"
            for width in args.recording_parallel:
                # Back to back, in turns first: a pair sees the same load on the machine.
                pair = {}
                for record in (True, False) if repeat % 2 == 0 else (False, True):
                    start = time.perf_counter()
                    result = evaluate(package, challenge, parallel=width, record=record)
                    elapsed = time.perf_counter() - start
                    assert result.ok and all(bool(e.actions) == record for e in result.episodes)
                    pair[record] = result.steps / elapsed
                pairs.setdefault(width, []).append(pair[True] / pair[False])
            print(
                f"repeat {repeat + 1}/{args.repeats}: "
                + ", ".join(f"{side} {values[-1]:,.0f}" for side, values in rates.items()),
                flush=True,
            )
        for kind, sandbox, _ in sandboxes:
            starts[kind] = cold_starts(sandbox, package, args.cold_starts)

    base = statistics.median(rates["in-process"])
    base_cpu = statistics.median(cpu_per_step["in-process"])
    rows = [
        {
            "side": side,
            "steps_per_s_median": statistics.median(values),
            "steps_per_s_runs": values,
            "ratio": statistics.median(values) / base,
            # Each run's ratio to the in-process run just before it (the same load).
            "ratio_within_repeat_median": statistics.median(
                v / b for v, b in zip(values, rates["in-process"], strict=True)
            ),
            "cpu_us_per_step_median": statistics.median(cpu_per_step[side]) * 1e6,
            "cpu_ratio": base_cpu / statistics.median(cpu_per_step[side]),
        }
        for side, values in rates.items()
    ]
    print(
        f"\nCartPole-v1, {args.episodes} episodes ({steps} steps) per run, same seeds on every "
        f"side, median of {args.repeats} alternating runs; CPU is this process's (the "
        "evaluator's) per step"
    )
    print(f"{'side':<32}{'steps/s':>12}{'ratio':>8}{'in repeat':>11}{'CPU us':>8}{'CPU ratio':>11}")
    for row in rows:
        print(
            f"{row['side']:<32}{row['steps_per_s_median']:>12,.0f}{row['ratio']:>8.2f}"
            f"{row['ratio_within_repeat_median']:>11.2f}{row['cpu_us_per_step_median']:>8.2f}"
            f"{row['cpu_ratio']:>11.2f}"
        )
    recording = {}
    for width, ratios in pairs.items():
        recording[str(width)] = {"median": statistics.median(ratios), "pairs": ratios}
        print(
            f"recording every action, local sandbox, parallel {width}: "
            f"{statistics.median(ratios):.3f} of the speed without (median of "
            f"{len(ratios)} adjacent pairs, range {min(ratios):.3f}-{max(ratios):.3f})"
        )
    print(f"\ncold start (sandbox start -> first action), {args.cold_starts} runs each")
    print(f"{'sandbox':<12}{'median s':>10}{'max s':>10}")
    for kind, values in starts.items():
        print(f"{kind:<12}{statistics.median(values):>10.3f}{max(values):>10.3f}")
    args.results.parent.mkdir(exist_ok=True)
    document = {
        "benchmark": "eval_throughput",
        "episodes": args.episodes,
        "steps_per_run": steps,
        "repeats": args.repeats,
        "machine": {
            "python": platform.python_version(),
            "cores": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
        },
        "rows": rows,
        "recording_speed_ratio": recording,
        "cold_start_seconds": {
            kind: {"median": statistics.median(v), "max": max(v), "runs": v}
            for kind, v in starts.items()
        },
    }
    write_results(args.results, document)


if __name__ == "__main__":
    main()
