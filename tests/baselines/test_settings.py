"""The settings: documented, parsed from a command line, with per-challenge defaults."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from aigc.baselines import common, ppo
from aigc.dataclass_args import field_docs
from aigc.submissions.challenge import builtin_challenge_ids


@pytest.mark.parametrize("algorithm", common.ALGORITHMS)
def test_every_setting_has_a_line_of_documentation(algorithm):
    settings_class = common.algorithm_module(algorithm).Settings
    docs = field_docs(settings_class)
    assert [f.name for f in dataclasses.fields(settings_class)] == list(docs)


def test_defaults_name_real_settings_and_challenges():
    assert set(common.BASELINES) == set(builtin_challenge_ids())
    for challenge, algorithms in common.BASELINES.items():
        for algorithm in algorithms:
            assert (algorithm, challenge) in common.BARS
            settings = common.default_settings(algorithm, challenge)  # no unknown field
            assert settings.challenge == challenge and settings.seed == 1


def test_command_line_overrides_the_challenge_defaults():
    argv = ["--out", "x", "--challenge", "pendulum", "--hidden-sizes", "32", "32"]
    settings, out = common.parse_settings(ppo.Settings, "ppo", [*argv, "--no-norm-obs"])
    assert out == Path("x")
    assert settings.hidden_sizes == (32, 32) and settings.norm_obs is False
    assert settings.gamma == common.DEFAULTS["ppo"]["pendulum"]["gamma"]  # kept


def test_overrides_by_name():
    settings = common.default_settings("dqn", "cartpole")
    changed = common.apply_overrides(settings, ["learning-rate=1e-3", "hidden_sizes=32,32"])
    assert changed.learning_rate == 1e-3 and changed.hidden_sizes == (32, 32)
    with pytest.raises(ValueError, match="NAME one of"):
        common.apply_overrides(settings, ["learning_rat=1"])
    with pytest.raises(ValueError, match="'anneal_lr=maybe': 'maybe' is not true or false"):
        common.apply_overrides(settings, ["anneal_lr=maybe"])


def test_first_reached():
    rows = [(i * 10, i * 0.1, float(i), 1) for i in range(1, 30)]
    assert common.first_reached(rows, 10.0, window=5) == (120, pytest.approx(1.2))
    assert common.first_reached(rows, 100.0, window=5) is None


def test_training_leaves_subnormal_floats_as_they_were(tmp_path):
    # Training flushes them to zero for speed; the process must get them back afterwards.
    import torch

    from .conftest import train_package

    train_package("ppo", "cartpole", tmp_path, total_steps=64, num_envs=2, num_steps=32)
    assert (torch.tensor([1e-30]) * torch.tensor([1e-10])).item() != 0.0
