"""``aigc challenge create`` for a bundle with Stable-Baselines3 in its runtime: cold and cached.

Both sides in one run, against one real ``aigc serve`` (SQLite, Docker sandbox):

- cold: the challenge's derived image is absent (removed first): the server resolves the
  packages, stores the wheelhouse and builds the image;
- cached: the same runtime again, under another challenge id: the image is there, so the
  server only resolves the packages and stores the wheelhouse.

Each time is the whole command as an organizer runs it (``python -m aigc challenge create
BUNDLE``: the bundle packed and checked here, uploaded, created). The sides alternate
``--repeats`` times; medians and the ratio are reported. The wheels come from a folder
holding Stable-Baselines3's wheel made from its installation here (AIGC_RUNTIME_WHEELS), so
no package index is reached. The agent-runtime image is built before timing starts.
Writes ``benchmarks/results/challenge_create.json``.

    python benchmarks/challenge_create.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from provenance import write_results

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aigc.submissions.docker_sandbox import docker_client  # noqa: E402
from aigc.submissions.images import runtime_image  # noqa: E402
from tests.installed_wheels import wheel_of_installed  # noqa: E402
from tests.servers import ServerProcess, create_user, platform_env  # noqa: E402

CORRIDOR = ROOT / "tests" / "submissions" / "environments" / "corridor"


def bundle(folder: Path, challenge_id: str) -> Path:
    """The corridor bundle under another id, with Stable-Baselines3 in its runtime."""
    target = folder / challenge_id
    shutil.copytree(CORRIDOR, target)
    spec = (target / "challenge.yaml").read_text().replace("id: corridor", f"id: {challenge_id}")
    (target / "challenge.yaml").write_text(
        spec + "runtime:\n  packages: [stable-baselines3==2.9.2]\n"
    )
    return target


def aigc(config: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIGC_")}
    env["AIGC_CONFIG"] = str(config)
    done = subprocess.run(
        [sys.executable, "-m", "aigc", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"aigc {' '.join(args)} failed: {done.stdout}{done.stderr}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    client = docker_client()
    if client is None:
        raise SystemExit("no Docker engine answers: start Docker")
    base = runtime_image(client)
    with tempfile.TemporaryDirectory(prefix="aigc-bench-") as tmp:
        work = Path(tmp)
        wheels = work / "wheels"
        wheel_of_installed("stable_baselines3", wheels)
        (work / "tmp").mkdir()
        env = platform_env(
            work / "data",
            f"sqlite:///{work / 'aigc.db'}",
            TMPDIR=str(work / "tmp"),
            AIGC_SANDBOX="docker",
            AIGC_RUNTIME_WHEELS=str(wheels),
        )
        server = ServerProcess(env, work).wait_ready(timeout=300)
        try:
            create_user(env, "olga", "olga-password", organizer=True)
            config = work / "olga.json"
            aigc(config, "login", "--server", server.url, "-u", "olga", "--password",
                 "olga-password")  # fmt: skip
            # Untimed: learns the derived image's tag (the same wheelhouse gives the same one).
            aigc(config, "challenge", "create", str(bundle(work, "sb3-warmup")))
            tag = requests.get(server.api("/challenges/sb3-warmup")).json()["runtime"]["image"]
            assert tag.startswith(base.split(":")[0]), tag
            times: dict[str, list[float]] = {"cold": [], "cached": []}
            for repeat in range(args.repeats):
                for side in ("cold", "cached"):
                    path = bundle(work, f"sb3-{side}-{repeat}")
                    if side == "cold":
                        client.images.remove(tag)  # ours: built by this run's creates
                    start = time.perf_counter()
                    said = aigc(config, "challenge", "create", str(path))
                    times[side].append(time.perf_counter() - start)
                    assert "created challenge" in said, said
                    print(f"repeat {repeat + 1} {side}: {times[side][-1]:.2f} s", flush=True)
        finally:
            print(server.stop()[-2000:])
    cold, cached = (statistics.median(times[s]) for s in ("cold", "cached"))
    ratios = [c / w for c, w in zip(times["cold"], times["cached"], strict=True)]
    print(f"cold {cold:.2f} s, cached {cached:.2f} s, cold/cached {statistics.median(ratios):.2f}")
    write_results(
        Path(__file__).parent / "results" / "challenge_create.json",
        {
            "benchmark": "challenge_create",
            "repeats": args.repeats,
            "runtime_packages": ["stable-baselines3==2.9.2"],
            "base_image": base,
            "derived_image": tag,
            "seconds": times,
            "median_seconds": {"cold": cold, "cached": cached},
            "median_ratio_cold_to_cached": statistics.median(ratios),
        },
    )


if __name__ == "__main__":
    main()
