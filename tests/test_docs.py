"""The examples the docs show are the files in docs/examples, and they work.

The CleanRL example loads a checkpoint written as CleanRL's ppo.py writes it; the
Stable-Baselines3 example loads a real ``model.save`` zip and must act as
``model.predict(..., deterministic=True)`` does.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import stable_baselines3  # the dev extra carries it
import torch
from torch import nn

from aigc.submissions.challenge import get_challenge
from aigc.submissions.evaluator import evaluate
from aigc.submissions.sandbox import LocalSandbox

DOCS = Path(__file__).parents[1] / "docs"
EXAMPLES = DOCS / "examples"


def python_blocks(markdown: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown.read_text(), flags=re.DOTALL)


@pytest.mark.parametrize("example", ["cleanrl-ppo", "sb3-ppo", "sb3-runtime"])
def test_the_agents_doc_shows_each_example_as_it_is(example):
    assert (EXAMPLES / example / "agent.py").read_text() in python_blocks(DOCS / "agents.md")


class CleanRLAgent(nn.Module):
    """The network of CleanRL's ppo.py (layer_init aside): what its checkpoints hold."""

    def __init__(self, observations: int, actions: int):
        super().__init__()
        self.critic = nn.Sequential(
            nn.Linear(observations, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1)
        )
        self.actor = nn.Sequential(
            nn.Linear(observations, 64),
            nn.Tanh(),
            nn.Linear(64, 64),
            nn.Tanh(),
            nn.Linear(64, actions),
        )


def acts_like(package: Path, reference, observations: np.ndarray) -> None:
    """The package's agent picks the reference's action for every observation."""
    spec = get_challenge("cartpole")
    result = evaluate(package, spec, "dev", sandbox=LocalSandbox(), episodes=5)
    assert result.ok, result.failure
    module_spec = importlib.util.spec_from_file_location("example_agent", package / "agent.py")
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    env = gym.make("CartPole-v1")
    here = os.getcwd()
    os.chdir(package)
    try:
        agent = module.Agent(env.observation_space, env.action_space)
    finally:
        os.chdir(here)
    assert list(agent.act_batch(observations)) == list(reference(observations))


def test_a_cleanrl_checkpoint_is_submitted_as_it_is(tmp_path):
    package = tmp_path / "cleanrl-ppo"
    shutil.copytree(EXAMPLES / "cleanrl-ppo", package)
    torch.manual_seed(0)
    network = CleanRLAgent(4, 2)
    torch.save(network.state_dict(), package / "ppo.cleanrl_model")
    observations = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)

    def greedy(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return network.actor(torch.as_tensor(batch)).argmax(dim=1).numpy()

    acts_like(package, greedy, observations)


@pytest.mark.slow
def test_a_stable_baselines3_model_is_submitted_as_it_is(tmp_path):
    package = tmp_path / "sb3-ppo"
    shutil.copytree(EXAMPLES / "sb3-ppo", package)
    model = stable_baselines3.PPO(
        "MlpPolicy", "CartPole-v1", n_steps=64, batch_size=64, n_epochs=1, seed=0
    )
    model.learn(128)
    model.save(package / "model")  # writes model.zip
    observations = np.random.default_rng(1).normal(size=(64, 4)).astype(np.float32)
    acts_like(package, lambda batch: model.predict(batch, deterministic=True)[0], observations)
