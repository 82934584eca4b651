"""The trained baselines that ship with the platform: they load, run and are as good as
the README says."""

from __future__ import annotations

import numpy as np
import pytest

from aigc.baselines import common, qlearning
from aigc.platform.settings import SHIPPED_BASELINES

from .conftest import assert_package_runs

SHIPPED = [(c, a) for c, algorithms in common.BASELINES.items() for a in algorithms]


@pytest.mark.parametrize(("challenge", "algorithm"), SHIPPED)
def test_each_shipped_baseline_passes_the_checks_and_evaluates(challenge, algorithm):
    assert_package_runs(SHIPPED_BASELINES / challenge / algorithm, challenge, episodes=2)


@pytest.mark.parametrize(
    ("challenge", "at_least"),
    [("frozenlake", 0.735), ("taxi", 7.9), ("cliffwalking", -13.0)],
)
def test_the_tabular_baselines_are_near_optimal_in_expectation(challenge, at_least):
    q_table = np.load(SHIPPED_BASELINES / challenge / "qlearning" / "q_table.npy")
    expected, optimum = qlearning.expected_scores(challenge, q_table)
    assert expected >= at_least, (expected, optimum)
    assert expected <= optimum + 1e-9


def test_expected_scores_rank_a_bad_policy_below_the_optimum():
    # Always "left" on FrozenLake almost never reaches the goal.
    expected, optimum = qlearning.expected_scores("frozenlake", np.tile([1.0, 0, 0, 0], (16, 1)))
    assert expected < 0.01 and optimum == pytest.approx(0.7442, abs=1e-4)
