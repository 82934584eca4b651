"""Agent packages of language-model policies for the text-generation challenge.

:func:`write_text_agent` writes a :class:`~aigc.envs.textgen.model.CausalLM` as a
self-contained package: ``agent.py``, ``causal_lm.py`` (a copy of
``aigc/envs/textgen/model.py``, which imports nothing but torch), ``config.json`` and
``policy.pt`` (the weights in float16, half the size; the agent computes in float32). The
agent reads the environment's observation (``tokens``, ``length``), runs the model over
``<|endoftext|>`` and the tokens so far, and samples the next token at the package's
temperature with a generator of its own, seeded once, so an evaluation is reproducible.

``python -m aigc.baselines.text_agent --out DIR`` writes the shipped reference model as
such a package: the starting point of RLHF, and the agent to beat on the text challenge.
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import asdict
from pathlib import Path

import torch

from aigc.baselines.common import write_manifest
from aigc.envs.textgen import model as model_module
from aigc.envs.textgen.model import CausalLM

AGENT_SOURCE = '''"""{description}

A causal transformer language model (causal_lm.py) samples each next token at temperature
{temperature}. Written by aigc.baselines.text_agent; needs numpy and torch.
"""

import json

import numpy as np
import torch

from causal_lm import END_OF_TEXT_ID, CausalLM, LMConfig

TEMPERATURE = {temperature}
SEED = {seed}


class Agent:
    def __init__(self, observation_space, action_space):
        torch.set_num_threads(1)
        with open("config.json", encoding="utf-8") as handle:
            config = LMConfig(**json.load(handle))
        self.model = CausalLM(config)
        weights = torch.load("policy.pt", weights_only=True)
        weights["head.weight"] = weights["tok_emb.weight"]  # tied, so stored once
        self.model.load_state_dict({{k: v.float() for k, v in weights.items()}})
        self.model.eval()
        self.generator = torch.Generator().manual_seed(SEED)

    def act(self, observation):
        batch = {{key: np.asarray(value)[None] for key, value in observation.items()}}
        return int(self.act_batch(batch)[0])

    def act_batch(self, observations):
        tokens = np.asarray(observations["tokens"])
        lengths = torch.as_tensor(np.asarray(observations["length"]).reshape(-1))
        longest = int(lengths.max())
        # <|endoftext|> first, as in training; padding after a row's length is never seen by
        # its last real position (the attention is causal).
        ids = torch.full((len(tokens), longest + 1), END_OF_TEXT_ID, dtype=torch.long)
        ids[:, 1:] = torch.as_tensor(tokens[:, :longest], dtype=torch.long)
        with torch.no_grad():
            logits, _ = self.model(ids)
        last = logits[torch.arange(len(ids)), lengths]
        probabilities = torch.softmax(last / TEMPERATURE, dim=-1)
        return torch.multinomial(probabilities, 1, generator=self.generator)[:, 0].numpy()
'''


def write_text_agent(
    model: CausalLM,
    folder: Path,
    *,
    name: str,
    description: str,
    challenge: str = "textgen",
    temperature: float = 1.0,
    seed: int = 0,
) -> None:
    """Write ``model`` as an agent package in ``folder`` that samples at ``temperature``."""
    if temperature <= 0:
        raise ValueError(f"temperature={temperature}: give a positive number")
    write_manifest(
        folder, name=name, challenge=challenge, framework="torch", description=description
    )
    source = AGENT_SOURCE.format(description=description, temperature=temperature, seed=seed)
    (folder / "agent.py").write_text(source, encoding="utf-8")
    shutil.copyfile(model_module.__file__, folder / "causal_lm.py")
    config = asdict(model.config) | {"dropout": 0.0}
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    # The output layer is tied to the token embedding: store the tensor once.
    weights = {k: v.to(torch.float16) for k, v in model.state_dict().items() if k != "head.weight"}
    torch.save(weights, folder / "policy.pt")


def write_reference_package(folder: Path, temperature: float = 1.0) -> None:
    """Write the shipped reference language model as an agent package in ``folder``."""
    from aigc.envs.textgen.lm import load_lm

    write_text_agent(
        load_lm(),
        folder,
        name="reference",
        description="The reference language model, sampled as it was trained (no RLHF).",
        temperature=temperature,
    )


def main(argv: list[str] | None = None) -> None:
    """Write the shipped reference model as an agent package."""
    parser = argparse.ArgumentParser(
        prog="python -m aigc.baselines.text_agent",
        description="Write the shipped reference language model as an agent package.",
    )
    parser.add_argument("--out", type=Path, required=True, help="the agent package folder")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    args = parser.parse_args(argv)
    write_reference_package(args.out, args.temperature)


if __name__ == "__main__":
    main()
