"""The web pages in a real browser: Playwright driving Debian's chromium, headless.

Against an ``aigc serve`` the test starts, an organizer creates a challenge from YAML,
a participant signs up, is stopped by the page before uploading a file that is too big,
uploads an agent package, watches its status change without reloading, and finds it on
the leaderboard. A screenshot of the leaderboard is kept in ``test-artifacts/`` (or
``AIGC_TEST_ARTIFACTS``). No request may leave the server and no console error may occur
(a Content-Security-Policy violation is one).

Without chromium the test is skipped, unless ``AIGC_REQUIRE_BROWSER=1`` (as in CI).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.waiting import wait_for

from .conftest import AGENTS, free_port

pytestmark = pytest.mark.slow
REPO = Path(__file__).parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("AIGC_TEST_ARTIFACTS") or REPO / "test-artifacts")
CHALLENGE = """id: browser-cartpole
title: Browser CartPole
description: |
  Balance the pole for **three** episodes.
environment: {id: CartPole-v1}
phases:
  - {id: dev, episodes: 3, seeds: {first: 0}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real platform: SQLite, the in-process pool, the local sandbox (trusted test agents)."""
    data = tmp_path_factory.mktemp("browser-platform")
    env = {
        **os.environ,
        "AIGC_DATA_DIR": str(data),
        "AIGC_SANDBOX": "local",
        "AIGC_BASELINES_DIR": "none",
        "AIGC_MAX_UPLOAD_BYTES": str(256 * 1024),
        "PYTHONPATH": str(REPO),
    }
    subprocess.run(
        [
            sys.executable,
            "-m",
            "aigc",
            "admin",
            "create-user",
            "orga",
            "--organizer",
            "--password",
            "orga-password",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = open(data / "serve.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "aigc", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        if process.poll() is not None:
            raise AssertionError((data / "serve.log").read_text())
        try:
            return requests.get(url + "/", timeout=2).ok
        except requests.RequestException:
            return False

    wait_for(answering, 60, "aigc serve to answer")
    yield url
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(30)
    log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        message = "chromium is not installed (scripts/setup.sh --browser installs it)"
        if os.environ.get("AIGC_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{message}; AIGC_REQUIRE_BROWSER=1 forbids skipping")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield launched
        launched.close()


class Watched:
    """A page whose requests and console errors are recorded."""

    def __init__(self, browser: object, server: str):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.server = server
        self.foreign: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", self._request)
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _request(self, request: object) -> None:
        url = request.url  # type: ignore[attr-defined]
        if not url.startswith((self.server, "data:")):
            self.foreign.append(url)

    def go(self, path: str) -> None:
        self.page.goto(self.server + path)

    def close(self) -> None:
        assert self.foreign == [], f"requests outside the server: {self.foreign}"
        assert self.errors == [], f"console errors: {self.errors}"
        self.context.close()


def log_in(watched: Watched, username: str, password: str) -> None:
    watched.go("/login")
    watched.page.fill('input[name="username"]', username)
    watched.page.fill('input[name="password"]', password)
    watched.page.click('main form button[type="submit"]')
    watched.page.wait_for_selector(f"text={username}")


def test_organizer_creates_a_challenge_and_a_participant_climbs_its_board(
    browser: object, server: str, tmp_path: Path
) -> None:
    # The organizer creates a challenge from YAML.
    organizer = Watched(browser, server)
    log_in(organizer, "orga", "orga-password")
    organizer.go("/organize/challenges/new")
    organizer.page.fill('textarea[name="spec_yaml"]', CHALLENGE)
    organizer.page.click('main form button[type="submit"]')
    organizer.page.wait_for_selector("h1:has-text('Browser CartPole')")
    assert organizer.page.inner_text("strong") == "three"  # the Markdown was rendered
    organizer.go("/")
    assert "Browser CartPole" in organizer.page.inner_text("main")
    organizer.close()

    # A participant signs up.
    participant = Watched(browser, server)
    page = participant.page
    participant.go("/signup")
    page.fill('input[name="username"]', "pat")
    page.fill('input[name="password"]', "pat-password")
    page.fill('input[name="confirm"]', "pat-password")
    page.click('main form button[type="submit"]')
    page.wait_for_selector("text=pat")

    # A file over the platform's limit is refused by the page, before any upload.
    big = tmp_path / "big.zip"
    big.write_bytes(b"\0" * (300 * 1024))
    participant.go("/submit?challenge=browser-cartpole")
    page.set_input_files('input[name="file"]', str(big))
    page.click('main form[data-upload] button[type="submit"]')
    refusal = page.locator("[data-upload-error]")
    refusal.wait_for()
    assert "more than the" in refusal.inner_text() and "allowed" in refusal.inner_text()
    assert page.url.endswith("/submit?challenge=browser-cartpole")

    # The real package: an agent that balances the pole, taking 10 ms per action.
    package = tmp_path / "steady.zip"
    with zipfile.ZipFile(package, "w") as archive:
        for path in (AGENTS / "steady").iterdir():
            archive.write(path, path.name)
    page.set_input_files('input[name="file"]', str(package))
    assert page.eval_on_selector('select[name="challenge"]', "s => s.value") == "browser-cartpole"
    assert page.eval_on_selector('select[name="phase"]', "s => s.value") == "dev"
    page.click('main form[data-upload] button[type="submit"]')
    page.wait_for_url("**/my/submissions/*")
    submission_id = page.url.rstrip("/").rsplit("/", 1)[1]

    # My submissions follows the evaluation without a reload.
    participant.go("/my/submissions")
    status = page.locator(f'tr[data-id="{submission_id}"] [data-field="status"]')
    assert status.inner_text().strip() in ("queued", "running")
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    status.filter(has_text="finished").wait_for(timeout=120_000)
    assert navigations == [], "the page reloaded instead of updating itself"
    score = page.locator(f'tr[data-id="{submission_id}"] [data-field="score"]').inner_text()
    assert score.startswith("500")

    # The leaderboard shows pat first, with the charts; keep a screenshot to look at.
    participant.go("/challenges/browser-cartpole/leaderboard?phase=dev")
    first = page.locator("table tbody tr").first
    assert "pat" in first.inner_text() and "500" in first.inner_text()
    assert page.locator("svg").count() == 2
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "leaderboard.png"), full_page=True)
    participant.close()
