"""Replay rendering: the time to re-run and render a 500-step CartPole episode.

Evaluates one CartPole episode of a fixed policy that balances the pole for all 500
steps, then, alternating in one run: re-runs it without drawing (the environment's steps
alone), re-runs it drawing frames within the command line's limits (1,000 frames, 640 px)
and the pages' (300 frames, 320 px), and writes each to GIF, MP4 and WebM. Prints the
median seconds of each and its ratio to the steps alone, and writes the figures to
``benchmarks/results/replay_render.json``.

    python benchmarks/replay_render.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import gymnasium as gym
from eval_throughput import make_challenge, make_package
from provenance import write_results

from aigc.platform.replay_cache import WEB_LIMITS
from aigc.submissions.evaluator import evaluate
from aigc.submissions.recording import decode_actions
from aigc.submissions.replay import RenderLimits, replay_episode
from aigc.submissions.replay_files import write_replay

RESULTS = Path(__file__).parent / "results" / "replay_render.json"
LIMITS = {"cli (1000 frames, 640 px)": RenderLimits(), "page (300 frames, 320 px)": WEB_LIMITS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    challenge = make_challenge(1)
    with tempfile.TemporaryDirectory() as tmp:
        result = evaluate(make_package(Path(tmp) / "agent"), challenge)
        episode = result.episodes[0]
        assert episode.length == 500, episode
        times: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            env = gym.make("CartPole-v1")
            start = time.perf_counter()
            env.reset(seed=episode.seed)
            space = env.action_space
            for action in decode_actions(episode.actions or "", space, episode.length):
                env.step(action)
            times.setdefault("steps alone", []).append(time.perf_counter() - start)
            env.close()
            for name, limits in LIMITS.items():
                start = time.perf_counter()
                replay = replay_episode(challenge.environment, episode, limits)
                times.setdefault(f"replay, {name}", []).append(time.perf_counter() - start)
                for suffix in (".gif", ".mp4", ".webm"):
                    start = time.perf_counter()
                    write_replay(replay, Path(tmp) / f"replay{suffix}")
                    key = f"write {suffix}, {name}"
                    times.setdefault(key, []).append(time.perf_counter() - start)
    base = statistics.median(times["steps alone"])
    rows = [
        {"side": side, "seconds_median": statistics.median(v), "runs": v,
         "ratio_to_steps": statistics.median(v) / base}
        for side, v in times.items()
    ]  # fmt: skip
    print(f"CartPole-v1, one episode of 500 steps, median of {args.repeats} runs")
    print(f"{'side':<44}{'seconds':>10}{'ratio':>10}")
    for row in rows:
        print(f"{row['side']:<44}{row['seconds_median']:>10.3f}{row['ratio_to_steps']:>10.0f}")
    write_results(RESULTS, {"benchmark": "replay_render", "repeats": args.repeats, "rows": rows})


if __name__ == "__main__":
    main()
