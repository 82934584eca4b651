"""Train the reference language model on the corpus's training split.

``python -m aigc.envs.textgen.train_lm`` trains :class:`~aigc.envs.textgen.lm.CausalLM`
with the defaults below (2.6 M parameters, a 10 MB state dict) on one CPU thread and writes
``aigc/envs/textgen/data/reference_lm.pt``. The run is ``total_steps`` optimizer steps, and
the seed fixes the initial weights, every batch and the printed samples, so rerunning it
writes the same model on any machine. 750 steps took 11 min 40 s of wall time at
``nice -n 19`` beside other work; ``time_budget_s`` (14 minutes) is a hard stop: a run that
passes it fails, naming the setting to raise, and writes nothing. ``--help`` lists the
settings.

Each passage is preceded by ``<|endoftext|>``; training reads random windows of
``block_size + 1`` tokens of the resulting stream. The held-out split gives the loss printed
during training (fixed random windows) and, at the end, the NLL per token of the whole
held-out stream (:func:`heldout_nll`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aigc.dataclass_args import parse_dataclass_args
from aigc.envs.textgen.corpus import Split, passages, prompts
from aigc.envs.textgen.lm import DEFAULT_LM_PATH, CausalLM, LMConfig, save_lm
from aigc.envs.textgen.tokenizer import END_OF_TEXT_ID, load_tokenizer


@dataclass
class Args:
    """Settings of one training run."""

    seed: int = 1
    """seed of python, numpy and torch"""
    n_layer: int = 4
    """number of transformer blocks"""
    n_head: int = 4
    """attention heads per block"""
    n_embd: int = 192
    """width of the residual stream"""
    block_size: int = 128
    """tokens per training window (and longest sequence the model reads)"""
    dropout: float = 0.1
    """dropout rate in the blocks"""
    batch_size: int = 16
    """windows per optimizer step"""
    total_steps: int = 750
    """optimizer steps"""
    learning_rate: float = 2e-3
    """peak learning rate of AdamW"""
    min_learning_rate: float = 1e-4
    """learning rate at the end of the cosine decay"""
    warmup_steps: int = 50
    """steps of linear warm-up"""
    weight_decay: float = 0.1
    """AdamW weight decay of the matrices"""
    grad_clip: float = 1.0
    """largest gradient norm"""
    eval_every: int = 100
    """steps between two measures of the held-out loss"""
    eval_batches: int = 8
    """batches in one measure of the held-out loss"""
    threads: int = 1
    """torch CPU threads"""
    num_samples: int = 4
    """held-out prompts completed by the trained model and printed at the end"""
    time_budget_s: float = 840.0
    """seconds of training after which the run fails, unsaved (raise it on a slow machine)"""
    output: str = str(DEFAULT_LM_PATH)
    """where to write the model"""


class TimeBudgetExceeded(RuntimeError):
    """A training run passed its time budget before its last step; nothing was written."""


def check_time_budget(step: int, total_steps: int, elapsed: float, budget: float) -> None:
    """Fail a run that has steps left after ``budget`` seconds: its steps, not the machine's
    speed, define it."""
    if elapsed >= budget:
        raise TimeBudgetExceeded(
            f"training spent its time budget of {budget:g} s at step {step} of {total_steps}: "
            f"raise time_budget_s (--time-budget-s) so the run ends by its steps"
        )


@functools.cache
def token_stream(split: Split) -> torch.Tensor:
    """Return the split's passages as one token stream, each after ``<|endoftext|>``.

    The tensor is shared between calls (they are cached): do not modify it.
    """
    tokenizer = load_tokenizer()
    ids: list[int] = []
    for encoding in tokenizer.encode_batch(list(passages(split))):
        ids.append(END_OF_TEXT_ID)
        ids.extend(encoding.ids)
    return torch.tensor(ids, dtype=torch.long)


def get_batch(
    stream: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return inputs and next-token targets of ``batch_size`` random windows."""
    starts = torch.randint(len(stream) - block_size - 1, (batch_size,), generator=generator)
    windows = torch.stack([stream[s : s + block_size + 1] for s in starts.tolist()])
    return windows[:, :-1], windows[:, 1:]


def learning_rate(step: int, args: Args) -> float:
    """Linear warm-up over ``warmup_steps``, then cosine decay to ``min_learning_rate`` at
    ``total_steps``."""
    if step < args.warmup_steps:
        return args.learning_rate * (step + 1) / args.warmup_steps
    progress = step / max(1, args.total_steps)
    warm = args.warmup_steps / max(1, args.total_steps)
    decay = min(1.0, max(0.0, (progress - warm) / max(1e-9, 1 - warm)))
    cosine = 0.5 * (1 + math.cos(math.pi * decay))
    return args.min_learning_rate + cosine * (args.learning_rate - args.min_learning_rate)


@torch.no_grad()
def heldout_loss(model: CausalLM, stream: torch.Tensor, args: Args) -> float:
    """Return the mean loss on fixed held-out windows (the same ones at every measure)."""
    model.eval()
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(args.eval_batches):
        x, y = get_batch(stream, args.batch_size, args.block_size, generator)
        losses.append(float(model(x, y)[1]))
    model.train()
    return float(np.mean(losses))


