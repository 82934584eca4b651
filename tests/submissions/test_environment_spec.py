"""The spec names its environment by id, by Gymnasium's module:Env-vN, or by entry point."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aigc.submissions.challenge import SpecError, parse_challenge_yaml

CORRIDOR = Path(__file__).parent / "environments" / "corridor"


def spec(environment: str) -> str:
    return f"""\
id: walk
title: Walk
environment: {environment}
phases:
  - {{id: dev, episodes: 2}}
"""


def test_an_entry_point_in_a_bundle_is_read_and_built_from_its_folder() -> None:
    text = (CORRIDOR / "challenge.yaml").read_text()
    challenge = parse_challenge_yaml(text, bundle=CORRIDOR)
    environment = challenge.environment
    assert environment.in_bundle and environment.entry_point == "corridor:Corridor"
    assert environment.id == "corridor:Corridor"
    assert environment.kwargs == {"length": 8} and environment.max_episode_steps == 50
    env = environment.make(CORRIDOR)
    observation, info = env.reset(seed=3)
    assert set(observation) == {"position", "goal"} and "reached" in info
    env.close()


def test_an_entry_point_without_its_bundle_says_to_make_one() -> None:
    with pytest.raises(SpecError) as caught:
        parse_challenge_yaml(spec("{entry_point: 'corridor:Corridor'}"))
    message = str(caught.value)
    assert "environment.entry_point" in message and "corridor.py" in message
    assert "bundle" in message


def test_a_stored_entry_point_spec_reads_without_its_bundle() -> None:
    challenge = parse_challenge_yaml(
        spec("{entry_point: 'corridor:Corridor'}"), build_environment=False
    )
    assert challenge.environment.in_bundle
    with pytest.raises(SpecError, match="bundle"):
        challenge.environment.make()


def test_an_entry_point_whose_module_is_missing_is_refused(tmp_path: Path) -> None:
    shutil.copy(CORRIDOR / "challenge.yaml", tmp_path)
    with pytest.raises(SpecError, match=r"the bundle has no corridor\.py"):
        parse_challenge_yaml((tmp_path / "challenge.yaml").read_text(), bundle=tmp_path)


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ("{entry_point: corridor}", "is not module:Class"),
        ("{entry_point: '../x:Y'}", "is not module:Class"),
        ("{entry_point: 'a:B', id: CartPole-v1}", "not both"),
        ("{entry_point: 'a:B', kwargs: {when: 2026-01-01}}", "as JSON"),
        ("{id: 'no_such_module:Thing-v0'}", "cannot be imported here"),
        ("{id: 'gymnasium.envs:CartPol-v1'}", "did you mean 'CartPole-v1'"),
    ],
)
def test_bad_environments_are_refused_with_the_fix(environment: str, expected: str) -> None:
    with pytest.raises(SpecError, match=expected):
        parse_challenge_yaml(spec(environment), bundle=CORRIDOR)


def test_gymnasium_module_ids_are_accepted_for_installed_environments() -> None:
    challenge = parse_challenge_yaml(spec("{id: 'gymnasium.envs.classic_control:CartPole-v1'}"))
    env = challenge.environment.make()
    assert env.spec is not None and env.spec.id == "CartPole-v1"
    env.close()


def test_private_marks_a_bundles_code_and_nothing_else() -> None:
    bundled = spec('{entry_point: "corridor:Corridor", private: true}')
    assert parse_challenge_yaml(bundled, bundle=CORRIDOR).environment.private is True
    assert parse_challenge_yaml(spec("{id: CartPole-v1}")).environment.private is False
    with pytest.raises(SpecError, match=r"only an environment of a bundle .* leave private out"):
        parse_challenge_yaml(spec("{id: CartPole-v1, private: true}"))
    with pytest.raises(SpecError, match="expected true or false"):
        parse_challenge_yaml(
            spec('{entry_point: "corridor:Corridor", private: 1}'), bundle=CORRIDOR
        )
