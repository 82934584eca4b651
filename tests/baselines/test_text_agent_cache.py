"""The text agent's attention cache: the same tokens as reading every sequence whole.

The reference is the agent as it was before it kept a cache, which the throughput benchmark
keeps as its "before" side (benchmarks/textgen_recomputing_agent.py). Both agents share a
seed, see the same batches and must sample the same token for every row of every batch.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

import aigc.envs  # noqa: F401  (registers the environments)
from aigc.baselines.text_agent import write_reference_package, write_text_agent
from aigc.envs.textgen.model import CausalLM, LMConfig
from aigc.submissions.challenge import get_challenge
from aigc.submissions.evaluator import evaluate
from aigc.submissions.package import load_agent_class, read_manifest
from aigc.submissions.sandbox import LocalSandbox

RECOMPUTING_AGENT = Path(__file__).parents[2] / "benchmarks" / "textgen_recomputing_agent.py"


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The shipped reference model as a package with each agent program."""
    root = tmp_path_factory.mktemp("text-agents")
    folders = {name: root / name for name in ("cached", "recomputing")}
    for folder in folders.values():
        folder.mkdir()
        write_reference_package(folder)
    shutil.copyfile(RECOMPUTING_AGENT, folders["recomputing"] / "agent.py")
    return folders


def load(package: Path, env: gym.Env) -> Any:
    """Make the package's agent as the runtime does, in its own folder."""
    cwd = Path.cwd()
    os.chdir(package)
    try:
        agent_class = load_agent_class(package, read_manifest(package))
        return agent_class(env.observation_space, env.action_space)
    finally:
        os.chdir(cwd)


def count_whole_reads(agent: Any) -> list[int]:
    """Count the rows the agent's model reads from their first position (not continued)."""
    counted = [0]
    slot_logits = agent.model.slot_logits

    def counting(idx: torch.Tensor, starts: torch.Tensor, *rest: Any) -> torch.Tensor:
        counted[0] += int((starts == 0).sum())
        return slot_logits(idx, starts, *rest)

    agent.model.slot_logits = counting
    return counted


