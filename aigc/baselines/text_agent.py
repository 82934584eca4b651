"""Agent packages of language-model policies for the text-generation challenge.

:func:`write_text_agent` writes a :class:`~aigc.envs.textgen.model.CausalLM` as a
self-contained package: ``agent.py`` (a copy of ``agents/language_model_agent.py``),
``causal_lm.py`` (a copy of ``aigc/envs/textgen/model.py``, which imports nothing but torch),
``config.json``, ``settings.json`` (the sampling temperature and seed, which the agent reads)
and ``policy.pt`` (the weights in float16, half the size; the agent computes in float32).
The agent keeps the model's keys and values of the sequences it has read between steps
and across its batch, so each token costs one position of the model.

``python -m aigc.baselines.text_agent --out DIR`` writes the shipped reference model as
such a package: the starting point of RLHF, and the agent to beat on the text challenge.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from aigc.baselines.common import AGENT_PROGRAMS, write_manifest
from aigc.envs.textgen import model as model_module
from aigc.envs.textgen.model import CausalLM

# What the package runs: the agent program, and the model's code beside it.
AGENT_PROGRAM = AGENT_PROGRAMS / "language_model_agent.py"
CAUSAL_LM_SOURCE = Path(model_module.__file__)


def write_text_agent(
    model: CausalLM,
    folder: Path,
    *,
    name: str,
    description: str,
    challenge: str = "textgen",
    temperature: float = 1.0,
    seed: int = 0,
    settings: Mapping[str, Any] | None = None,
) -> None:
    """Write ``model`` as an agent package in ``folder`` that samples at ``temperature``
    with a generator seeded by ``seed``; ``settings.json`` holds ``settings`` (how the model
    was made) with these two."""
    if temperature <= 0:
        raise ValueError(f"temperature={temperature}: give a positive number")
    write_manifest(
        folder, name=name, challenge=challenge, framework="torch", description=description
    )
    shutil.copyfile(AGENT_PROGRAM, folder / "agent.py")
    shutil.copyfile(CAUSAL_LM_SOURCE, folder / "causal_lm.py")
    config = asdict(model.config) | {"dropout": 0.0}
    write_json(folder / "config.json", config)
    write_json(
        folder / "settings.json", {**(settings or {}), "temperature": temperature, "seed": seed}
    )
    # The output layer is tied to the token embedding: store the tensor once.
    weights = {k: v.to(torch.float16) for k, v in model.state_dict().items() if k != "head.weight"}
    torch.save(weights, folder / "policy.pt")


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as indented JSON."""
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


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
