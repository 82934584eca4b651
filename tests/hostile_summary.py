"""The hostile-agent suite's one-line summary: how many attacks ran, how many were contained.

Every test marked ``hostile`` is one attack. It counts as tried once it runs (or fails to
set up) and as contained only if every phase passed: a failing teardown, such as a
container left behind, is a failure to contain. Skipped tests are not counted.
"""

from __future__ import annotations

import pytest

_contained: dict[str, bool] = {}  # test id: contained so far


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "hostile" not in report.keywords or report.skipped:
        return
    if report.when == "call" or report.failed:
        _contained[report.nodeid] = _contained.get(report.nodeid, True) and report.passed


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _contained:
        tried, contained = len(_contained), sum(_contained.values())
        terminalreporter.write_line(f"hostile agents: {tried} tried, {contained} contained")
