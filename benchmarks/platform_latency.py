"""Submission latency and throughput: embedded against Celery, warm sandboxes against cold.

Every setup runs as real processes in one run, with the Docker sandbox:

- embedded: ``aigc serve`` alone, SQLite, its in-process pool of 2 workers;
- celery: ``aigc serve`` with PostgreSQL and the Redis broker, plus 2 ``aigc worker``
  processes;

each with the warm pool off (``AIGC_POOL_SIZE=0``, every agent in a fresh container) and
on (``--pool-size``, 2 by default), for two agents: a plain CartPole policy (numpy only)
and a CleanRL-style torch agent (see ``agent_startup.py``).

Latency is upload to stored result (the API reports the submission finished: followed as
``aigc submit --wait`` follows it, each request answered once the submission changes), for
a 20-episode CartPole challenge, one submission at a time. Throughput is 50 submissions
uploaded at once and the time until the last one is scored. Figures go to
``benchmarks/results/platform_latency.json``.

    python benchmarks/platform_latency.py [--latency-runs 10] [--queued 50]
        [--setups embedded celery] [--agents plain torch] [--pool-size 2]

Needs a Docker engine, and for the celery side PostgreSQL and Redis (127.0.0.1).
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import requests
import sqlalchemy as sa
from agent_startup import cleanrl_package
from provenance import write_results

REPO = Path(__file__).parents[1]
RESULTS = Path(__file__).parent / "results" / "platform_latency.json"
POSTGRES = "postgresql+psycopg://root@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/13"
PAUSE = 2.0  # seconds between two latency runs
CHALLENGE = """
id: bench-cartpole
title: CartPole, 20 episodes
environment: {id: CartPole-v1}
phases: [{id: dev, episodes: 20, seeds: {first: 0}}]
"""
POLICY = """
class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        return int(observation[2] + 0.5 * observation[3] > 0)
"""


def package(agent: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        if agent == "plain":
            zf.writestr("aigc.toml", 'name = "bench"\nentry_point = "agent:Agent"\n')
            zf.writestr("agent.py", POLICY)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                for path in sorted(cleanrl_package(Path(tmp)).iterdir()):
                    zf.write(path, path.name)
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Platform:
    """A running platform (server and workers) and an HTTP session signed in to it."""

    def __init__(self, env: dict[str, str], url: str):
        self.env, self.url = env, url
        self.processes: list[subprocess.Popen] = []
        self.http = requests.Session()

    def start(self, *args: str) -> None:
        self.processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "aigc", *args],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )

    def admin(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "aigc", "admin", *args],
            env=self.env,
            check=True,
            capture_output=True,
        )

    def sign_in(self, username: str) -> None:
        reply = self.http.post(
            f"{self.url}/api/v1/tokens", json={"username": username, "password": "bench-password"}
        )
        reply.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {reply.json()['token']}"

    def upload(self, data: bytes) -> int:
        reply = self.http.post(
            f"{self.url}/api/v1/submissions",
            data={"challenge": "bench-cartpole", "phase": "dev"},
            files={"file": ("bench.zip", data)},
        )
        reply.raise_for_status()
        return int(reply.json()["id"])

    def submission(self, submission_id: int, wait: float = 0) -> dict:
        """The submission; with ``wait``, once it changes (or after that many seconds)."""
        reply = self.http.get(
            f"{self.url}/api/v1/submissions/{submission_id}", params={"wait": wait} if wait else {}
        )
        return dict(reply.json())

    def status(self, submission_id: int) -> str:
        return str(self.submission(submission_id)["status"])

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def platform(kind: str, folder: Path, pool_size: int) -> Iterator[Platform]:
    port = free_port()
    env = {
        **os.environ,
        "AIGC_DATA_DIR": str(folder),
        "AIGC_SANDBOX": "docker",
        "AIGC_WORKERS": "2",
        "AIGC_POOL_SIZE": str(pool_size),
        "AIGC_BASELINES_DIR": "none",
        "PYTHONPATH": str(REPO),
    }
    database = None
    if kind == "celery":
        database = f"aigc_bench_{secrets.token_hex(4)}"
        admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
        env["AIGC_DATABASE_URL"] = admin.url.set(database=database).render_as_string(False)
        env["AIGC_BROKER_URL"] = REDIS
        import redis

        redis.Redis.from_url(REDIS).flushdb()
    running = Platform(env, f"http://127.0.0.1:{port}")
    try:
        running.start("serve", "--port", str(port))
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{running.url}/api/v1/challenges", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {kind} server did not start")
            time.sleep(0.2)
        if kind == "celery":
            running.start("worker")
            running.start("worker")
        running.admin("create-user", "bench", "--organizer", "--password", "bench-password")
        running.sign_in("bench")
        running.http.post(
            f"{running.url}/api/v1/challenges",
            data=CHALLENGE,
            headers={"Content-Type": "application/yaml"},
        ).raise_for_status()
        yield running
    finally:
        running.stop()
        if database is not None:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE "{database}" WITH (FORCE)'))


def seen_finished(running: Platform, submission_id: int) -> float:
    """Follow one submission as ``aigc submit --wait`` does, each request answered once it
    changes; return when it was seen finished."""
    while True:
        status = running.submission(submission_id, wait=10)["status"]
        if status == "finished":
            return time.perf_counter()
        if status in ("failed", "cancelled"):
            raise RuntimeError(f"submission {submission_id} {status}")


def wait_finished(running: Platform, ids: list[int], poll: float = 0.2) -> dict[int, float]:
    """Poll until every submission is finished; return when each was seen finished."""
    done: dict[int, float] = {}
    while len(done) < len(ids):
        for submission_id in ids:
            if submission_id not in done:
                status = running.status(submission_id)
                if status == "finished":
                    done[submission_id] = time.perf_counter()
                elif status in ("failed", "cancelled"):
                    raise RuntimeError(f"submission {submission_id} {status}")
        time.sleep(poll)
    return done


def stages(record: dict, uploading: tuple[float, float], seen: float) -> dict[str, float]:
    """Where one submission's latency went, from the platform's own times and this side's.

    ``uploading`` is when the upload was sent and when its answer came (``time.time()``),
    ``seen`` when the poll found it finished; the server's times are on the same clock.
    """
    created, started, finished = (
        datetime.fromisoformat(record[key]).timestamp()
        for key in ("created_at", "started_at", "finished_at")
    )
    result = record["result"]
    return {
        "upload": uploading[1] - uploading[0],
        "queued": started - created,
        "agent_start": result["startup_time"],
        "episodes": result["wall_time"] - result["startup_time"],
        "around_evaluation": finished - started - result["wall_time"],
        "seen": seen - finished,
    }


def busy_cpu_seconds() -> float:
    """The machine's CPU time spent on anything but idling and waiting, all cores (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def measure(kind: str, agent: str, pool_size: int, runs: int, queued: int) -> dict:
    data = package(agent)
    with (
        tempfile.TemporaryDirectory(prefix=f"aigc-bench-{kind}-") as tmp,
        platform(kind, Path(tmp), pool_size) as running,
    ):
        seen_finished(running, running.upload(data))  # warm up: images, imports, caches
        latencies, parts = [], []
        for _ in range(runs):
            # One at a time, as a participant who waits for each score: the pool has had
            # the time to start the next container.
            time.sleep(PAUSE)
            start, sent = time.perf_counter(), time.time()
            submission_id = running.upload(data)
            answered = time.time()
            seen = seen_finished(running, submission_id)
            latencies.append(seen - start)
            seen_at = sent + (seen - start)
            parts.append(stages(running.submission(submission_id), (sent, answered), seen_at))
        busy, start = busy_cpu_seconds(), time.perf_counter()
        ids = [running.upload(data) for _ in range(queued)]
        uploaded = time.perf_counter() - start
        finished = wait_finished(running, ids)
        total = max(finished.values()) - start
        busy = busy_cpu_seconds() - busy
    cores = os.cpu_count() or 1
    return {
        "latency_s": {
            "median": statistics.median(latencies),
            "p90": sorted(latencies)[max(0, int(0.9 * len(latencies)) - 1)],
            "runs": latencies,
            "stages_median": {k: statistics.median(p[k] for p in parts) for k in parts[0]},
        },
        "throughput": {
            "submissions": queued,
            "upload_s": uploaded,
            "all_scored_s": total,
            "per_minute": queued / total * 60,
            # Every core's busy time while the queue drained: near 1 the machine's CPU, not
            # waiting, bounds the rate, and no reordering of the work can raise it much.
            "cpu_busy_fraction": busy / (total * cores),
            "cpu_seconds_per_submission": busy / queued,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-runs", type=int, default=10)
    parser.add_argument("--queued", type=int, default=50)
    parser.add_argument("--setups", nargs="+", default=["embedded", "celery"])
    parser.add_argument("--agents", nargs="+", default=["plain", "torch"])
    parser.add_argument("--pool-size", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, dict] = {}
    for kind in args.setups:
        for agent in args.agents:
            for side, size in (("pool_off", 0), ("pool_on", args.pool_size)):
                print(f"measuring {kind}, {agent} agent, {side} ...", flush=True)
                figures = measure(kind, agent, size, args.latency_runs, args.queued)
                results.setdefault(kind, {}).setdefault(agent, {})[side] = figures
    print("\n20-episode CartPole, Docker sandbox, 2 workers on each side")
    print(f"{'':36}{'pool off':>10}{'pool on':>10}{'off/on':>8}")
    for kind, agents in results.items():
        for agent, sides in agents.items():
            off, on = sides["pool_off"], sides["pool_on"]
            rows = (
                ("latency median (s)", off["latency_s"]["median"], on["latency_s"]["median"]),
                ("latency p90 (s)", off["latency_s"]["p90"], on["latency_s"]["p90"]),
                (
                    f"{args.queued} queued, all scored (s)",
                    off["throughput"]["all_scored_s"],
                    on["throughput"]["all_scored_s"],
                ),
            )
            for label, a, b in rows:
                print(f"{kind + ' ' + agent + ' ' + label:<36}{a:>10.3f}{b:>10.3f}{a / b:>8.2f}")
            a, b = off["throughput"]["per_minute"], on["throughput"]["per_minute"]
            label = f"{kind} {agent} per minute"
            print(f"{label:<36}{a:>10.1f}{b:>10.1f}{a / b:>8.2f}")
            for key in ("cpu_busy_fraction", "cpu_seconds_per_submission"):
                a, b = off["throughput"][key], on["throughput"][key]
                print(f"{kind + ' ' + agent + ' ' + key.replace('_', ' '):<36}{a:>10.3f}{b:>10.3f}")
            for stage in off["latency_s"]["stages_median"]:
                a = off["latency_s"]["stages_median"][stage]
                b = on["latency_s"]["stages_median"][stage]
                label = f"{kind} {agent} latency: {stage.replace('_', ' ')} (s)"
                print(f"{label:<36}{a:>10.3f}{b:>10.3f}")
    write_results(
        RESULTS, {"benchmark": "platform_latency", "pool_size": args.pool_size, **results}
    )


if __name__ == "__main__":
    main()
