"""The reference language model: the reference policy and the fluency judge.

The model itself, :class:`~aigc.envs.textgen.model.CausalLM`, is in ``model.py``.
``python -m aigc.envs.textgen.train_lm`` trains it on the corpus; :func:`save_lm` writes a
plain state dict with its config, which :func:`load_lm` reads back with
``torch.load(weights_only=True)`` (no pickled code runs). Sequences start with
``<|endoftext|>``, as in training, where it separates the passages.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from aigc.envs.textgen.corpus import DATA_DIR
from aigc.envs.textgen.model import Block, CausalLM, KeyValues, LMConfig
from aigc.envs.textgen.tokenizer import END_OF_TEXT_ID, TOKENIZER_PATH, tokenizer_sha256

__all__ = [
    "Block",
    "CausalLM",
    "KeyValues",
    "LMConfig",
    "ReferenceLM",
    "load_lm",
    "read_checkpoint",
    "save_lm",
    "shipped_reference_lm",
    "write_checkpoint",
]

CHECKPOINT_FORMAT = "aigc-causal-lm/1"
DEFAULT_LM_PATH = DATA_DIR / "reference_lm.pt"
SOURCE_ROOT = DATA_DIR.resolve().parents[3]  # the folder that holds aigc/


def portable(value: Any) -> Any:
    """``value`` with every absolute path made relative to the source tree (or cut to its
    file name outside it), so checkpoints record no machine's folders."""
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(portable(v) for v in value)
    if isinstance(value, str | Path) and Path(value).is_absolute():
        try:
            return str(Path(value).resolve().relative_to(SOURCE_ROOT))
        except ValueError:
            return Path(value).name
    return value


def write_checkpoint(
    path: str | Path, fmt: str, config: LMConfig, state_dict: dict, metadata: dict[str, Any]
) -> None:
    """Write a model as a state dict with its format, config and the tokenizer's sha256
    (``metadata``, e.g. how it was trained, with paths made :func:`portable`)."""
    checkpoint = {
        "format": fmt,
        "config": asdict(config),
        "tokenizer_sha256": tokenizer_sha256(TOKENIZER_PATH),
        "state_dict": state_dict,
        "metadata": portable(metadata),
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)


def read_checkpoint(
    path: str | Path, fmt: str, what: str, saver: str, trainer: str
) -> tuple[LMConfig, dict[str, torch.Tensor]]:
    """Read what :func:`write_checkpoint` wrote (no pickled code runs): its config and state
    dict. ``what``, ``saver`` and ``trainer`` name the model, its save function and the module
    that trains it, for the errors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: train it with `python -m {trainer}`")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != fmt:
        raise ValueError(f"{path} is not an AIGC {what}: save it with {saver}()")
    if checkpoint["tokenizer_sha256"] != tokenizer_sha256(TOKENIZER_PATH):
        raise ValueError(
            f"{path} was trained with another tokenizer: retrain it with `python -m {trainer}`"
        )
    names = {f.name for f in fields(LMConfig)}
    config = LMConfig(**{k: v for k, v in checkpoint["config"].items() if k in names})
    return config, checkpoint["state_dict"]


def save_lm(model: CausalLM, path: str | Path, **metadata: Any) -> None:
    """Write ``model`` as a state dict with its config and the tokenizer's sha256."""
    write_checkpoint(path, CHECKPOINT_FORMAT, model.config, model.state_dict(), metadata)


def load_lm(path: str | Path = DEFAULT_LM_PATH) -> CausalLM:
    """Load a model written by :func:`save_lm`, in eval mode on the CPU."""
    config, state_dict = read_checkpoint(
        path, CHECKPOINT_FORMAT, "language model", "save_lm", "aigc.envs.textgen.train_lm"
    )
    model = CausalLM(config)
    model.load_state_dict(state_dict)
    return model.eval()


class ReferenceLM:
    """Per-token negative log-likelihood of a completion under a fixed language model.

    ``ReferenceLM(path)(prompt_ids, completion_ids)`` returns the mean NLL, in nats, of the
    completion's tokens given ``<|endoftext|>`` and the prompt; lower is more fluent.
    """

    def __init__(self, model: CausalLM | str | Path = DEFAULT_LM_PATH) -> None:
        self.model = model.eval() if isinstance(model, CausalLM) else load_lm(model)
        self.block_size = self.model.config.block_size

    @torch.no_grad()
    def __call__(self, prompt_ids: Sequence[int], completion_ids: Sequence[int]) -> float:
        """Return the mean NLL of ``completion_ids`` after ``prompt_ids``, in nats per token."""
        return self.nll_batch([prompt_ids], [completion_ids])[0]

    @torch.no_grad()
    def nll_batch(
        self,
        prompts_ids: Sequence[Sequence[int]],
        completions_ids: Sequence[Sequence[int]],
        batch_size: int = 64,
    ) -> list[float]:
        """Return the mean NLL of each completion after its prompt, in nats per token, in
        batches of up to ``batch_size`` pairs of similar length."""
        if len(prompts_ids) != len(completions_ids):
            raise ValueError(
                f"{len(prompts_ids)} prompts and {len(completions_ids)} completions: give one "
                "prompt per completion"
            )
        sequences = []
        for prompt, completion in zip(prompts_ids, completions_ids, strict=True):
            if not completion:
                raise ValueError("the completion is empty: the NLL of no tokens is undefined")
            if len(prompt) + len(completion) > self.block_size:
                raise ValueError(
                    f"prompt and completion have {len(prompt) + len(completion)} tokens, more "
                    f"than the reference model's block_size={self.block_size}: shorten "
                    "max_new_tokens or the prompt"
                )
            sequences.append([END_OF_TEXT_ID, *prompt, *completion])
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        nlls = [0.0] * len(sequences)
        for begin in range(0, len(order), batch_size):
            rows = order[begin : begin + batch_size]
            longest = max(len(sequences[i]) for i in rows)
            # Right padding, no target: causal attention keeps it from the real tokens.
            idx = torch.full((len(rows), longest), END_OF_TEXT_ID, dtype=torch.long)
            targets = torch.full((len(rows), longest - 1), -100, dtype=torch.long)
            for line, i in enumerate(rows):
                ids = torch.tensor(sequences[i])
                idx[line, : len(ids)] = ids
                start = len(prompts_ids[i])
                targets[line, start : len(ids) - 1] = ids[start + 1 :]
            # The output layer only where a completion token is predicted: the prompt's
            # positions need no logits.
            hidden, _ = self.model.hidden_states(idx[:, :-1])
            scored = targets != -100
            logits = self.model.head(hidden[scored])
            losses = F.cross_entropy(logits, targets[scored], reduction="none")
            totals = torch.zeros(len(rows)).index_put_(
                (scored.nonzero()[:, 0],), losses, accumulate=True
            )
            for line, value in enumerate((totals / scored.sum(dim=1)).tolist()):
                nlls[rows[line]] = float(value)
        return nlls


@functools.cache
def shipped_reference_lm() -> ReferenceLM:
    """Return the shipped reference model as a fluency judge, loaded once per process."""
    return ReferenceLM(DEFAULT_LM_PATH)
