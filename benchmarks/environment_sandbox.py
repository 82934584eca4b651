"""CartPole-v1 with the environment in its own sandbox vs in the evaluator's process.

The same CartPole environment, given as a bundle's entry point, and the same fixed policy
play the same episodes (same seeds) twice in one run, the agent in the Docker sandbox both
times: once with the environment built in the evaluator's process, once with it in its
own Docker container behind the wire protocol (as an organizer's environment runs on the
platform). Each side's time runs from the start of its containers to the end of the last
episode (the environment's container start and stop included). The sides alternate
``--repeats`` times and medians are reported, with the median of the ratios within each
repeat; both sides must get the same returns. Writes
``benchmarks/results/environment_sandbox.json``.

    python benchmarks/environment_sandbox.py [--episodes 1000] [--parallel 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from provenance import write_results

from aigc.submissions.challenge import parse_challenge_yaml
from aigc.submissions.docker_sandbox import DockerSandbox, docker_client
from aigc.submissions.environment_host import EnvironmentHost
from aigc.submissions.evaluator import DEFAULT_PARALLEL, evaluate

POLICY = '''
class Agent:
    """Push towards the side the pole is falling to."""

    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        return int(observation[2] + 0.1 * observation[3] > 0)
'''
ENVIRONMENT = "from gymnasium.envs.classic_control.cartpole import CartPoleEnv as CartPole\n"
RESULTS = Path(__file__).parent / "results" / "environment_sandbox.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    client = docker_client()
    if client is None:
        raise SystemExit("no Docker engine answers: this benchmark needs one")
    sandbox = DockerSandbox(client=client)
    with tempfile.TemporaryDirectory() as tmp:
        package, bundle = Path(tmp) / "agent", Path(tmp) / "bundle"
        package.mkdir()
        (package / "aigc.toml").write_text('name = "bench-policy"\nentry_point = "agent:Agent"\n')
        (package / "agent.py").write_text(POLICY)
        bundle.mkdir()
        (bundle / "cartpole.py").write_text(ENVIRONMENT)
        spec = parse_challenge_yaml(
            f"""
id: bench-cartpole-bundle
title: CartPole in its own sandbox
environment: {{entry_point: "cartpole:CartPole", max_episode_steps: 500}}
phases: [{{id: dev, episodes: {args.episodes}, seeds: {{first: 0}}}}]
limits: {{evaluation_timeout: 1h}}
""",
            bundle=bundle,
        )
        rates: dict[str, list[float]] = {"environment in process": [], "environment sandboxed": []}
        steps = 0
        for repeat in range(args.repeats):
            start = time.perf_counter()
            here = evaluate(
                package,
                spec,
                sandbox=sandbox,
                parallel=args.parallel,
                make_env=lambda: spec.environment.make(bundle),
            )
            rates["environment in process"].append(here.steps / (time.perf_counter() - start))
            start = time.perf_counter()  # the environment's container start counts too
            with EnvironmentHost(bundle, spec.environment, (), spec.limits, sandbox) as host:
                there = evaluate(
                    package, spec, sandbox=sandbox, parallel=args.parallel, make_env=host.make
                )
            rates["environment sandboxed"].append(there.steps / (time.perf_counter() - start))
            assert here.ok and there.ok, (here.failure, there.failure)
            same = [e.total_return for e in here.episodes] == [
                e.total_return for e in there.episodes
            ]
            assert same, "the two sides disagree"
            steps = here.steps
            print(
                f"repeat {repeat + 1}/{args.repeats}: "
                + ", ".join(f"{side} {values[-1]:,.0f}" for side, values in rates.items()),
                flush=True,
            )
    base = statistics.median(rates["environment in process"])
    rows = [
        {
            "side": side,
            "steps_per_s_median": statistics.median(values),
            "steps_per_s_runs": values,
            "ratio": statistics.median(values) / base,
        }
        for side, values in rates.items()
    ]
    # The machine's load shifts between repeats: the ratio within each repeat is steadier.
    paired = statistics.median(
        there / here
        for here, there in zip(
            rates["environment in process"], rates["environment sandboxed"], strict=True
        )
    )
    print(f"\nCartPole-v1, {args.episodes} episodes ({steps} steps), parallel {args.parallel}")
    print(f"{'side':<28}{'steps/s':>12}{'ratio':>8}")
    for row in rows:
        print(f"{row['side']:<28}{row['steps_per_s_median']:>12,.0f}{row['ratio']:>8.2f}")
    print(f"median of the ratios within each repeat: {paired:.2f}")
    write_results(
        RESULTS,
        {
            "benchmark": "environment_sandbox",
            "episodes": args.episodes,
            "parallel": args.parallel,
            "steps_per_run": steps,
            "repeats": args.repeats,
            "agent": "docker sandbox",
            "rows": rows,
            "ratio_within_repeats_median": paired,
        },
    )


if __name__ == "__main__":
    main()
