"""The web pages in a real browser: Playwright driving Debian's chromium, headless.

Against an ``aigc serve`` the test starts, an organizer creates a challenge from YAML,
a participant signs up, is stopped by the page before uploading a file that is too big,
uploads an agent package, watches its status change without reloading, and finds it on
the leaderboard. Then the pages people compare, at a desktop's and a phone's width: a
text board, its charts, a FrozenLake board, a failed submission, a hidden board, the
organizer's list. Screenshots are kept in ``test-artifacts/`` (or
``AIGC_TEST_ARTIFACTS``). No request may leave the server and no console error may occur
(a Content-Security-Policy violation is one).

Without chromium the test is skipped, unless ``AIGC_REQUIRE_BROWSER=1`` (as in CI).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from aigc.platform.settings import Settings
from aigc.platform.statuses import ACTIVE
from tests.waiting import wait_for

from .conftest import AGENTS, free_port
from .page_data import FAILED_OUTPUT, FAILED_PASSWORD, FAILED_USER, seed_pages

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


pages: dict[str, int] = {}  # what seed_pages made: the failed submission's id


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
    with pytest.MonkeyPatch.context() as patch:  # the pages' data, through the platform's code
        for name in ("AIGC_DATA_DIR", "AIGC_SANDBOX", "AIGC_BASELINES_DIR"):
            patch.setenv(name, env[name])
        pages["failed"] = seed_pages(Settings.from_env(), data / "baselines")
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

    def __init__(self, browser: object, server: str, width: int = 1280, height: int = 900):
        self.context = browser.new_context(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
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

    def go(self, path: str) -> int:
        response = self.page.goto(self.server + path)
        return response.status if response is not None else 0

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
    assert status.inner_text().strip() in ACTIVE
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
    assert page.locator("svg:visible").count() == 2  # each drawn twice: wide and narrow
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "leaderboard.png"), full_page=True)
    participant.close()


# Facts measured in the page: what the visible charts draw, and how big their text is.
VISIBLE_CHARTS = """() => [...document.querySelectorAll('figure.chart svg')]
  .filter(svg => svg.getBoundingClientRect().width > 0)
  .map(svg => {
    const scale = svg.getScreenCTM().a;
    return {
      title: svg.querySelector('title').textContent,
      texts: [...svg.querySelectorAll('text')].map(t => ({
        text: t.textContent,
        anchor: t.getAttribute('text-anchor'),
        y: parseFloat(t.getAttribute('y')),
        px: parseFloat(getComputedStyle(t).fontSize) * scale,
      })),
      dashes: [...svg.querySelectorAll('path')].map(p => p.getAttribute('stroke-dasharray') || ''),
      bars: [...svg.querySelectorAll('rect')].filter(r => r.querySelector('title'))
        .map(r => parseFloat(r.getAttribute('y'))),
    };
  })"""


NUMBER = re.compile(r"-?\d+(\.\d+)?")


def test_organizer_creates_a_challenge_from_a_bundle_on_the_page(
    browser: object, server: str, tmp_path: Path
) -> None:
    corridor = REPO / "tests" / "submissions" / "environments" / "corridor"
    spec = (corridor / "challenge.yaml").read_text()
    spec = spec.replace("id: corridor", "id: browser-corridor")
    spec = spec.replace("title: Walk the corridor", "title: Browser corridor")
    archive = tmp_path / "corridor.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("challenge.yaml", spec)
        zf.write(corridor / "corridor.py", "corridor.py")
    organizer = Watched(browser, server)
    log_in(organizer, "orga", "orga-password")
    organizer.go("/organize/challenges/new")
    organizer.page.set_input_files('input[name="bundle_file"]', str(archive))
    organizer.page.click('main form button[type="submit"]')
    organizer.page.wait_for_selector("h1:has-text('Browser corridor')")
    assert "corridor:Corridor" in organizer.page.inner_text("main")
    organizer.close()


def fits(watched: Watched, width: int) -> None:
    scroll = watched.page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{watched.page.url}: {scroll} px wide on a {width} px screen"


def numbers(texts: list[dict]) -> list[float]:
    return [float(t["text"]) for t in texts if NUMBER.fullmatch(t["text"])]


@pytest.mark.parametrize("width, height", [(1280, 900), (390, 844)])
def test_the_pages_people_compare_read_at_both_widths(
    browser: object, server: str, width: int, height: int
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def shot(watched: Watched, name: str) -> None:
        watched.page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)

    # The text board: on the screen, each metric titled with its better way.
    visitor = Watched(browser, server, width, height)
    page = visitor.page
    assert visitor.go("/challenges/textgen/leaderboard?phase=dev") == 200
    fits(visitor, width)
    headings = [h.strip() for h in page.locator("table.board thead th").all_inner_texts()]
    assert "Gold\xa0judge\xa0↑" in [h.replace(" ", "\xa0") for h in headings]
    assert any(
        h.replace("\n", " ").startswith("NLL per token") and h.endswith("↓") for h in headings
    )
    assert not any("mean_" in h for h in headings)
    if width >= 1280:  # every column on a desktop screen, none behind a sideways scroll
        assert page.evaluate(
            "(s => s.scrollWidth <= s.clientWidth)(document.querySelector('.scroll'))"
        )
    charts = page.evaluate(VISIBLE_CHARTS)
    assert len(charts) == 2
    for chart in charts:
        smallest = min(t["px"] for t in chart["texts"])
        assert smallest >= 10, f"{chart['title']}: text {smallest:.1f} px tall at {width} px"
    progress, returns = charts
    times = [t["text"] for t in progress["texts"] if t["text"].startswith("2026")]
    assert len(times) == len(set(times)) >= 1, times  # all entries came within a minute
    assert len(progress["dashes"]) == len(set(progress["dashes"])) == 5  # the baselines' too
    ticks = [n for t in returns["texts"] if t["anchor"] == "middle" for n in numbers([t])]
    assert len(ticks) >= 3 and all(round(tick, 2) == tick for tick in ticks), ticks
    [mean] = [t for t in returns["texts"] if t["text"].startswith("mean ")]
    assert mean["y"] < min(returns["bars"])  # above the bars, not on one
    shot(visitor, "text-board")

    # A rate's axis ends at 1.
    assert visitor.go("/challenges/frozenlake/leaderboard?phase=dev") == 200
    [lake, _] = page.evaluate(VISIBLE_CHARTS)
    rates = numbers([t for t in lake["texts"] if t["anchor"] == "end"])
    assert rates and max(rates) <= 1.0, rates
    shot(visitor, "rate-board")

    # A hidden board is a page like any other that says why it shows nothing.
    assert visitor.go("/challenges/textgen/leaderboard?phase=test") == 200
    assert "hidden until the organizers reveal it" in page.inner_text("main")
    fits(visitor, width)
    shot(visitor, "hidden-board")

    # The baselines account is no participant: the four who entered textgen are counted.
    assert visitor.go("/challenges/textgen") == 200
    assert "4 participants" in page.inner_text("main")
    assert visitor.go("/challenges/taxi") == 200
    assert "0 participants" in page.inner_text("main")
    visitor.close()

    # A failed submission: why first, no None, the output in order with its streams.
    failed = Watched(browser, server, width, height)
    log_in(failed, FAILED_USER, FAILED_PASSWORD)
    assert failed.go(f"/my/submissions/{pages['failed']}") == 200
    fits(failed, width)
    result = failed.page.locator("section.box", has=failed.page.locator("h2", has_text="Result"))
    assert "None" not in result.inner_text()
    assert "Failed with agent_error" in result.locator(".result-failure").inner_text()
    assert failed.page.locator("#failure").is_visible()
    lines = failed.page.locator("pre.logs .line")
    shown = [
        (line.locator(".stream").inner_text(), line.evaluate("l => l.lastChild.textContent"))
        for line in lines.all()
    ]
    assert shown == FAILED_OUTPUT
    shot(failed, "failed-submission")
    failed.close()

    # The organizer's list: as wide as the header; status and actions on the screen.
    organizer = Watched(browser, server, width, height)
    log_in(organizer, "orga", "orga-password")
    assert organizer.go("/organize/submissions") == 200
    fits(organizer, width)
    main, nav = (organizer.page.locator(s).bounding_box() for s in ("main", ".nav"))
    assert main is not None and nav is not None
    assert main["x"] >= nav["x"] - 1 and main["x"] + main["width"] <= nav["x"] + nav["width"] + 1
    for field in ('[data-field="status"]', "td.row-actions"):
        cells = organizer.page.locator(f"table.submissions tbody {field}")
        assert cells.count() >= 9
        for box in (cells.nth(i).bounding_box() for i in range(cells.count())):
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, field
    shot(organizer, "organize-submissions")
    organizer.close()