@torch.no_grad()
def heldout_nll(model: CausalLM, stream: torch.Tensor, batch_size: int = 32) -> float:
    """Return the mean NLL per token, in nats, of the whole held-out stream.

    Windows of ``block_size`` tokens advance by half a window, and each token is scored once,
    in the first window where it has at least half a window of context (or in the first
    window), so that the figure does not count the cold start of every window.
    """
    model.eval()
    size, stride = model.config.block_size, max(1, model.config.block_size // 2)
    windows: list[tuple[torch.Tensor, torch.Tensor]] = []
    for begin in range(0, max(1, len(stream) - size + stride), stride):
        window = stream[begin : begin + size + 1]
        if len(window) < 2:
            break
        targets = window[1:].clone()
        if begin > 0:
            targets[: size - stride] = -100  # already scored in the previous window
        windows.append((window[:-1], targets))
    total, count = 0.0, 0
    # Batches hold windows of one length (only the last window may be shorter).
    for length in sorted({len(x) for x, _ in windows}):
        same = [w for w in windows if len(w[0]) == length]
        for begin in range(0, len(same), batch_size):
            x = torch.stack([w[0] for w in same[begin : begin + batch_size]])
            y = torch.stack([w[1] for w in same[begin : begin + batch_size]])
            scored = int((y != -100).sum())
            if scored:
                _, loss = model(x, y)
                assert loss is not None
                total += float(loss) * scored
                count += scored
    model.train()
    return total / count


@torch.no_grad()
def sample_completions(model: CausalLM, count: int, seed: int) -> list[tuple[str, str]]:
    """Complete the first ``count`` held-out prompts by sampling at temperature 1."""
    tokenizer = load_tokenizer()
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    samples = []
    for prompt in prompts("heldout")[:count]:
        ids = torch.tensor([[END_OF_TEXT_ID, *tokenizer.encode(prompt).ids]])
        out = model.generate(ids, 32, generator=generator)[0, ids.shape[1] :].tolist()
        text = out[: out.index(END_OF_TEXT_ID)] if END_OF_TEXT_ID in out else out
        samples.append((prompt, tokenizer.decode(text)))
    model.train()
    return samples


def train(args: Args) -> dict[str, Any]:
    """Train a model with ``args``, save it to ``args.output`` and return its metrics."""
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)

    train_stream, heldout_stream = token_stream("train"), token_stream("heldout")
    config = LMConfig(
        vocab_size=load_tokenizer().get_vocab_size(),
        block_size=args.block_size,
        n_layer=args.n_layer,
        n_head=args.n_head,
        n_embd=args.n_embd,
        dropout=args.dropout,
    )
    model = CausalLM(config)
    # Weight decay on the matrices only, not on biases and layer norms.
    groups: list[dict[str, Any]] = [
        {
            "params": [p for p in model.parameters() if p.dim() >= 2],
            "weight_decay": args.weight_decay,
        },
        {"params": [p for p in model.parameters() if p.dim() < 2], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=args.learning_rate, betas=(0.9, 0.95))
    print(
        f"{model.num_parameters() / 1e6:.2f} M parameters; {len(train_stream)} training and "
        f"{len(heldout_stream)} held-out tokens; {args.total_steps} steps of "
        f"{args.batch_size}x{args.block_size} tokens"
    )

    generator = torch.Generator().manual_seed(args.seed)
    start = time.monotonic()
    step, train_loss, elapsed = 0, math.nan, 0.0
    while step < args.total_steps:
        check_time_budget(step, args.total_steps, elapsed, args.time_budget_s)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args)
        x, y = get_batch(train_stream, args.batch_size, args.block_size, generator)
        _, loss = model(x, y)
        assert loss is not None
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        step += 1
        train_loss = loss.item()
        elapsed = time.monotonic() - start
        if step % args.eval_every == 0 or step == args.total_steps:
            rate = step * args.batch_size * args.block_size / elapsed
            print(
                f"step {step:5d}  loss {train_loss:.3f}  held-out "
                f"{heldout_loss(model, heldout_stream, args):.3f}  {rate:.0f} tokens/s  "
                f"{elapsed:.0f} s"
            )

    nll = heldout_nll(model, heldout_stream)
    metrics = {
        "steps": step,
        "train_loss": train_loss,
        "heldout_loss": heldout_loss(model, heldout_stream, args),
        "heldout_nll": nll,
        "heldout_perplexity": math.exp(nll),
        "seconds": time.monotonic() - start,
    }
    save_lm(model, args.output, args=dataclasses.asdict(args), **metrics)
    size = Path(args.output).stat().st_size / 1e6
    print(
        f"held-out NLL {nll:.3f} nats per token (perplexity {math.exp(nll):.1f}) after "
        f"{step} steps, {metrics['seconds']:.0f} s; wrote {size:.1f} MB to {args.output}"
    )
    for prompt, completion in sample_completions(model, args.num_samples, args.seed):
        print(f"sample: {prompt} [...]{completion}")
    return metrics


def parse_args(argv: list[str] | None = None) -> Args:
    """Parse the command line into :class:`Args` (one ``--flag`` per field)."""
    return parse_dataclass_args(Args, __doc__, argv)


def main(argv: list[str] | None = None) -> int:
    """Train with the command line's settings."""
    try:
        train(parse_args(argv))
    except TimeBudgetExceeded as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
