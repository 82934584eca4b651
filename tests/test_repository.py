"""The repository explains itself: a short README that points into docs/, and benchmark
figures that say which commit they were measured at."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
README_LINES = 150  # what it is, the two commands, five minutes as a participant, where next
DOCS = ("architecture.md", "challenges.md", "operating.md", "agents.md")
RESULTS = sorted((ROOT / "benchmarks" / "results").glob("*.json"))


def test_the_readme_is_short_and_points_at_each_doc() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_LINES
    for name in DOCS:
        assert (ROOT / "docs" / name).is_file(), name
        assert f"docs/{name}" in readme, f"the README does not point at docs/{name}"


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.name)
def test_each_results_file_records_the_commit_it_was_measured_at(path: Path) -> None:
    measured = json.loads(path.read_text(encoding="utf-8"))["measured_at"]
    assert re.fullmatch(r"[0-9a-f]{40}", measured["commit"]), measured


def test_there_are_results_files() -> None:
    assert len(RESULTS) >= 1
