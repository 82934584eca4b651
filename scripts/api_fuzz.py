"""Fuzz the REST API of a live ``aigc serve`` with schemathesis, on SQLite and PostgreSQL.

For each database this starts ``aigc serve`` on 127.0.0.1 (a free port, a fresh data folder;
for PostgreSQL a fresh database, dropped afterwards), makes an organizer account that
submits one working agent (submission 1, which the document's examples name), and runs
``st run`` against ``/api/v1/openapi.json`` with the organizer's token. It fails on any
server error, or any answer whose status, headers, type or body the document does not
declare, and on a 405 without ``Allow``.

    python scripts/api_fuzz.py [--examples N] [--seed N] [--database sqlite|postgresql]

``AIGC_TEST_POSTGRES`` is the PostgreSQL admin URL, as for the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import requests
import sqlalchemy as sa

POSTGRES_ADMIN = os.environ.get(
    "AIGC_TEST_POSTGRES", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "unsupported_method",
    "allow_header_conformance",
]
# Signing out would revoke the token the run signs in with; its own tests cover it.
EXCLUDED_OPERATIONS = ["sign_out"]
ORGANIZER = ("fuzz-organizer", "fuzz-organizer-password")
GOOD_AGENT = Path(__file__).parents[1] / "tests" / "submissions" / "agents" / "good"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def aigc_env(data_dir: Path, database_url: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AIGC_")}
    env.update(
        AIGC_DATA_DIR=str(data_dir),
        AIGC_DATABASE_URL=database_url,
        # No upload the fuzzer makes is a working agent package; the local sandbox starts
        # in no time and keeps the run independent of Docker.
        AIGC_SANDBOX="local",
        AIGC_WORKERS="1",
        AIGC_BASELINES_DIR="none",
    )
    return env


@contextlib.contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A fresh, empty database of this kind."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'aigc.db'}"
        return
    admin = sa.create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"aigc_fuzz_{secrets.token_hex(6)}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def server(env: dict[str, str], folder: Path) -> Iterator[str]:
    """A running ``aigc serve``; its URL. Its output is printed if the run fails."""
    port = free_port()
    log = (folder / "serve.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "aigc", "serve", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise SystemExit(f"aigc serve exited with {process.returncode}:\n{_read(log)}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/api/v1/challenges", timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"aigc serve did not answer within 120 s:\n{_read(log)}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        errors = [line for line in _read(log).splitlines() if "Traceback" in line]
        if errors:
            print(f"aigc serve logged {len(errors)} traceback(s):\n{_read(log)}")
        log.close()


def _read(log: IO[str]) -> str:
    log.seek(0)
    return log.read()


def sign_in(env: dict[str, str], url: str) -> str:
    """Create the organizer with ``aigc admin create-user`` and return an API token."""
    username, password = ORGANIZER
    command = ["admin", "create-user", username, "--organizer", "--password", password]
    made = subprocess.run(
        [sys.executable, "-m", "aigc", *command],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if made.returncode != 0:
        raise SystemExit(f"could not create the organizer:\n{made.stdout}{made.stderr}")
    answer = requests.post(
        f"{url}/api/v1/tokens", json={"username": username, "password": password}, timeout=30
    )
    answer.raise_for_status()
    return str(answer.json()["token"])


def submit_an_agent(url: str, token: str) -> None:
    """Upload one working agent, so submission 1 exists for the fuzzer to reach."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(GOOD_AGENT.iterdir()):
            if path.is_file():
                archive.write(path, path.name)
    answer = requests.post(
        f"{url}/api/v1/submissions",
        data={"challenge": "cartpole", "phase": "dev"},
        files={"file": ("good.zip", buffer.getvalue())},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    if answer.status_code != 201 or answer.json()["id"] != 1:
        raise SystemExit(f"the agent upload was refused: {answer.status_code} {answer.text}")


def fuzz(kind: str, examples: int, seed: int) -> int:
    """Run schemathesis against a fresh server on this kind of database; its exit status."""
    folder = Path(tempfile.mkdtemp(prefix=f"aigc-fuzz-{kind}-"))
    try:
        with database(kind, folder) as url_of_db:
            env = aigc_env(folder / "data", url_of_db)
            with server(env, folder) as url:
                token = sign_in(env, url)
                submit_an_agent(url, token)
                command = [
                    str(Path(sys.executable).with_name("st")),
                    "run",
                    f"{url}/api/v1/openapi.json",
                    "--checks",
                    ",".join(CHECKS),
                    "--header",
                    f"Authorization: Bearer {token}",
                    "--max-examples",
                    str(examples),
                    "--seed",
                    str(seed),
                    "--phases",
                    "examples,coverage,fuzzing",
                    "--generation-database",
                    "none",
                    "--request-timeout",
                    "60",
                    "--no-color",
                ]
                for operation in EXCLUDED_OPERATIONS:
                    command += ["--exclude-operation-id", operation]
                print(f"--- schemathesis against aigc serve on {kind}", flush=True)
                return subprocess.run(command, cwd=folder, stdin=subprocess.DEVNULL).returncode
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="examples per operation")
    parser.add_argument("--seed", type=int, default=1, help="the same seed, the same run")
    parser.add_argument(
        "--database", choices=["sqlite", "postgresql"], action="append", help="default: both"
    )
    args = parser.parse_args()
    failed = [
        kind
        for kind in args.database or ["sqlite", "postgresql"]
        if fuzz(kind, args.examples, args.seed) != 0
    ]
    if failed:
        raise SystemExit(f"schemathesis found problems on {', '.join(failed)}")
    print("schemathesis found no server error and no answer the document does not declare")


if __name__ == "__main__":
    main()
