"""The reference language model, sampled as it was trained (no RLHF).

A causal transformer language model (causal_lm.py) samples each next token at temperature
1.0. Written by aigc.baselines.text_agent; needs numpy and torch.
"""

import json

import numpy as np
import torch

from causal_lm import END_OF_TEXT_ID, CausalLM, LMConfig

TEMPERATURE = 1.0
SEED = 0


class Agent:
    def __init__(self, observation_space, action_space):
        torch.set_num_threads(1)
        with open("config.json", encoding="utf-8") as handle:
            config = LMConfig(**json.load(handle))
        self.model = CausalLM(config)
        weights = torch.load("policy.pt", weights_only=True)
        weights["head.weight"] = weights["tok_emb.weight"]  # tied, so stored once
        self.model.load_state_dict({k: v.float() for k, v in weights.items()})
        self.model.eval()
        self.generator = torch.Generator().manual_seed(SEED)

    def act(self, observation):
        batch = {key: np.asarray(value)[None] for key, value in observation.items()}
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
