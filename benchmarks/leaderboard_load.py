"""Leaderboard latency under load: 10,000 submissions from 500 participants in PostgreSQL.

Fills a fresh PostgreSQL database with scored submissions to CartPole's dev phase (each
participant's best one with 100 episodes, for the page's histogram), starts a real
``aigc serve`` on it, and drives the leaderboard API and page with ``wrk`` (Debian's
package). Also times a cold board, rebuilt after its version changed, against a warm one
served from the cache. Figures go to ``benchmarks/results/leaderboard_load.json``.

    python benchmarks/leaderboard_load.py [--participants 500] [--submissions 10000]
        [--seconds 15] [--connections 8]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
import sqlalchemy as sa
from provenance import write_results

from aigc.platform import challenges
from aigc.platform.db import Database
from aigc.platform.models import Challenge, EpisodeRow, Evaluation, Submission, User

REPO = Path(__file__).parents[1]
RESULTS = Path(__file__).parent / "results" / "leaderboard_load.json"
# The admin URL of the PostgreSQL server, as the tests take it.
POSTGRES = os.environ.get("AIGC_TEST_POSTGRES", "postgresql+psycopg://root@127.0.0.1:5432/test")
BOARD_API = "/api/v1/challenges/cartpole/leaderboard?phase=dev"
BOARD_PAGE = "/challenges/cartpole/leaderboard?phase=dev"


def fill(url: str, participants: int, submissions: int) -> None:
    """Participants, their scored submissions, and episodes for each one's best."""
    db = Database(url)
    db.migrate()
    rng = random.Random(0)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    with db.session() as session:
        challenges.seed_builtins(session)
        cartpole = challenges.find(session, "cartpole")
        assert cartpole is not None
        challenge_id = cartpole.id
    with db.engine.begin() as connection:
        connection.execute(
            sa.insert(User),
            [
                {
                    "username": f"p{i:04d}",
                    "password_hash": "!",
                    "role": "participant",
                    "created_at": start,
                }
                for i in range(participants)
            ],
        )
        user_ids = [row[0] for row in connection.execute(sa.select(User.id).order_by(User.id))]
        rows, best = [], {}
        for n in range(submissions):
            user = user_ids[n % participants]
            skill = 50 + 400 * ((n % participants) / participants)
            score = min(500.0, max(8.0, rng.gauss(skill, 40)))
            rows.append(
                {
                    "user_id": user,
                    "challenge_id": challenge_id,
                    "challenge_version": 1,
                    "phase": "dev",
                    "package_sha256": secrets.token_hex(32),
                    "package_name": "agent",
                    "filename": "agent.zip",
                    "size_bytes": 1000,
                    "status": "finished",
                    "attempts": 1,
                    "episodes_done": 100,
                    "episodes_total": 100,
                    "created_at": start + timedelta(minutes=4 * n),
                    "queued_at": start + timedelta(minutes=4 * n),
                    "logs": "",
                }
            )
        ids = connection.execute(sa.insert(Submission).returning(Submission.id), rows).scalars()
        evaluations = []
        for submission_id, row in zip(ids, rows, strict=True):
            score = min(500.0, max(8.0, rng.gauss(60 + (row["user_id"] % participants) * 0.8, 40)))
            half = rng.uniform(2, 30)
            evaluations.append(
                {
                    "submission_id": submission_id,
                    "attempt": 1,
                    "score": score,
                    "ci_low": score - half,
                    "ci_high": score + half,
                    "tie_breaker": half,
                    "metrics": {"mean_return": score},
                    "episodes_requested": 100,
                    "steps": 100,
                    "wall_time": 1.0,
                    "created_at": row["created_at"],
                }
            )
            user = row["user_id"]
            if user not in best or score > best[user][1]:
                best[user] = (submission_id, score)
        connection.execute(sa.insert(Evaluation), evaluations)
        evaluation_ids = dict(
            connection.execute(sa.select(Evaluation.submission_id, Evaluation.id)).all()
        )
        episodes = [
            {
                "evaluation_id": evaluation_ids[sid],
                "index": i,
                "seed": 1000 + i,
                "total_return": rng.gauss(score, 20),
                "length": 100,
                "wall_time": 0.01,
                "terminated": False,
                "truncated": True,
                "success": None,
            }
            for sid, score in best.values()
            for i in range(100)
        ]
        connection.execute(sa.insert(EpisodeRow), episodes)
    db.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wrk(url: str, seconds: int, connections: int) -> dict[str, float]:
    """Run wrk against a URL; return requests/s and latency percentiles in ms."""
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    figures = {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}
    for percentile in ("50", "75", "90", "99"):
        value, unit = re.search(rf"\s{percentile}%\s+([\d.]+)(us|ms|s)", output).groups()
        factor = {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
        figures[f"p{percentile}_ms"] = float(value) * factor
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    figures["errors"] = float(errors.group(1)) if errors else 0.0
    return figures


def cold_and_warm(server: str, url: str, path: str, rounds: int = 5) -> dict[str, float]:
    """Time a request right after the board changed (rebuilt) and right after (cached)."""
    engine = sa.create_engine(url)
    cold, warm = [], []
    for _ in range(rounds):
        with engine.begin() as connection:
            connection.execute(
                sa.update(Challenge)
                .where(Challenge.slug == "cartpole")
                .values(board_version=Challenge.board_version + 1)
            )
        for timings in (cold, warm):
            start = time.perf_counter()
            requests.get(server + path, timeout=60).raise_for_status()
            timings.append((time.perf_counter() - start) * 1000)
    engine.dispose()
    return {"cold_ms": statistics.median(cold), "warm_ms": statistics.median(warm)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--submissions", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk, then run this again")

    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    name = f"aigc_load_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    server_process = None
    try:
        started = time.perf_counter()
        fill(url, args.participants, args.submissions)
        print(f"filled {args.submissions} submissions in {time.perf_counter() - started:.1f} s")
        port = free_port()
        server = f"http://127.0.0.1:{port}"
        with tempfile.TemporaryDirectory() as data:
            env = {
                **os.environ,
                "AIGC_DATA_DIR": data,
                "AIGC_DATABASE_URL": url,
                "AIGC_SANDBOX": "local",
                "AIGC_BASELINES_DIR": "none",
                "PYTHONPATH": str(REPO),
            }
            server_process = subprocess.Popen(
                [sys.executable, "-m", "aigc", "serve", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            deadline = time.monotonic() + 120
            while True:
                try:
                    if requests.get(server + BOARD_API, timeout=30).ok:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start")
                time.sleep(0.5)
            results: dict[str, dict[str, float]] = {}
            for label, path in (("api", BOARD_API), ("page", BOARD_PAGE)):
                if requests.get(server + path, timeout=60).status_code == 404:
                    print(f"{path} is not served: left out")
                    continue
                rows = requests.get(server + BOARD_API, timeout=60).json()["rows"]
                results[label] = {
                    **wrk(server + path, args.seconds, args.connections),
                    **cold_and_warm(server, url, path),
                    "rows": float(len(rows)),
                }
    finally:
        if server_process is not None:
            os.killpg(server_process.pid, signal.SIGTERM)
            server_process.wait(30)
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    print(
        f"\n{args.submissions} submissions from {args.participants} participants in PostgreSQL; "
        f"wrk, 1 thread, {args.connections} connections, {args.seconds} s"
    )
    print(f"{'':10}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'cold ms':>9}{'warm ms':>9}")
    for label, r in results.items():
        print(
            f"{label:<10}{r['requests_per_s']:>9.0f}{r['p50_ms']:>9.1f}{r['p90_ms']:>9.1f}"
            f"{r['p99_ms']:>9.1f}{r['cold_ms']:>9.1f}{r['warm_ms']:>9.1f}"
        )
    write_results(RESULTS, {"benchmark": "leaderboard_load", **vars(args), "results": results})


if __name__ == "__main__":
    main()
