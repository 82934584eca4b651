"""The trained baselines that ship with the platform: they load, run and are as good as
docs/baselines.md and benchmarks/README.md say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aigc.baselines import common, qlearning, text_agent
from aigc.platform.settings import SHIPPED_BASELINES

from .conftest import assert_package_runs

SHIPPED = [(c, a) for c, algorithms in common.BASELINES.items() for a in algorithms]
PACKAGES = sorted(p.parent for p in SHIPPED_BASELINES.glob("*/*/aigc.toml"))
TEXT_PACKAGES = ("ppo-text", "reference")


def code_sources(package: Path) -> dict[str, Path]:
    """The source in this tree of each code file a shipped package carries."""
    if package.name in TEXT_PACKAGES:
        return {"agent.py": text_agent.AGENT_PROGRAM, "causal_lm.py": text_agent.CAUSAL_LM_SOURCE}
    return {"agent.py": common.algorithm_module(package.name).AGENT_PROGRAM}


@pytest.mark.parametrize(("challenge", "algorithm"), SHIPPED)
@pytest.mark.slow
def test_each_shipped_baseline_passes_the_checks_and_evaluates(challenge, algorithm):
    assert_package_runs(SHIPPED_BASELINES / challenge / algorithm, challenge, episodes=2)


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_code_of_each_shipped_package_is_a_copy_of_its_source(package):
    sources = code_sources(package)
    assert sorted(p.name for p in package.rglob("*.py")) == sorted(sources)
    for name, source in sources.items():
        assert (package / name).read_bytes() == source.read_bytes(), (
            f"{package / name} differs from {source}: copy it (the weights stay)"
        )


@pytest.mark.parametrize(
    ("challenge", "at_least"),
    [("frozenlake", 0.735), ("taxi", 7.9), ("cliffwalking", -13.0)],
)
@pytest.mark.slow
def test_the_tabular_baselines_are_near_optimal_in_expectation(challenge, at_least):
    q_table = np.load(SHIPPED_BASELINES / challenge / "qlearning" / "q_table.npy")
    expected, optimum = qlearning.expected_scores(challenge, q_table)
    assert expected >= at_least, (expected, optimum)
    assert expected <= optimum + 1e-9


def test_expected_scores_rank_a_bad_policy_below_the_optimum():
    # Always "left" on FrozenLake almost never reaches the goal.
    expected, optimum = qlearning.expected_scores("frozenlake", np.tile([1.0, 0, 0, 0], (16, 1)))
    assert expected < 0.01 and optimum == pytest.approx(0.7442, abs=1e-4)
