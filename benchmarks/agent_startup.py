"""Agent start-up: claim to first action, warm Docker sandboxes against cold ones.

Start-up is the evaluator's ``startup_time``: from asking the sandbox for the agent (for a
warm sandbox, the claim) to the agent's first action. Measured in one run, alternating,
for two torch agents: the shipped PPO baseline for CartPole and a CleanRL-style agent
(``cleanrl/ppo.py``'s ``Agent``: actor and critic MLPs, orthogonal init, its weights in the
package). Warm runs start once the pool holds a container that has had time to finish
its imports, as a pool in steady use does. Figures go to
``benchmarks/results/agent_startup.json``.

    python benchmarks/agent_startup.py [--runs 10] [--settle 3]

Needs a Docker engine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
import yaml
from provenance import write_results
from torch import nn

from aigc.submissions.challenge import Limits, parse_challenge
from aigc.submissions.docker_sandbox import DockerSandbox, docker_client
from aigc.submissions.evaluator import evaluate

REPO = Path(__file__).parents[1]
RESULTS = Path(__file__).parent / "results" / "agent_startup.json"
PPO = REPO / "aigc" / "baselines" / "trained" / "cartpole" / "ppo"
CHALLENGE = {
    "id": "bench-startup",
    "title": "CartPole, 2 episodes",
    "environment": {"id": "CartPole-v1"},
    "phases": [{"id": "dev", "episodes": 2, "seeds": {"first": 0}}],
}
WARM_WAIT = 300  # seconds a warm container may take to start and wait
CLEANRL_AGENT = '''
"""CleanRL's PPO agent for CartPole (cleanrl/ppo.py), acting on the actor's argmax."""

import numpy as np
import torch
from torch import nn


def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


class Network(nn.Module):
    def __init__(self, n_obs, n_actions):
        super().__init__()
        self.critic = nn.Sequential(
            layer_init(nn.Linear(n_obs, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, 1), std=1.0),
        )
        self.actor = nn.Sequential(
            layer_init(nn.Linear(n_obs, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, n_actions), std=0.01),
        )


class Agent:
    def __init__(self, observation_space, action_space):
        self.network = Network(observation_space.shape[0], action_space.n)
        self.network.load_state_dict(torch.load("agent.pt", weights_only=True))
        self.network.eval()

    @torch.no_grad()
    def act(self, observation):
        logits = self.network.actor(torch.as_tensor(observation, dtype=torch.float32))
        return int(logits.argmax())
'''


def cleanrl_package(folder: Path) -> Path:
    """Write the CleanRL-style package (fresh weights, fixed seed) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "aigc.toml").write_text(
        'name = "cleanrl-ppo"\nentry_point = "agent:Agent"\nframework = "torch"\n'
    )
    (folder / "agent.py").write_text(CLEANRL_AGENT)
    namespace: dict = {}
    exec(CLEANRL_AGENT, namespace)  # the same network the package builds
    torch.manual_seed(1)
    network: nn.Module = namespace["Network"](4, 2)
    torch.save(network.state_dict(), folder / "agent.pt")
    return folder


def startup(package: Path, sandbox: DockerSandbox) -> float:
    challenge = parse_challenge(yaml.safe_load(yaml.safe_dump(CHALLENGE)))
    result = evaluate(package, challenge, sandbox=sandbox)
    if result.failure is not None or result.startup_time is None:
        raise RuntimeError(f"{package.name} failed: {result.failure}")
    return result.startup_time


def wait_warm(sandbox: DockerSandbox, settle: float, limits: Limits | None = None) -> None:
    """Wait for a warm container of these limits (default: the default ones) that imported
    torch (the agents measured here declare it), then ``settle`` seconds more."""
    assert sandbox.pool is not None
    key = (*sandbox.cut(limits or Limits()), "torch")
    sandbox.pool.want(key)
    if not sandbox.pool.ready(key, WARM_WAIT):
        raise SystemExit(f"no warm container waited within {WARM_WAIT} s")
    time.sleep(settle)  # its imports (torch: about a second and a half) are done by then


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--settle", type=float, default=3.0)
    args = parser.parse_args()
    client = docker_client()
    if client is None:
        raise SystemExit("no Docker engine answers")
    cold = DockerSandbox(client=client)
    warm = DockerSandbox(image=cold.image, client=client, pool_size=1)
    folder = Path(tempfile.mkdtemp(prefix="aigc-bench-startup-"))
    try:
        agents = {
            "ppo": folder / "ppo",
            "cleanrl": cleanrl_package(folder / "cleanrl"),
        }
        shutil.copytree(PPO, agents["ppo"])
        results: dict[str, dict] = {}
        for name, package in agents.items():
            startup(package, cold)  # first use: page cache, image layers
            runs: dict[str, list[float]] = {"pool_off": [], "pool_on": []}
            for _ in range(args.runs):
                runs["pool_off"].append(startup(package, cold))
                wait_warm(warm, args.settle)
                runs["pool_on"].append(startup(package, warm))
            results[name] = {
                side: {"median_s": statistics.median(times), "max_s": max(times), "runs": times}
                for side, times in runs.items()
            }
    finally:
        assert warm.pool is not None
        warm.pool.close()
        shutil.rmtree(folder, ignore_errors=True)
    print("\nclaim to first action, Docker sandbox, CartPole")
    print(f"{'':12}{'pool off (s)':>14}{'pool on (s)':>14}{'off / on':>10}")
    for name, sides in results.items():
        off, on = sides["pool_off"]["median_s"], sides["pool_on"]["median_s"]
        print(f"{name:<12}{off:>14.3f}{on:>14.3f}{off / on:>10.1f}")
    write_results(RESULTS, {"benchmark": "agent_startup", "runs": args.runs, **results})


if __name__ == "__main__":
    main()
