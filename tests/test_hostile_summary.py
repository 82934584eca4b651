"""The hostile suite's summary line counts the attacks that ran and those that were contained."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ATTACKS = """
import pytest

pytestmark = pytest.mark.hostile

def test_contained():
    pass

@pytest.mark.parametrize("n", [1, 2])
def test_contained_twice(n):
    pass

def test_escaped():
    raise AssertionError("ESCAPED")

@pytest.fixture
def leaves_a_container():
    yield
    raise AssertionError("a container was left behind")

def test_left_something_behind(leaves_a_container):
    pass

def test_not_run():
    pytest.skip("no engine")
"""


@pytest.mark.slow
def test_the_summary_counts_real_outcomes(pytester, monkeypatch):
    # The pytest run below imports the summary from this repository's tests package.
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parents[1]))
    pytester.makeconftest(
        "from tests.hostile_summary import pytest_runtest_logreport, pytest_terminal_summary\n"
        "def pytest_configure(config):\n"
        "    config.addinivalue_line('markers', 'hostile: an attack')\n"
    )
    pytester.makepyfile(test_attacks=ATTACKS, test_other="def test_plain():\n    pass\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=5, failed=1, skipped=1, errors=1)
    # Five attacks ran (the skipped one did not; test_plain is no attack); three passed in
    # every phase.
    result.stdout.fnmatch_lines(["hostile agents: 5 tried, 3 contained"])
