"""Our PPO and DQN against Stable-Baselines3's on CartPole-v1, in one run on one machine.

Each side trains with its own tuned settings for CartPole-v1: ours with the defaults of
`aigc train ppo|dqn --challenge cartpole`, Stable-Baselines3 with rl-baselines3-zoo's
hyperparameters (hyperparams/ppo.yml and dqn.yml). For every seed and side it measures the
wall-clock seconds and environment steps until the mean return of the last 20 training
episodes first reaches 475, the whole training's time, and the final deterministic policy's
mean return on 100 episodes (seeds 1000-1099, CartPole-v1 as the challenge makes it).
Both sides use one torch thread. The sides alternate seed by seed.

    pip install stable-baselines3==2.9.2     # or: pip install -e .[sb3]
    python benchmarks/baselines_vs_sb3.py --seeds 1 2 3

Results go to benchmarks/results/baselines_vs_sb3.json and, as a Markdown table, to stdout.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from provenance import write_results

from aigc.baselines import common
from aigc.submissions.challenge import get_challenge

THRESHOLD, WINDOW, EVAL_EPISODES, FIRST_EVAL_SEED = 475.0, 20, 100, 1000
RESULTS = Path(__file__).parent / "results" / "baselines_vs_sb3.json"

# rl-baselines3-zoo, hyperparams/ppo.yml and dqn.yml, CartPole-v1 ("lin_X": linear from X to 0).
ZOO = {
    "ppo": {
        "n_envs": 8,
        "n_timesteps": 100_000,
        "n_steps": 32,
        "batch_size": 256,
        "gae_lambda": 0.8,
        "gamma": 0.98,
        "n_epochs": 20,
        "ent_coef": 0.0,
        "learning_rate": "lin_0.001",
        "clip_range": "lin_0.2",
    },
    "dqn": {
        "n_timesteps": 50_000,
        "learning_rate": 2.3e-3,
        "batch_size": 64,
        "buffer_size": 100_000,
        "learning_starts": 1_000,
        "gamma": 0.99,
        "target_update_interval": 10,
        "train_freq": 256,
        "gradient_steps": 128,
        "exploration_fraction": 0.16,
        "exploration_final_eps": 0.04,
        "policy_kwargs": {"net_arch": [256, 256]},
    },
}


def evaluate(act_batch: Callable[[np.ndarray], np.ndarray]) -> float:
    """Mean return of a deterministic policy on 100 CartPole episodes, seeds 1000-1099."""
    spec = get_challenge("cartpole").environment
    envs = [spec.make() for _ in range(EVAL_EPISODES)]
    obs = np.stack([env.reset(seed=FIRST_EVAL_SEED + i)[0] for i, env in enumerate(envs)])
    returns, running = np.zeros(EVAL_EPISODES), np.ones(EVAL_EPISODES, dtype=bool)
    while running.any():
        live = np.flatnonzero(running)
        actions = act_batch(obs[live])
        for i, action in zip(live, actions, strict=True):
            obs[i], reward, terminated, truncated, _ = envs[i].step(int(action))
            returns[i] += reward
            running[i] = not (terminated or truncated)
    return float(returns.mean())


def run_ours(algorithm: str, seed: int) -> dict:
    torch.set_num_threads(1)
    settings = common.default_settings(algorithm, "cartpole", seed=seed)
    with tempfile.TemporaryDirectory() as folder:
        log = common.TrainingLog(settings.total_steps, f"ours {algorithm}", show=False)
        module = importlib.import_module(f"aigc.baselines.{algorithm}")
        model = module.train(settings, log)
        seconds = time.perf_counter() - log.started
        module.write_agent(model, settings, Path(folder))
        env = common.make_env("cartpole")
        agent = common.load_agent(Path(folder), env.observation_space, env.action_space)
        score = evaluate(agent.act_batch)
    return summary(log.rows, log.steps, seconds, score)


class EpisodeRecorder:
    """Collect (steps, seconds, return, length) of every finished training episode."""

    def __init__(self, started: float):
        from stable_baselines3.common.callbacks import BaseCallback

        recorder = self

        class Callback(BaseCallback):
            def _on_step(self) -> bool:
                for info in self.locals["infos"]:
                    if "episode" in info:
                        recorder.rows.append(
                            (
                                self.num_timesteps,
                                time.perf_counter() - started,
                                float(info["episode"]["r"]),
                                int(info["episode"]["l"]),
                            )
                        )
                return True

        self.rows: list[tuple[int, float, float, int]] = []
        self.callback = Callback()


def linear(value: float | str) -> float | Callable[[float], float]:
    if isinstance(value, str) and value.startswith("lin_"):
        start = float(value[4:])
        return lambda progress_remaining: progress_remaining * start
    return float(value)


def run_sb3(algorithm: str, seed: int) -> dict:
    from stable_baselines3 import DQN, PPO
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    torch.set_flush_denormal(False)  # ours sets it for the process; SB3 does not
    hyper = dict(ZOO[algorithm])
    total = int(hyper.pop("n_timesteps"))
    n_envs = int(hyper.pop("n_envs", 1))
    started = time.perf_counter()
    envs = make_vec_env("CartPole-v1", n_envs=n_envs, seed=seed)
    recorder = EpisodeRecorder(started)
    if algorithm == "ppo":
        hyper["learning_rate"] = linear(hyper["learning_rate"])
        hyper["clip_range"] = linear(hyper["clip_range"])
        model = PPO("MlpPolicy", envs, seed=seed, device="cpu", verbose=0, **hyper)
    else:
        model = DQN("MlpPolicy", envs, seed=seed, device="cpu", verbose=0, **hyper)
    model.learn(total_timesteps=total, callback=recorder.callback)
    seconds = time.perf_counter() - started
    score = evaluate(lambda obs: model.predict(obs, deterministic=True)[0])
    return summary(recorder.rows, model.num_timesteps, seconds, score)


def summary(rows: list, steps: int, seconds: float, score: float) -> dict:
    reached = common.first_reached(rows, THRESHOLD, WINDOW)
    return {
        "steps_to_475": None if reached is None else reached[0],
        "seconds_to_475": None if reached is None else round(reached[1], 2),
        "total_steps": int(steps),
        "total_seconds": round(seconds, 2),
        "eval_mean_return": score,
        "episodes": len(rows),
    }


def median(values: list) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "never"
    text = f"{statistics.median(known):,.1f}" if isinstance(known[0], float) else ""
    text = text or f"{statistics.median(known):,.0f}"
    return text + (f" ({len(values) - len(known)} never)" if len(known) < len(values) else "")


def markdown(results: list[dict]) -> str:
    lines = [
        "| algorithm | side | seed | steps to 475 | seconds to 475 | training steps "
        "| training seconds | final eval (100 ep) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        to_steps = "never" if r["steps_to_475"] is None else f"{r['steps_to_475']:,}"
        to_seconds = "never" if r["seconds_to_475"] is None else f"{r['seconds_to_475']:.1f}"
        lines.append(
            f"| {r['algorithm']} | {r['side']} | {r['seed']} | {to_steps} | {to_seconds} "
            f"| {r['total_steps']:,} | {r['total_seconds']:.1f} | {r['eval_mean_return']:.1f} |"
        )
    lines += ["", "| algorithm | side | median seconds to 475 | median steps to 475 "
              "| median training seconds | mean final eval |",
              "| --- | --- | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for algorithm in ("ppo", "dqn"):
        for side in ("ours", "sb3"):
            rs = [r for r in results if r["algorithm"] == algorithm and r["side"] == side]
            if not rs:
                continue
            lines.append(
                f"| {algorithm} | {side} | {median([r['seconds_to_475'] for r in rs])} "
                f"| {median([r['steps_to_475'] for r in rs])} "
                f"| {statistics.median(r['total_seconds'] for r in rs):.1f} "
                f"| {statistics.mean(r['eval_mean_return'] for r in rs):.1f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--algorithms", nargs="+", default=["ppo", "dqn"])
    args = parser.parse_args()
    import stable_baselines3

    # The first optimizer a process builds imports torch._dynamo, which takes seconds:
    # import it before either side's clock starts, so that neither pays for it.
    import torch._dynamo

    results = []
    for algorithm in args.algorithms:
        for seed in args.seeds:
            for side, runner in (("ours", run_ours), ("sb3", run_sb3)):
                result = {"algorithm": algorithm, "side": side, "seed": seed}
                result |= runner(algorithm, seed)
                print(json.dumps(result), flush=True)
                results.append(result)
    RESULTS.parent.mkdir(exist_ok=True)
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} "
        "torch thread",
        "torch": torch.__version__,
        "stable_baselines3": stable_baselines3.__version__,
        "zoo_hyperparameters": ZOO,
    }
    write_results(RESULTS, {"meta": meta, "results": results})
    print(markdown(results))


if __name__ == "__main__":
    main()
