"""`aigc check`: the named checks run in order and stop at the first failure, whose message
is one line. Checks that reach the agent run it through the real runtime in a child process."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aigc.submissions.checks import CHECK_EPISODES, CheckResult, check_package
from aigc.submissions.package import write_starter_package

from .conftest import agent

ALL_CHECKS = ["manifest", "entry point", "challenge", "phase", "agent starts", "actions"]


@pytest.fixture
def starter(tmp_path) -> Path:
    folder = tmp_path / "my-agent"
    write_starter_package(folder, "cartpole", "Box(4)", "Discrete(2)")
    return folder


def write_agent(folder: Path, code: str, manifest_extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "aigc.toml").write_text(
        f'name = "test-agent"\nentry_point = "agent:Agent"\n{manifest_extra}', encoding="utf-8"
    )
    (folder / "agent.py").write_text(code, encoding="utf-8")
    return folder


def write_challenge(path: Path, **changes: object) -> Path:
    spec: dict[str, object] = {
        "id": "tiny",
        "title": "Tiny CartPole",
        "environment": {"id": "CartPole-v1"},
        "phases": [{"id": "dev", "episodes": 5, "seeds": {"first": 0}}],
        **changes,
    }
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def failed_at(report: list[CheckResult], name: str) -> str:
    """Assert every check before ``name`` passed and ``name`` failed last; return its message."""
    names = [item.name for item in report]
    assert names == ALL_CHECKS[: ALL_CHECKS.index(name) + 1], report
    assert all(item.ok for item in report[:-1]), report
    assert not report[-1].ok
    message = report[-1].message
    assert message and "\n" not in message, f"message is not one line: {message!r}"
    return message


def test_starter_package_passes_every_check(starter):
    report = check_package(starter)
    assert [item.name for item in report] == ALL_CHECKS
    assert all(item.ok for item in report), report
    messages = {item.name: item.message for item in report}
    assert messages["manifest"] == "my-agent, entry point agent:Agent"
    assert messages["entry point"] == "agent.py defines Agent"
    assert messages["challenge"] == "cartpole (CartPole-v1)"
    assert messages["phase"] == "dev (public seeds)"
    assert messages["actions"].startswith(f"{CHECK_EPISODES} episodes, ")
    assert all("\n" not in item.message for item in report)


def test_missing_manifest_fails_first(tmp_path):
    message = failed_at(check_package(tmp_path), "manifest")
    assert "no aigc.toml" in message and "aigc init-agent" in message


def test_invalid_manifest_fails_first(tmp_path):
    (tmp_path / "aigc.toml").write_text('name = "a"\nentrypoint = "agent:Agent"\n')
    assert "did you mean 'entry_point'?" in failed_at(check_package(tmp_path), "manifest")


def test_missing_entry_module_fails_at_entry_point(starter):
    (starter / "agent.py").rename(starter / "policy.py")
    message = failed_at(check_package(starter), "entry point")
    assert "entry point module 'agent' not found" in message
    assert "create agent.py or fix entry_point in aigc.toml" in message


def test_no_challenge_anywhere_mentions_the_option(tmp_path):
    folder = write_agent(
        tmp_path / "pkg", "class Agent:\n    def act(self, obs):\n        return 0\n"
    )
    message = failed_at(check_package(folder), "challenge")
    assert "--challenge" in message and 'challenge = "ID"' in message


def test_unknown_challenge_suggests_the_closest(starter):
    message = failed_at(check_package(starter, "cartpol"), "challenge")
    assert "unknown challenge 'cartpol'" in message and "did you mean 'cartpole'?" in message


def test_challenge_option_overrides_the_manifest(starter):
    report = check_package(starter, "acrobot")
    assert all(item.ok for item in report), report
    assert report[2].message == "acrobot (Acrobot-v1)"


def test_challenge_option_that_is_unknown_is_not_replaced_by_the_manifest(starter):
    failed_at(check_package(starter, "no-such-challenge"), "challenge")


def test_challenge_yaml_path_is_accepted(starter, tmp_path):
    report = check_package(starter, str(write_challenge(tmp_path / "tiny.yaml")))
    assert all(item.ok for item in report), report
    assert report[2].message == "tiny (CartPole-v1)"


def test_challenge_without_a_public_phase_fails_at_phase(starter, tmp_path):
    path = write_challenge(
        tmp_path / "hidden.yaml",
        phases=[{"id": "test", "visibility": "hidden", "episodes": 5, "seeds": "secret"}],
    )
    message = failed_at(check_package(starter, str(path)), "phase")
    assert "has no phase with public seeds" in message


def test_agent_that_cannot_be_built_fails_at_agent_starts():
    message = failed_at(check_package(agent("crash_init"), "cartpole"), "agent starts")
    assert "ValueError in __init__ (agent.py, line 6): weights.npy is missing" in message


def test_out_of_range_action_fails_at_actions():
    message = failed_at(check_package(agent("out_of_range"), "cartpole"), "actions")
    assert "action 5 is outside Discrete(2)" in message


def test_agent_that_raises_in_act_fails_at_actions(tmp_path):
    code = (
        "class Agent:\n"
        "    def __init__(self, observation_space, action_space):\n"
        "        pass\n"
        "\n"
        "    def act(self, observation):\n"
        "        return {}['missing']\n"
    )
    folder = write_agent(tmp_path / "pkg", code, 'challenge = "cartpole"\n')
    message = failed_at(check_package(folder), "actions")
    assert "KeyError in act (agent.py, line 6)" in message


def test_public_phase_with_fewer_seeds_than_the_check_uses(starter, tmp_path):
    path = write_challenge(
        tmp_path / "one.yaml", phases=[{"id": "dev", "episodes": 1, "seeds": [7]}]
    )
    report = check_package(starter, str(path))
    assert all(item.ok for item in report), report


def test_environment_kwargs_the_environment_refuses_become_a_failed_check(starter, tmp_path):
    path = write_challenge(
        tmp_path / "kw.yaml", environment={"id": "CartPole-v1", "kwargs": {"nope": 1}}
    )
    report = check_package(starter, str(path))
    assert not report[-1].ok and "nope" in report[-1].message


@pytest.mark.parametrize(
    "name", ["requirements.txt", "pyproject.toml", "setup.py", "environment.yml"]
)
def test_files_that_install_packages_are_named_as_ignored_and_the_runtime_listed(starter, name):
    (starter / name).write_text("stable-baselines3==2.9.2\n", encoding="utf-8")
    report = check_package(starter)
    assert [item.name for item in report] == [*ALL_CHECKS[:2], "packages", *ALL_CHECKS[2:]]
    assert all(item.ok for item in report), report
    (warning,) = [item for item in report if item.warning]
    assert warning.message.startswith(f"{name} ignored: this challenge's runtime holds numpy ")
    assert "gymnasium" in warning.message and "torch" in warning.message
    assert warning.message.endswith("ask the organizer or vendor pure-Python code")


def test_a_package_without_install_files_gets_no_warning(starter):
    assert not any(item.warning for item in check_package(starter))