def stack(observations: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    return {key: np.stack([o[key] for o in observations]) for key in observations[0]}


def play(envs: list[gym.Env], seeds: list[int], groups: int) -> Iterator[dict[str, np.ndarray]]:
    """Yield batches as the evaluator sends them: ``groups`` groups of the environments take
    turns, and an environment whose episode ends starts the next seed in its place. The
    generator is sent each batch's tokens."""
    pending = list(seeds)
    turns = [[(e, e.reset(seed=pending.pop(0))[0]) for e in envs[i::groups]] for i in range(groups)]
    while any(turns):
        for group in filter(None, turns):
            actions = yield stack([o for _, o in group])
            still = []
            for (env, _), action in zip(group, actions, strict=True):
                observation, _, terminated, _, _ = env.step(int(action))
                if not terminated:
                    still.append((env, observation))
                elif pending:
                    still.append((env, env.reset(seed=pending.pop(0))[0]))
            group[:] = still


def test_the_cached_agent_samples_the_recomputing_agent_s_tokens(
    packages: dict[str, Path],
) -> None:
    envs = [gym.make("aigc/TextGen-v0", scorer="gold", split="heldout") for _ in range(6)]
    cached, recomputing = load(packages["cached"], envs[0]), load(packages["recomputing"], envs[0])
    whole = count_whole_reads(cached)
    episodes, tokens = 24, 0
    batches = play(envs, list(range(100, 100 + episodes)), groups=2)
    batch = next(batches)
    while True:
        actions = cached.act_batch(batch)
        assert actions.tolist() == recomputing.act_batch(batch).tolist()
        tokens += len(actions)
        try:
            batch = batches.send(actions)
        except StopIteration:
            break
    # Each episode's prompt was read whole once; every later token continued its sequence.
    assert whole[0] == episodes and tokens > 10 * episodes
    # What ended episodes left is dropped: the slots stay near the number of episodes alive.
    assert len(cached.kept) <= 2 * len(envs) and cached.cache.slots <= 4 * len(envs)


def test_draws_made_ahead_sample_what_torch_multinomial_samples(packages: dict[str, Path]) -> None:
    env = gym.make("aigc/TextGen-v0", scorer="gold")
    agent = load(packages["cached"], env)
    seed = json.loads((packages["cached"] / "settings.json").read_text())["seed"]
    generator = torch.Generator().manual_seed(seed)
    logits = torch.Generator().manual_seed(7)
    # Smaller and larger than the batch before: drawn ahead, left over and drawn at once.
    for rows in (3, 5, 5, 2, 1, 7, 64, 8):
        probabilities = torch.softmax(3 * torch.randn(rows, 4096, generator=logits), dim=-1)
        expected = torch.multinomial(probabilities, 1, generator=generator)[:, 0]
        assert agent.sample(probabilities).tolist() == expected.tolist()


def test_observations_that_do_not_continue_a_kept_sequence_are_read_whole(
    packages: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[torch.Tensor] = []
    multinomial = torch.multinomial

    def recording(probabilities: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        drawn.append(probabilities)
        return multinomial(probabilities, *args, **kwargs)

    monkeypatch.setattr(torch, "multinomial", recording)
    env = gym.make("aigc/TextGen-v0", scorer="gold")
    cached, recomputing = load(packages["cached"], env), load(packages["recomputing"], env)
    sample = cached.sample

    def recording_sample(probabilities: torch.Tensor) -> np.ndarray:
        drawn.append(probabilities)
        return sample(probabilities)

    cached.sample = recording_sample
    whole = count_whole_reads(cached)
    a, b, c = (env.reset(seed=seed)[0] for seed in (1, 2, 3))

    def grown(observation: dict[str, Any], *tokens: int) -> dict[str, Any]:
        longer = {k: np.array(v) for k, v in observation.items()}
        n = int(longer["length"])
        longer["tokens"][n : n + len(tokens)] = tokens
        longer["length"] = np.int64(n + len(tokens))
        return longer

    def edited(observation: dict[str, Any], at: int, token: int) -> dict[str, Any]:
        changed = {k: np.array(v) for k, v in observation.items()}
        changed["tokens"][at] = token
        return changed

    empty = {**a, "tokens": np.zeros_like(a["tokens"]), "length": np.int64(0)}
    a1 = grown(a, 11)
    batches = [
        [a, b],
        [a1, c, a1],  # b's slot now holds c; a1 twice: one continues a, one is read whole
        [grown(a1, 12), edited(grown(a1, 13), 2, 99), a, grown(c, 5, 6)],
        [empty, grown(grown(a1, 12), 14), b, grown(a1, 13)],
    ]
    for observations in batches:
        batch = stack(observations)
        assert cached.act_batch(batch).tolist() == recomputing.act_batch(batch).tolist()
        # The distributions sampled from, not only the tokens: the same up to float rounding.
        assert torch.allclose(drawn[-2], drawn[-1], rtol=1e-4, atol=1e-7)
    # Read whole: a, b; c, a1; the edited row, a again, c grown by two; empty, b, and a1 + 13
    # (the edited row's sequence differs from it at token 2).
    assert whole[0] == 2 + 2 + 3 + 3
    for bad in ({"tokens": a["tokens"][None], "length": np.array([65])}, {"tokens": a["tokens"]}):
        with pytest.raises(ValueError):
            cached.act_batch({"length": np.array([1]), **bad})


def test_a_sequence_longer_than_the_model_reads_is_cropped_to_its_last_tokens(
    tmp_path: Path,
) -> None:
    torch.manual_seed(0)
    model = CausalLM(LMConfig(block_size=16, n_layer=1, n_head=2, n_embd=32)).eval()
    write_text_agent(model, tmp_path, name="short-sighted", description="reads 16 tokens")
    env = gym.make("aigc/TextGen-v0", scorer="gold")
    agent = load(tmp_path, env)
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 4096, (2, 64))
    lengths = np.array([40, 7])
    sampled = agent.act_batch({"tokens": tokens, "length": lengths})
    sequences = [torch.tensor([0, *tokens[0, :40]]), torch.tensor([0, *tokens[1, :7]])]
    logits = torch.stack([model.next_token_logits(s[None])[0][0] for s in sequences])
    generator = torch.Generator().manual_seed(0)
    expected = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)[:, 0]
    assert sampled.tolist() == expected.tolist()


def test_through_the_evaluator_both_agents_play_the_same_episodes(
    packages: dict[str, Path],
) -> None:
    challenge = get_challenge("textgen")
    results = [
        evaluate(packages[name], challenge, "dev", sandbox=LocalSandbox(), episodes=10, parallel=4)
        for name in ("cached", "recomputing")
    ]
    assert all(r.failure is None and len(r.episodes) == 10 for r in results)
    played = [sorted((e.index, e.actions, e.total_return) for e in r.episodes) for r in results]
    assert played[0] == played[1]
