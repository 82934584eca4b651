"""The text agent as it was before it kept a cache: reads every sequence whole at each step.

The "before" side of ``textgen_throughput.py`` and the reference that the cached agent's
tokens are compared with (``tests/baselines/test_text_agent_cache.py``). Written into a
package as agent.py in place of aigc.baselines.text_agent's, beside the model's code
(``causal_lm.py``), its shape (``config.json``), its weights in float16 (``policy.pt``) and
the sampling temperature and seed (``settings.json``); needs numpy and torch. The agent
reads the environment's observation (``tokens``, ``length``), runs the model over
``<|endoftext|>`` and the tokens so far, and samples the next token with a generator of its
own, seeded once, so an evaluation repeats exactly.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from causal_lm import END_OF_TEXT_ID, CausalLM, LMConfig


class Agent:
    """Samples the next token at the package's temperature."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space) -> None:
        torch.set_num_threads(1)
        with open("config.json", encoding="utf-8") as handle:
            config = LMConfig(**json.load(handle))
        with open("settings.json", encoding="utf-8") as handle:
            settings = json.load(handle)
        self.temperature = float(settings["temperature"])
        self.model = CausalLM(config)
        weights = torch.load("policy.pt", weights_only=True)
        weights["head.weight"] = weights["tok_emb.weight"]  # tied, so stored once
        self.model.load_state_dict({k: v.float() for k, v in weights.items()})
        self.model.eval()
        self.generator = torch.Generator().manual_seed(int(settings["seed"]))

    def act(self, observation: dict[str, Any]) -> int:
        """Return the next token after one observation's tokens."""
        batch = {key: np.asarray(value)[None] for key, value in observation.items()}
        return int(self.act_batch(batch)[0])

    def act_batch(self, observations: dict[str, Any]) -> np.ndarray:
        """Return the next token of each row of stacked observations."""
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
        probabilities = torch.softmax(last / self.temperature, dim=-1)
        return torch.multinomial(probabilities, 1, generator=self.generator)[:, 0].numpy()
