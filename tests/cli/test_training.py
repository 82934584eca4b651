"""``aigc train`` and ``aigc baselines build``, run as a person runs them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from click.testing import CliRunner

from aigc.baselines import common
from aigc.cli import main
from aigc.platform.settings import SHIPPED_BASELINES, baselines_dir_from_env
from aigc.submissions.challenge import get_challenge


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_train_writes_curve_and_a_package_that_checks_and_evaluates(tmp_path):
    folder = tmp_path / "cliff"
    code, output = run(
        "train", "qlearning", "-c", "cliffwalking", "--steps", "20000", "--out", str(folder)
    )
    assert code == 0, output
    assert "Trained qlearning on cliffwalking for 20,000 steps" in output
    assert (folder / "learning_curve.png").read_bytes().startswith(b"\x89PNG")
    assert (folder / "learning_curve.csv").read_text().count("\n") > 10
    assert json.loads((folder / "settings.json").read_text())["total_steps"] == 20_000

    code, output = run("check", str(folder), "--sandbox", "local")
    assert code == 0, output
    code, output = run("evaluate", str(folder), "--sandbox", "local", "--episodes", "5")
    assert code == 0, output
    assert "-13" in output


def test_train_with_settings_changed(tmp_path):
    code, output = run(
        "train", "ppo", "-c", "cartpole", "--steps", "256", "--seed", "3", "--out",
        str(tmp_path), "--set", "num_envs=2", "--set", "hidden-sizes=16,16",
    )  # fmt: skip
    assert code == 0, output
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["seed"] == 3 and settings["num_envs"] == 2
    assert settings["hidden_sizes"] == [16, 16]
    # The package's agent builds its network from settings.json.
    env = get_challenge("cartpole").environment.make()
    agent = common.load_agent(tmp_path, env.observation_space, env.action_space)
    assert [layer.out_features for layer in agent.policy.actor[::2]] == [16, 16, 2]


def test_train_says_what_is_wrong(tmp_path):
    code, output = run("train", "qlearning", "-c", "cartpole", "--out", str(tmp_path / "a"))
    assert code != 0 and "use ppo or dqn" in output
    code, output = run("train", "ppo", "-c", "cartpol", "--out", str(tmp_path / "b"))
    assert code != 0 and "did you mean 'cartpole'" in output
    code, output = run("train", "ppo", "-c", "cartpole", "--out", str(tmp_path), "--set", "lr=1")
    assert code != 0 and "NAME one of" in output
    (tmp_path / "notes.txt").write_text("mine")
    code, output = run("train", "ppo", "-c", "cartpole", "--out", str(tmp_path))
    assert code != 0 and "not empty" in output


def test_baselines_build_writes_where_the_platform_looks(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_BASELINES_DIR", str(tmp_path / "baselines"))
    code, output = run("baselines", "build", "--challenge", "cliffwalking")
    assert code == 0, output
    package = tmp_path / "baselines" / "cliffwalking" / "qlearning"
    assert (package / "aigc.toml").is_file() and (package / "q_table.npy").is_file()
    assert "cliffwalking" in output and "50,000" in output

    # Reproducible: a second build into another folder writes the same table.
    code, output = run("baselines", "build", "-c", "cliffwalking", "--out", str(tmp_path / "b"))
    assert code == 0, output
    again = tmp_path / "b" / "cliffwalking" / "qlearning" / "q_table.npy"
    assert again.read_bytes() == (package / "q_table.npy").read_bytes()


def test_the_platform_seeds_the_shipped_baselines_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("AIGC_BASELINES_DIR", raising=False)
    assert baselines_dir_from_env() == SHIPPED_BASELINES
    monkeypatch.setenv("AIGC_BASELINES_DIR", "none")
    assert baselines_dir_from_env() is None
    code, output = run("baselines", "build", "-c", "taxi")
    assert code != 0 and "--out" in output


def test_every_shipped_baseline_is_the_default_build_of_its_challenge():
    shipped = sorted(p.relative_to(SHIPPED_BASELINES) for p in SHIPPED_BASELINES.glob("*/*"))
    trained = [Path(c, a) for c, algorithms in common.BASELINES.items() for a in algorithms]
    untrained = [Path(c, n) for c, names in common.REFERENCE_PACKAGES.items() for n in names]
    assert shipped == sorted(trained + untrained)
    for folder in trained:
        settings = json.loads((SHIPPED_BASELINES / folder / "settings.json").read_text())
        challenge, algorithm = folder.parts
        assert settings == json.loads(
            json.dumps(dataclasses.asdict(common.default_settings(algorithm, challenge)))
        ), folder


def test_train_ppo_text_writes_the_rlhf_curve(tmp_path):
    small = ["--set", "batch_size=8", "--set", "minibatch_size=4", "--set", "update_epochs=1"]
    code, output = run(
        "train", "ppo-text", "-c", "textgen", "--steps", "50", *small, "--out", str(tmp_path)
    )
    assert code == 0, output
    assert "rlhf_curve.png" in output
    assert (tmp_path / "rlhf_curve.png").is_file() and (tmp_path / "policy.pt").is_file()
    code, output = run("train", "ppo-text", "-c", "cartpole", "--out", str(tmp_path / "c"))
    assert code != 0 and "not a text challenge" in output
