"""The agent programs that packages carry: they stand alone in the sandbox."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from aigc.baselines import common, text_agent
from aigc.platform.settings import SHIPPED_BASELINES
from aigc.submissions.challenge import get_challenge
from aigc.submissions.images import RUNTIME_PACKAGES

PROGRAMS = sorted(common.AGENT_PROGRAMS.glob("*_agent.py"))


def imported_modules(source: Path) -> set[str]:
    """The top-level names of the modules ``source`` imports (absolute imports only)."""
    names = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{source.name}: a package's agent.py is no package"
            names.add(str(node.module).partition(".")[0])
    return names


@pytest.mark.parametrize("source", [*PROGRAMS, text_agent.CAUSAL_LM_SOURCE], ids=lambda p: p.name)
def test_agent_code_imports_only_what_the_sandbox_carries(source):
    # The standard library, the runtime image's packages, and the model beside agent.py.
    allowed = set(sys.stdlib_module_names) | set(RUNTIME_PACKAGES) | {"causal_lm"}
    assert imported_modules(source) - allowed == set()


def test_an_agent_on_spaces_it_cannot_act_in_says_so():
    env = get_challenge("frozenlake").environment.make()
    with pytest.raises(ValueError) as caught:
        common.load_agent(
            SHIPPED_BASELINES / "cartpole" / "ppo", env.observation_space, env.action_space
        )
    assert str(caught.value) == (
        "the PPO agent needs Box observations, not Discrete(16): "
        "evaluate it on the challenge it was trained on"
    )
