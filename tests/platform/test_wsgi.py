"""The platform under a WSGI server of its own: waitress serving ``aigc.platform.wsgi:app``.

Waitress because the platform depends on it already (``aigc serve`` runs it in process):
the entry is proven with a real server process, no extra package, on each database.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from aigc.platform.statuses import ENDED
from aigc.submissions.challenge import builtin_challenge_ids
from tests.servers import ServerProcess, create_user, platform_env, sign_in, waitress_wsgi
from tests.waiting import wait_for

from .conftest import zip_agent

# Real server processes on free ports: each test takes seconds.
pytestmark = pytest.mark.slow


def test_a_wsgi_server_starts_the_platform_and_serves_it(
    database_url: str, tmp_path: Path, short_tmp: Path
) -> None:
    env = platform_env(tmp_path / "data", database_url, TMPDIR=str(short_tmp))
    server = ServerProcess(env, tmp_path, waitress_wsgi).wait_ready()
    try:
        # Start-up ran in the server's process: the schema migrated, the built-ins loaded.
        assert "Running upgrade" in server.stderr, server.output
        builtins = builtin_challenge_ids()
        assert f"built-in challenges loaded or updated: {', '.join(builtins)}" in server.stderr
        listed = requests.get(server.api("/challenges"), timeout=30).json()["challenges"]
        assert sorted(c["id"] for c in listed) == builtins

        # Without a broker the in-process pool evaluates, inside the WSGI server.
        create_user(env, "pat", "pat-password")
        uploaded = requests.post(
            server.api("/submissions"),
            data={"challenge": "cartpole", "phase": "dev"},
            files={"file": ("good.zip", zip_agent("good"))},
            headers=(pat := sign_in(server, "pat", "pat-password")),
            timeout=60,
        )
        assert uploaded.status_code == 201, uploaded.text
        shown = server.api(f"/submissions/{uploaded.json()['id']}")

        def ended() -> dict | None:
            body = requests.get(shown, headers=pat, timeout=30).json()
            return body if body["status"] in ENDED else None

        result = wait_for(ended, 120, "the submission to be evaluated")
        assert result["status"] == "finished" and result["result"]["score"] > 100, server.output
    finally:
        server.stop()
