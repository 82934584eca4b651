"""Trace one submission through the platform's code: which modules it passes, how many hops.

Runs one submission end to end in this process (a SQLite platform in a temporary folder):
upload through the REST API, a worker's evaluation in the local sandbox, the stored result,
and the leaderboard that shows it. Every call from one ``aigc`` module into another is a
hop; the script prints the modules in the order the submission first reaches them, and
counts the distinct modules and the distinct hops (caller module -> callee module). The
agent runtime runs in its own process and is not traced.

    python scripts/submission_path.py [--list]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import threading
import zipfile
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
AGENT = REPO / "tests" / "submissions" / "agents" / "good"


def package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in sorted(AGENT.iterdir()):
            if path.is_file():
                zf.write(path, path.name)
    return buffer.getvalue()


class Tracer:
    """Records the aigc modules called, and the hops between them, from every thread."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.hops: set[tuple[str, str]] = set()

    def __call__(self, frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call":
            return
        callee = frame.f_globals.get("__name__", "")
        if not callee.startswith("aigc"):
            return
        if callee not in self.order:
            self.order.append(callee)
        caller_frame = frame.f_back
        while caller_frame is not None:  # the nearest caller that is our code
            caller = caller_frame.f_globals.get("__name__", "")
            if caller.startswith("aigc"):
                if caller != callee:
                    self.hops.add((caller, callee))
                break
            caller_frame = caller_frame.f_back


def one_submission(tracer: Tracer) -> float | None:
    from aigc.platform import challenges
    from aigc.platform.app import create_app
    from aigc.platform.db import Database
    from aigc.platform.settings import Settings

    with tempfile.TemporaryDirectory(prefix="aigc-path-") as folder:
        data = Path(folder)
        settings = Settings(
            data_dir=data,
            database_url=f"sqlite:///{data / 'aigc.db'}",
            broker_url=None,
            storage_dir=data / "storage",
            sandbox="local",
            secret_key="submission-path",
        )
        db = Database(settings.database_url)
        db.migrate()
        with db.session() as session:
            challenges.seed_builtins(session)

        class Queue:
            def enqueue(self, submission_id: int) -> None:
                self.sent = submission_id

            def close(self) -> None:
                pass

        queue = Queue()
        app = create_app(settings, queue=queue)
        client = app.test_client()
        from aigc.platform import auth

        with db.session() as session:
            user = auth.create_user(session, "walker", "walker-password", "participant")
            token = auth.issue_token(session, user)
        headers = {"Authorization": f"Bearer {token}"}
        run = _worker_run()
        platform = app.extensions["aigc"]
        sys.setprofile(tracer)
        threading.setprofile(tracer)
        try:
            response = client.post(
                "/api/v1/submissions",
                data={"challenge": "cartpole", "file": (io.BytesIO(package()), "good.zip")},
                headers=headers,
                content_type="multipart/form-data",
            )
            assert response.status_code == 201, response.get_json()
            run(platform, queue.sent)
            board = client.get("/api/v1/challenges/cartpole/leaderboard?phase=dev").get_json()
            shown = client.get(f"/api/v1/submissions/{queue.sent}", headers=headers).get_json()
        finally:
            sys.setprofile(None)
            threading.setprofile(None)  # type: ignore[arg-type]
        assert shown["status"] == "finished", shown
        assert board["rows"], board
        db.dispose()
        return shown["result"]["score"]


def _worker_run() -> Any:
    """What a worker calls for one queued submission."""
    from aigc.platform import worker_run
    from aigc.submissions.sandbox import LocalSandbox

    def run(platform: Any, submission_id: int) -> None:
        worker_run.run_submission(
            platform.db, platform.settings, platform.store, submission_id, LocalSandbox
        )

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print the modules and the hops")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    tracer = Tracer()
    score = one_submission(tracer)
    if args.list:
        print("modules, in the order the submission reaches them:")
        for name in tracer.order:
            print(f"  {name}")
        print("hops:")
        for caller, callee in sorted(tracer.hops):
            print(f"  {caller} -> {callee}")
    print(f"{len(tracer.order)} modules, {len(tracer.hops)} hops (score {score})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
