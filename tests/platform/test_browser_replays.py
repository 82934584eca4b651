"""The submission page's replays and episode table in a real browser, against an
``aigc serve`` with the Docker sandbox: the replays appear when the worker has rendered
them, without a reload, and the table sorts by a column, all under the pages' strict
Content-Security-Policy (no console error); a hidden phase's submission page shows the
participant no episode, seed or replay."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import ServerProcess, platform_env

from .conftest import AGENTS
from .test_browser import ARTIFACTS, Watched, browser  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow


@pytest.fixture
def docker_server(tmp_path: Path, short_tmp: Path, docker_sandbox) -> Iterator[str]:
    """A real ``aigc serve`` on SQLite whose agents run in the Docker sandbox."""
    env = platform_env(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'aigc.db'}",
        TMPDIR=str(short_tmp),
        AIGC_SANDBOX="docker",
    )
    server = ServerProcess(env, tmp_path / "server").wait_ready(180)
    try:
        yield server.url
    finally:
        server.stop()


def test_replays_appear_once_rendered_and_the_episode_table_sorts(
    browser: object,  # noqa: F811
    docker_server: str,
    tmp_path: Path,
) -> None:
    watched = Watched(browser, docker_server)
    page = watched.page
    watched.go("/signup")
    page.fill('input[name="username"]', "replayer")
    page.fill('input[name="password"]', "replayer-password")
    page.fill('input[name="confirm"]', "replayer-password")
    page.click('main form button[type="submit"]')
    page.wait_for_selector("text=replayer")

    package = tmp_path / "good.zip"
    with zipfile.ZipFile(package, "w") as archive:
        for path in (AGENTS / "good").iterdir():
            archive.write(path, path.name)
    watched.go("/submit?challenge=cartpole")
    page.set_input_files('input[name="file"]', str(package))
    page.click('main form[data-upload] button[type="submit"]')
    page.wait_for_url("**/my/submissions/*")
    # The page reloads itself once the evaluation is over; then the replays are sent.
    page.locator("#episodes").wait_for(timeout=180_000)
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    images = page.locator("#replays figure img")
    images.first.wait_for(timeout=120_000)
    page.wait_for_function(
        "() => document.querySelectorAll('figure[data-replay-waiting]').length === 0",
        timeout=120_000,
    )
    assert navigations == [], "the page reloaded instead of showing the replays itself"
    assert images.count() >= 1
    assert page.eval_on_selector("#replays img", "i => i.complete && i.naturalWidth > 0")

    returns = "table.episode-table tbody tr td:nth-child(3)"
    page.click("table.episode-table th:nth-child(3)")
    ascending = [
        float(v) for v in page.eval_on_selector_all(returns, "c => c.map(x => x.dataset.value)")
    ]
    assert ascending == sorted(ascending) and len(ascending) == 100
    page.click("table.episode-table th:nth-child(3)")
    descending = [
        float(v) for v in page.eval_on_selector_all(returns, "c => c.map(x => x.dataset.value)")
    ]
    assert descending == sorted(ascending, reverse=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "submission-replays.png"), full_page=False)

    # The same agent on the hidden phase: its result, and nothing of its episodes.
    watched.go("/submit?challenge=cartpole&phase=test")
    page.set_input_files('input[name="file"]', str(package))
    # Every challenge has a phase "test": the one shown is cartpole's.
    assert page.eval_on_selector('select[name="phase"]', "s => s.value") == "test"
    chosen = page.eval_on_selector(
        'select[name="phase"]', "s => s.selectedOptions[0].parentElement.dataset.challenge"
    )
    assert chosen == "cartpole"
    page.click('main form[data-upload] button[type="submit"]')
    page.wait_for_url("**/my/submissions/*")
    status = page.locator('[data-reload-when-done] [data-field="status"]')
    status.filter(has_text="finished").wait_for(timeout=180_000)
    page.wait_for_load_state("load")  # the page reloads itself once the evaluation is over
    assert "finished" in page.inner_text("h1")
    for hidden in ("#episodes", "#replays", "#samples", "table.episode-table", "figure img"):
        assert page.locator(hidden).count() == 0, hidden
    page.screenshot(path=str(ARTIFACTS / "submission-hidden-phase.png"), full_page=True)
    watched.close()
