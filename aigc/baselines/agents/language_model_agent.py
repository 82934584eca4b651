"""Language-model agent: samples each next token from a causal transformer language model.

Written into its package as agent.py by aigc.baselines.text_agent, beside the model's code
(``causal_lm.py``), its shape (``config.json``), its weights in float16 (``policy.pt``) and
the sampling temperature and seed (``settings.json``); needs numpy and torch. The agent
reads the environment's observation (``tokens``, ``length``), runs the model over
``<|endoftext|>`` and the tokens so far, and samples the next token with a generator of its
own, seeded once, so an evaluation repeats exactly.

Sampling a token draws one exponential number per vocabulary entry (``torch.multinomial``
picks the argmax of the probabilities divided by them): the agent draws the next batch's
numbers on a thread of its own while it waits for that batch, from the same generator in
the same order, and picks the same argmax, so the tokens are those ``torch.multinomial``
samples.

The model's keys and values of every sequence it has read are kept, keyed by the tokens of
that sequence: an observation that continues a kept sequence by one token costs the model
one position, any other (a new episode, a sequence it has dropped) is read whole. A row's
logits do not depend on which way they were computed (up to float rounding), and the
generator draws the same numbers for a batch either way, so the tokens sampled are those
of reading every sequence whole.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from causal_lm import END_OF_TEXT_ID, CausalLM, LMConfig, SlotCache

# A kept sequence that no observation has continued for this many batches belongs to an
# episode that has ended (the evaluator alternates between groups of episodes).
STALE_BATCHES = 4


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
        self.draws = ExponentialDraws(
            torch.Generator().manual_seed(int(settings["seed"])), config.vocab_size
        )
        # <|endoftext|> and the longest observation, or as much as the model reads.
        width = int(np.prod(observation_space["tokens"].shape))  # type: ignore[index]
        self.cache = SlotCache(config, 0, min(config.block_size, width + 1))
        self.kept: dict[bytes, tuple[int, int]] = {}  # tokens read -> (slot, batch last used)
        self.free: list[int] = []
        self.batches = 0

    def act(self, observation: dict[str, Any]) -> int:
        """Return the next token after one observation's tokens."""
        batch = {key: np.asarray(value)[None] for key, value in observation.items()}
        return int(self.act_batch(batch)[0])

    def act_batch(self, observations: dict[str, Any]) -> np.ndarray:
        """Return the next token of each row of stacked observations."""
        tokens = np.asarray(observations["tokens"], dtype=np.int64)
        lengths = np.asarray(observations["length"], dtype=np.int64).reshape(-1)
        if tokens.ndim != 2 or len(tokens) != len(lengths):
            raise ValueError(f"tokens of shape {tokens.shape} for {len(lengths)} lengths")
        if lengths.min() < 0 or lengths.max() > tokens.shape[1]:
            raise ValueError(f"lengths {lengths.tolist()} do not fit tokens {tokens.shape}")
        self.batches += 1
        logits = torch.empty(len(tokens), self.model.config.vocab_size)
        read = [tokens[row, :n].tobytes() for row, n in enumerate(lengths)]
        continued, whole, long = [], [], []
        for row, n in enumerate(lengths):
            if n + 1 > self.cache.length:
                long.append(row)
                continue
            # Popped, so two rows that continue one sequence never share its slot.
            kept = self.kept.pop(tokens[row, : n - 1].tobytes(), None) if n else None
            if kept is None:
                whole.append((row, self._take_slot()))
            else:
                continued.append((row, kept[0]))
        with torch.no_grad():
            if whole:
                rows, slots = zip(*whole, strict=True)
                longest = int(lengths[list(rows)].max())
                # <|endoftext|> first, as in training; the padding after a row's length is
                # never seen by its last real position (the attention is causal).
                ids = torch.full((len(rows), longest + 1), END_OF_TEXT_ID, dtype=torch.long)
                ids[:, 1:] = torch.as_tensor(tokens[list(rows), :longest])
                logits[list(rows)] = self.model.slot_logits(
                    ids,
                    torch.zeros(len(rows), dtype=torch.long),
                    torch.as_tensor(lengths[list(rows)]),
                    self.cache,
                    torch.tensor(slots),
                )
            if continued:
                rows, slots = zip(*continued, strict=True)
                last_token = torch.as_tensor(tokens[list(rows), lengths[list(rows)] - 1])
                logits[list(rows)] = self.model.slot_logits(
                    last_token[:, None],
                    torch.as_tensor(lengths[list(rows)]),
                    torch.zeros(len(rows), dtype=torch.long),
                    self.cache,
                    torch.tensor(slots),
                )
            for row in long:  # longer than the model reads: its last block_size tokens
                ids = torch.as_tensor([END_OF_TEXT_ID, *tokens[row, : lengths[row]]])[None]
                logits[row] = self.model.next_token_logits(ids)[0][0]
        for row, slot in whole + continued:
            self._keep(read[row], slot)
        self._drop_stale()
        return self.sample(torch.softmax(logits / self.temperature, dim=-1))

    def sample(self, probabilities: torch.Tensor) -> np.ndarray:
        """Return a token of each row's distribution: ``torch.multinomial(probabilities, 1,
        generator)``, its draws made ahead."""
        sampled = (probabilities / self.draws.take(len(probabilities))).argmax(dim=-1).numpy()
        self.draws.ahead(len(sampled))  # the next batch is most often as large
        return sampled

    def _take_slot(self) -> int:
        if not self.free:
            slots = self.cache.slots
            self.cache.grow(max(2 * slots, 8))
            self.free = list(range(self.cache.slots - 1, slots - 1, -1))
        return self.free.pop()

    def _keep(self, sequence: bytes, slot: int) -> None:
        replaced = self.kept.pop(sequence, None)
        if replaced is not None:  # two rows read the same tokens: keep one copy
            self.free.append(replaced[0])
        self.kept[sequence] = (slot, self.batches)

    def _drop_stale(self) -> None:
        stale = [s for s, (_, used) in self.kept.items() if used <= self.batches - STALE_BATCHES]
        for sequence in stale:
            self.free.append(self.kept.pop(sequence)[0])


class ExponentialDraws:
    """Exp(1) draws from one generator, handed out in the order they are drawn; the draws
    for a batch are made ahead, on a thread, while the agent waits for it.

    The generator's draws are one stream (a tensor of n rows takes the next n rows of it), so
    the rows handed out are those one ``exponential_`` call per batch would have drawn.
    """

    def __init__(self, generator: torch.Generator, width: int) -> None:
        self.generator = generator
        self.width = width
        self.drawn = torch.empty(0, width)
        self.pending: Future[torch.Tensor] | None = None
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="draws")

    def take(self, rows: int) -> torch.Tensor:
        """Return the next ``rows`` rows of draws."""
        if self.pending is not None:
            self._keep(self.pending.result())
            self.pending = None
        if len(self.drawn) < rows:
            self._keep(self._draw(rows - len(self.drawn)))
        taken, self.drawn = self.drawn[:rows], self.drawn[rows:]
        return taken

    def ahead(self, rows: int) -> None:
        """Start drawing ``rows`` more rows on the thread, unless as many are drawn."""
        if self.pending is None and len(self.drawn) < rows:
            self.pending = self.thread.submit(self._draw, rows - len(self.drawn))

    def _keep(self, more: torch.Tensor) -> None:
        # Most batches use up what was drawn ahead: then no copy is needed.
        self.drawn = torch.cat([self.drawn, more]) if len(self.drawn) else more

    def _draw(self, rows: int) -> torch.Tensor:
        return torch.empty(rows, self.width).exponential_(generator=self.generator)
