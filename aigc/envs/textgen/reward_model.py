"""The reward model: a small transformer that scores a completion with one number.

It reads ``<|endoftext|> prompt completion <|endoftext|>`` with a causal transformer (the
trunk of the reference model, :class:`~aigc.envs.textgen.model.Transformer`, whose first
layers it starts from) and maps the final hidden state of the last token to a scalar with
a linear head. ``python -m aigc.envs.textgen.train_reward`` trains it with the
Bradley-Terry loss on preference pairs labelled by the gold judge; :func:`save_reward_model`
writes a plain state dict in float16, which :func:`load_reward_model` reads back with
``torch.load(weights_only=True)``.

:class:`RewardScorer` is the environment's ``"reward_model"`` scorer: a callable
``(prompt, completion) -> float`` with a batched :meth:`RewardScorer.score_batch`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer
from torch import nn

from aigc.envs.textgen.corpus import DATA_DIR
from aigc.envs.textgen.lm import CausalLM, LMConfig, read_checkpoint, write_checkpoint
from aigc.envs.textgen.model import Transformer
from aigc.envs.textgen.tokenizer import (
    END_OF_TEXT_ID,
    load_tokenizer,
)

CHECKPOINT_FORMAT = "aigc-reward-model/1"
DEFAULT_REWARD_MODEL_PATH = DATA_DIR / "reward_model.pt"


class RewardModel(Transformer):
    """A causal transformer with a scalar head on the last token's hidden state."""

    def __init__(self, config: LMConfig) -> None:
        super().__init__(config)
        self.head = nn.Linear(config.n_embd, 1)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    @classmethod
    def from_language_model(cls, lm: CausalLM, n_layer: int, dropout: float = 0.0) -> RewardModel:
        """Return a reward model whose embeddings and blocks start as ``lm``'s first ones."""
        if not 1 <= n_layer <= lm.config.n_layer:
            raise ValueError(
                f"n_layer={n_layer}: the language model has {lm.config.n_layer} blocks to "
                "start from, give 1 to that many"
            )
        config = LMConfig(**{**asdict(lm.config), "n_layer": n_layer, "dropout": dropout})
        model = cls(config)
        kept = {f"blocks.{i}." for i in range(n_layer)}
        state = {
            name: tensor
            for name, tensor in lm.state_dict().items()
            if not name.startswith(("head.", "blocks.")) or name.startswith(tuple(kept))
        }
        missing, unexpected = model.load_state_dict(state, strict=False)
        assert set(missing) == {"head.weight", "head.bias"} and not unexpected
        return model

    def forward(self, idx: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Return the reward of each row of ``idx`` (batch, time), shape (batch,).

        Row i holds ``lengths[i]`` real tokens followed by any padding; causal attention
        keeps the padding from changing the reward.
        """
        time = idx.shape[1]
        if time > self.config.block_size:
            raise ValueError(
                f"a sequence of {time} tokens is longer than block_size="
                f"{self.config.block_size}: encode it with encode_for_reward()"
            )
        hidden, _ = self.hidden_states(idx)
        last = hidden[torch.arange(idx.shape[0], device=idx.device), lengths - 1]
        return self.head(last).squeeze(-1)


def encode_for_reward(
    tokenizer: Tokenizer, prompt: str, completion: str, block_size: int
) -> list[int]:
    """Return the reward model's input for one completion, at most ``block_size`` tokens.

    The input is ``<|endoftext|> prompt completion <|endoftext|>``; a longer one loses the
    start of its prompt.
    """
    ids = [END_OF_TEXT_ID, *tokenizer.encode(prompt).ids, *tokenizer.encode(completion).ids]
    return [*ids[-(block_size - 1) :], END_OF_TEXT_ID]


def pad_batch(sequences: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the sequences right-padded with ``<|endoftext|>`` and their lengths."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    idx = torch.full((len(sequences), int(lengths.max())), END_OF_TEXT_ID, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        idx[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
    return idx, lengths


def save_reward_model(model: RewardModel, path: str | Path, **metadata: Any) -> None:
    """Write ``model`` as a float16 state dict with its config and the tokenizer's sha256."""
    state_dict = {k: v.detach().to(torch.float16) for k, v in model.state_dict().items()}
    write_checkpoint(path, CHECKPOINT_FORMAT, model.config, state_dict, metadata)


def round_to_float16(model: RewardModel) -> RewardModel:
    """Round the weights to what :func:`save_reward_model` stores, so scores match a reload."""
    with torch.no_grad():
        for tensor in model.state_dict().values():
            tensor.copy_(tensor.to(torch.float16).to(tensor.dtype))
    return model


def load_reward_model(path: str | Path = DEFAULT_REWARD_MODEL_PATH) -> RewardModel:
    """Load a model written by :func:`save_reward_model`, in float32 and eval mode."""
    config, state_dict = read_checkpoint(
        path,
        CHECKPOINT_FORMAT,
        "reward model",
        "save_reward_model",
        "aigc.envs.textgen.train_reward",
    )
    model = RewardModel(config)
    model.load_state_dict({k: v.float() for k, v in state_dict.items()})
    return model.eval()


class RewardScorer:
    """Score completions with a reward model: the environment's ``"reward_model"`` scorer.

    ``scorer(prompt, completion)`` returns one float; :meth:`score_batch` scores many
    completions at once, in batches of similar length. Higher is better; the shipped model's
    scores have mean 0 and standard deviation 1 over the completions it was trained on.
    """

    def __init__(
        self, model: RewardModel | str | Path = DEFAULT_REWARD_MODEL_PATH, batch_size: int = 64
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size}: give at least 1")
        self.model = model.eval() if isinstance(model, RewardModel) else load_reward_model(model)
        self.batch_size = batch_size
        self.tokenizer = load_tokenizer()

    def __call__(self, prompt: str, completion: str) -> float:
        """Return the reward of ``completion`` written after ``prompt``."""
        return self.score_batch([prompt], [completion])[0]

    @torch.no_grad()
    def score_batch(self, prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        """Return the reward of each completion after its prompt, in the order given."""
        if len(prompts) != len(completions):
            raise ValueError(
                f"{len(prompts)} prompts and {len(completions)} completions: give one prompt "
                "per completion"
            )
        block_size = self.model.config.block_size
        sequences = [
            encode_for_reward(self.tokenizer, p, c, block_size)
            for p, c in zip(prompts, completions, strict=True)
        ]
        # Sorting by length keeps the padding, and so the wasted work, small.
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        scores = [0.0] * len(sequences)
        for begin in range(0, len(order), self.batch_size):
            rows = order[begin : begin + self.batch_size]
            idx, lengths = pad_batch([sequences[i] for i in rows])
            for row, score in zip(rows, self.model(idx, lengths).tolist(), strict=True):
                scores[row] = float(score)
        return scores


@functools.cache
def shipped_reward_scorer() -> RewardScorer:
    """Return the scorer of the shipped reward model, loaded once per process."""
    return RewardScorer(DEFAULT_REWARD_MODEL_PATH)
