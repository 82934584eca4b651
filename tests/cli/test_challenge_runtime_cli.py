"""``aigc challenge create`` and ``show`` for a challenge with runtime packages, against a real
``aigc serve`` with the Docker sandbox; wheels come from a folder (no package index)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_challenge_cli import aigc, ok
from tests.installed_wheels import wheel_of_installed
from tests.servers import ServerProcess, create_user, platform_env

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("docker_sandbox")]

SPEC = """\
id: sb3-show
title: CartPole for Stable-Baselines3
environment: {id: CartPole-v1}
phases: [{id: dev, episodes: 3}]
runtime: {packages: [%s]}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("srv")
    (workdir / "tmp").mkdir()
    wheels = workdir / "wheels"
    wheel_of_installed("stable_baselines3", wheels)
    env = platform_env(
        workdir / "data",
        f"sqlite:///{workdir / 'aigc.db'}",
        TMPDIR=str(workdir / "tmp"),
        AIGC_SANDBOX="docker",
        AIGC_RUNTIME_WHEELS=str(wheels),
    )
    process = ServerProcess(env, workdir).wait_ready(timeout=300)
    try:
        create_user(env, "olga", "olga-password", organizer=True)
        yield process
    finally:
        print(process.stop())


def test_create_builds_the_runtime_and_show_lists_it(server: ServerProcess, tmp_path: Path) -> None:
    config = tmp_path / "olga.json"
    ok(aigc("login", "--server", server.url, "-u", "olga", "--password", "olga-password",
            config=config))  # fmt: skip
    refused = tmp_path / "refused.yaml"
    refused.write_text(SPEC % "no-such-package-aigc")
    done = aigc("challenge", "create", refused, config=config)
    assert done.returncode != 0
    assert "runtime.packages: Could not find a version that satisfies the requirement" in (
        done.stdout + done.stderr
    )
    spec = tmp_path / "sb3.yaml"
    spec.write_text(SPEC % "stable-baselines3")
    created = ok(aigc("challenge", "create", spec, config=config))
    assert "builds the challenge's image" in created and "created challenge sb3-show" in created
    shown = ok(aigc("challenge", "show", "sb3-show", config=config))
    assert "+ stable_baselines3==2.9.2" in shown, shown
    assert "the organizer asked for stable-baselines3" in shown


def test_check_and_evaluate_here_run_in_the_challenge_s_image(tmp_path: Path) -> None:
    import gymnasium as gym
    from stable_baselines3 import PPO

    docs = Path(__file__).parents[2] / "docs" / "examples" / "sb3-runtime"
    agent = tmp_path / "agent"
    agent.mkdir()
    for name in ("agent.py", "aigc.toml"):
        (agent / name).write_text((docs / name).read_text())
    (agent / "requirements.txt").write_text("stable-baselines3\n")
    PPO("MlpPolicy", gym.make("CartPole-v1"), seed=0).save(agent / "model")
    spec = tmp_path / "sb3.yaml"
    spec.write_text(SPEC % "stable-baselines3")
    wheels = tmp_path / "wheels"
    wheel_of_installed("stable_baselines3", wheels)
    config = tmp_path / "none.json"
    here = {"AIGC_RUNTIME_WHEELS": str(wheels)}
    checked = ok(aigc("check", agent, "--challenge", spec, "--sandbox", "docker",
                      config=config, **here))  # fmt: skip
    assert "plus the challenge's runtime packages stable-baselines3" in checked, checked
    assert "The package is ready to submit." in checked
    evaluated = ok(aigc("evaluate", agent, "--challenge", spec, "--sandbox", "docker",
                        config=config, **here))  # fmt: skip
    assert "3 of 3" in evaluated and "Evaluation failed" not in evaluated, evaluated


def test_challenge_check_builds_the_runtime_and_starts_the_environment_in_it(
    tmp_path: Path,
) -> None:
    corridor = Path(__file__).parents[1] / "submissions" / "environments" / "corridor"
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    spec = (corridor / "challenge.yaml").read_text().replace("id: corridor", "id: sb3-check")
    (bundle / "corridor.py").write_text(
        (corridor / "corridor.py").read_text() + "\nimport stable_baselines3  # noqa: E402\n"
    )
    wheels = tmp_path / "wheels"
    wheel_of_installed("stable_baselines3", wheels)
    here = {"AIGC_RUNTIME_WHEELS": str(wheels)}
    config = tmp_path / "none.json"
    (bundle / "challenge.yaml").write_text(spec + "runtime: {packages: [no-such-package-aigc]}\n")
    refused = aigc("challenge", "check", bundle, "--sandbox", "docker", config=config, **here)
    assert refused.returncode == 1
    assert "✗ runtime: sb3-check: runtime.packages: Could not find a version" in refused.stdout
    (bundle / "challenge.yaml").write_text(spec + "runtime: {packages: [stable-baselines3]}\n")
    checked = ok(aigc("challenge", "check", bundle, "--sandbox", "docker", config=config, **here))
    assert "✓ runtime: stable-baselines3 resolve; agents run in aigc-agent-runtime:" in checked
    assert "✓ environment: corridor:Corridor starts in its sandbox" in checked, checked
    assert "The challenge is ready" in checked
