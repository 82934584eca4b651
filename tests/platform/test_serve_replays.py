"""A real ``aigc serve`` with the Docker sandbox: a participant's submission page shows its
replays and per-episode table, ``aigc status --episodes`` and ``aigc replay ID`` work
against it, and a hidden phase shows none of it to the participant; a text submission's
page, its board row and ``aigc samples ID`` show its text samples."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from aigc.platform.settings import SHIPPED_BASELINES
from aigc.platform.statuses import ENDED
from tests.servers import ServerProcess, create_user, platform_env, run_aigc, sign_in
from tests.waiting import wait_for

from .conftest import zip_agent, zip_folder

pytestmark = pytest.mark.slow
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def server(
    tmp_path: Path, short_tmp: Path, database_url: str, docker_sandbox
) -> Iterator[ServerProcess]:
    """A real ``aigc serve`` with the Docker sandbox, and alice to sign in."""
    env = platform_env(
        tmp_path / "data", database_url, TMPDIR=str(short_tmp), AIGC_SANDBOX="docker"
    )
    create_user(env, "alice", "alice-password")
    server = ServerProcess(env, tmp_path).wait_ready(180)
    yield server
    server.stop()


def _browser(server: ServerProcess, name: str, password: str) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{server.url}/login", timeout=30).text
    found = TOKEN.search(page)
    assert found, page
    answer = browser.post(
        f"{server.url}/login",
        data={"username": name, "password": password, "csrf_token": found.group(1)},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, answer.text
    return browser


def _finished(server: ServerProcess, headers: dict[str, str], submission_id: int) -> dict:
    def ended() -> dict | None:
        body = requests.get(
            server.api(f"/submissions/{submission_id}"), headers=headers, timeout=30
        )
        data = body.json()
        return data if data["status"] in ENDED else None

    return wait_for(ended, 300, f"submission {submission_id} to end", every=0.5)


def _upload(
    server: ServerProcess,
    headers: dict[str, str],
    phase: str,
    name: str = "good",
    challenge: str = "cartpole",
    package: bytes | None = None,
) -> int:
    answer = requests.post(
        server.api("/submissions"),
        data={"challenge": challenge, "phase": phase},
        files={"file": ("agent.zip", package or zip_agent(name))},
        headers=headers,
        timeout=60,
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def test_a_participant_sees_replays_and_episodes_but_none_of_a_hidden_phase(
    tmp_path: Path, server: ServerProcess
) -> None:
    headers = sign_in(server, "alice", "alice-password")
    public = _upload(server, headers, "dev")
    hidden = _upload(server, headers, "test")
    crashed = _upload(server, headers, "dev", "crash_act")  # raises on its 60th action
    assert _finished(server, headers, public)["status"] == "finished", server.output
    assert _finished(server, headers, hidden)["status"] == "finished", server.output
    assert _finished(server, headers, crashed)["status"] == "failed", server.output
    browser = _browser(server, "alice", "alice-password")
    page = browser.get(f"{server.url}/my/submissions/{public}", timeout=60).text
    assert page.count('<tr id="episode-') == 100 and "data-sortable" in page
    figures = re.findall(r'data-replay-state="([^"]+)"', page)
    assert 1 <= len(figures) <= 3, page

    def rendered(url: str) -> dict | None:
        state = browser.get(server.url + url, timeout=30).json()
        return state if state["state"] in ("ready", "failed") else None

    for url in figures:
        state = wait_for(lambda u=url: rendered(u), 180, "a replay to render", every=0.5)
        assert state["state"] == "ready", state
        gif = browser.get(server.url + state["url"], timeout=30)
        assert gif.status_code == 200 and gif.content[:6] in (b"GIF87a", b"GIF89a")
    again = browser.get(f"{server.url}/my/submissions/{public}", timeout=60).text
    assert "rendering…" not in again and "/replays/" in again
    login_env = _signed_in_cli(server, tmp_path)
    listed = run_aigc("status", public, "--episodes", env=login_env)
    assert listed.returncode == 0, listed.stderr
    assert "seed" in listed.stdout and listed.stdout.count("truncated") >= 1
    # A failure shows on the row of the episode it happened in.
    failed = run_aigc("status", crashed, "--episodes", env=login_env)
    assert failed.returncode == 0, failed.stderr
    row = re.search(
        r"^\W*(\d+)\W+—\W+—\W+(\d+)\W.*failed at step \2: agent_error", failed.stdout, re.M
    )
    assert row is not None, failed.stdout
    assert f"episode {row.group(1)} failed: agent_error: " in failed.stdout
    crashed_page = browser.get(f"{server.url}/my/submissions/{crashed}", timeout=60).text
    # On the row, or where the table would be if no episode finished before it.
    assert f'id="episode-{row.group(1)}"' in crashed_page
    assert f"failed at step {row.group(2)}" in crashed_page
    out = tmp_path / "episode.gif"
    replayed = run_aigc("replay", public, "--episode", "3", "--out", out, env=login_env)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "as recorded" in replayed.stdout and out.stat().st_size > 0
    hidden_page = browser.get(f"{server.url}/my/submissions/{hidden}", timeout=60).text
    assert 'id="episodes"' not in hidden_page and 'id="replays"' not in hidden_page
    for path in ("episodes", "episodes/0", "samples"):
        answer = requests.get(
            server.api(f"/submissions/{hidden}/{path}"), headers=headers, timeout=30
        )
        assert answer.status_code == 403, answer.text
    refused = run_aigc("replay", hidden, "--episode", "0", "--out", out, env=login_env)
    assert refused.returncode == 1 and "hidden phase" in refused.stderr


def _signed_in_cli(server: ServerProcess, tmp_path: Path) -> dict[str, str]:
    """The environment of an ``aigc`` command line signed in to ``server`` as alice."""
    cli_env = {
        **server.env,
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
    }
    done = run_aigc(
        "login", "--server", server.url, "-u", "alice", "--password", "alice-password",
        env=cli_env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return cli_env


def test_a_text_submission_shows_its_samples_on_its_page_its_board_row_and_aigc_samples(
    tmp_path: Path, server: ServerProcess
) -> None:
    headers = sign_in(server, "alice", "alice-password")
    reference = zip_folder(SHIPPED_BASELINES / "textgen" / "reference")
    public = _upload(server, headers, "dev", challenge="textgen", package=reference)
    finished = _finished(server, headers, public)
    assert finished["status"] == "finished", server.output
    body = requests.get(server.api(f"/submissions/{public}/samples"), headers=headers, timeout=30)
    assert body.status_code == 200, body.text
    samples = body.json()["samples"]
    assert set(samples) == {"best", "worst", "random", "disagreement"}
    assert all(samples[group] for group in samples)
    best, worst = samples["best"][0], samples["worst"][0]
    assert best["score"] >= worst["score"]
    assert all(best[k] is not None for k in ("score", "gold", "nll", "gap"))
    assert best["prompt"] and best["completion"]
    gaps = [s["gap"] for s in samples["disagreement"]]
    assert gaps == sorted(gaps, reverse=True)
    browser = _browser(server, "alice", "alice-password")
    page = browser.get(f"{server.url}/my/submissions/{public}", timeout=60).text
    assert 'id="samples"' in page and "samples reward-hacking" in page
    assert page.count('<tr id="episode-') == 300
    board = browser.get(f"{server.url}/challenges/textgen/leaderboard?phase=dev", timeout=60)
    row = board.text.split(f'<tr data-submission="{public}"')[1].split("</tr>")[0]
    assert f'href="/my/submissions/{public}#samples"' in row
    cli_env = _signed_in_cli(server, tmp_path)
    shown = run_aigc("samples", public, env=cli_env)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "Highest reward-model score" in shown.stdout
    assert "Reward model and gold judge disagree most" in shown.stdout
    assert f"episode {best['index']}: score" in shown.stdout
    assert shown.stdout.count("completion:") == sum(len(v) for v in samples.values())
    only = run_aigc("samples", public, "--kind", "worst", env=cli_env)
    assert only.returncode == 0, only.stdout + only.stderr
    assert "Lowest reward-model score" in only.stdout
    assert "Highest reward-model score" not in only.stdout
    # The text challenge's replay is the text itself, re-scored as recorded.
    out = tmp_path / "episode.txt"
    replayed = run_aigc("replay", public, "-e", best["index"], "-o", out, env=cli_env)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "as recorded" in replayed.stdout
    assert best["completion"] in out.read_text()
