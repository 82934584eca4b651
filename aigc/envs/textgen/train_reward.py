"""Train the reward model on preference pairs labelled, with noise, by the gold judge.

``python -m aigc.envs.textgen.train_reward`` runs five stages with the defaults below and
writes ``aigc/envs/textgen/data/reward_model.pt``; ``--help`` lists the settings.

1. **Candidates.** For ``train_prompts`` passages of the training split and
   ``heldout_prompts`` of the held-out split, the prompt is the passage's opening words
   (as in the environment) and its candidates, each at most ``max_new_tokens`` tokens, are
   the passage's own continuation, the continuations of ``other_continuations`` other
   passages of the same split (fluent text whose sentiment varies freely) and one sample of
   the reference model at each of ``temperatures`` (from fluent to garbled): cheerful and
   gloomy, fluent and garbled text for the same prompt.
2. **Gold.** The gold judge (target ``"positive"``) scores every candidate.
3. **Labels.** Each pair of candidates of one prompt whose gold scores differ is
   labelled by a Bradley-Terry draw, as a human annotator would be modelled: ``a`` is
   preferred to ``b`` with probability ``sigmoid((gold_a - gold_b) / label_temperature)``.
   Close pairs thus get noisy labels, so the reward model can only be an imperfect proxy of
   the gold judge. Pairs the gold judge scores equal carry no preference and are left out.
4. **Training.** The reward model starts from the embeddings and first ``n_layer`` blocks of
   the reference model. A batch holds every candidate of ``prompts_per_batch`` prompts; the
   loss is the mean over their labelled pairs of ``-log sigmoid(r_winner - r_loser)``.
5. **Held-out accuracy.** The share of held-out pairs (from held-out prompts, labels without
   noise) that the reward model orders as the gold judge does. The scores are then shifted
   and scaled to mean 0 and standard deviation 1 over the training candidates, and the model
   is rounded to float16 (as saved) before the final measure, so the figure printed is the
   shipped model's.

The run is ``epochs`` passes over the training prompts, and the seed fixes the prompts,
samples, labels, initial head and batches, so rerunning it writes the same model on any
machine. ``time_budget_s`` is a hard stop: a run whose training passes it fails, naming the
setting to raise, and writes nothing.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer
from torch.nn import functional as F

from aigc.dataclass_args import parse_dataclass_args
from aigc.envs.textgen.corpus import Split, passages, prompt_of
from aigc.envs.textgen.judge import GoldJudge
from aigc.envs.textgen.lm import DEFAULT_LM_PATH, CausalLM, load_lm
from aigc.envs.textgen.reward_model import (
    DEFAULT_REWARD_MODEL_PATH,
    RewardModel,
    encode_for_reward,
    pad_batch,
    round_to_float16,
    save_reward_model,
)
from aigc.envs.textgen.tokenizer import END_OF_TEXT_ID, load_tokenizer
from aigc.envs.textgen.train_lm import TimeBudgetExceeded, check_time_budget

CORPUS = "corpus"
OTHER = "other"


@dataclass
class Args:
    """Settings of one training run."""

    seed: int = 1
    """seed of python, numpy and torch (prompts, samples, labels, initial head, batches)"""
    reference: str = str(DEFAULT_LM_PATH)
    """the reference model that writes the candidates and initializes the reward model"""
    n_layer: int = 2
    """blocks of the reward model (the reference model's first ones)"""
    train_prompts: int = 2500
    """training-split passages whose prompts get candidates"""
    heldout_prompts: int = 500
    """held-out passages whose prompts measure the accuracy"""
    other_continuations: int = 2
    """candidates taken from the continuations of other passages, per prompt"""
    temperatures: str = "0.7,1.0,1.3,1.6,2.0"
    """sampling temperatures of the reference model's candidates, comma-separated"""
    max_new_tokens: int = 32
    """longest candidate, in tokens"""
    max_prompt_tokens: int = 32
    """prompts longer than this are skipped (the environment's default)"""
    label_temperature: float = 0.05
    """Bradley-Terry temperature of the labels: higher means noisier labels"""
    epochs: int = 2
    """passes over the training prompts"""
    prompts_per_batch: int = 8
    """prompts per optimizer step (each brings all its candidates)"""
    learning_rate: float = 1e-3
    """peak learning rate of AdamW"""
    warmup_steps: int = 30
    """steps of linear warm-up before the cosine decay to zero"""
    weight_decay: float = 0.01
    """AdamW weight decay"""
    dropout: float = 0.1
    """dropout rate in the blocks during training"""
    generation_batch: int = 160
    """rows sampled at once by the reference model"""
    eval_every: int = 125
    """steps between two measures of the held-out accuracy"""
    threads: int = 1
    """torch CPU threads"""
    time_budget_s: float = 540.0
    """seconds of training after which the run fails, unsaved (raise it on a slow machine)"""
    output: str = str(DEFAULT_REWARD_MODEL_PATH)
    """where to write the model"""


@dataclass(frozen=True)
class PromptGroup:
    """One prompt, its candidate completions, their gold scores and reward-model inputs."""

    prompt: str
    completions: tuple[str, ...]
    sources: tuple[str, ...]
    """per candidate: ``"corpus"`` (the passage's continuation), ``"other"`` (another
    passage's) or the reference model's sampling temperature"""
    gold: tuple[float, ...]
    sequences: tuple[tuple[int, ...], ...]

    def comparable_pairs(self) -> list[tuple[int, int]]:
        """Return the pairs (i, j), i < j, that the gold judge tells apart.

        Equal gold scores (among them, two identical texts) state no preference.
        """
        return [
            (i, j)
            for i, j in itertools.combinations(range(len(self.completions)), 2)
            if self.gold[i] != self.gold[j]
        ]


def parse_temperatures(text: str) -> list[float]:
    """Parse comma-separated positive temperatures."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or min(values) <= 0:
        raise ValueError(f"temperatures={text!r}: give positive numbers such as '0.7,1.0,1.5'")
    return values


def continuation(passage: str, tokenizer: Tokenizer, max_tokens: int) -> str:
    """Return the words of ``passage`` after its prompt, cut to ``max_tokens`` tokens."""
    rest = " " + " ".join(passage.split()[len(prompt_of(passage).split()) :])
    return str(tokenizer.decode(tokenizer.encode(rest).ids[:max_tokens]))


def sample_completions(
    lm: CausalLM,
    prompt_ids: list[list[int]],
    temperatures: list[float],
    args: Args,
    generator: torch.Generator,
    label: str,
) -> list[list[str]]:
    """Return one completion of each prompt at each temperature, sampled from ``lm``."""
    tokenizer = load_tokenizer()
    # Prompts of one length are sampled together: the rows of a batch must align.
    by_length: dict[int, list[int]] = defaultdict(list)
    for index, ids in enumerate(prompt_ids):
        by_length[len(ids)].append(index)
    samples: list[list[str]] = [[] for _ in prompt_ids]
    per_batch = max(1, args.generation_batch // len(temperatures))
    done, start = 0, time.monotonic()
    for length in sorted(by_length):
        indices = by_length[length]
        for begin in range(0, len(indices), per_batch):
            chunk = indices[begin : begin + per_batch]
            idx = torch.tensor(
                [[END_OF_TEXT_ID, *prompt_ids[i]] for i in chunk for _ in temperatures]
            )
            rows = torch.tensor([t for _ in chunk for t in temperatures])
            out = lm.generate(idx, args.max_new_tokens, temperature=rows, generator=generator)
            for row, tokens in enumerate(out[:, length + 1 :].tolist()):
                if END_OF_TEXT_ID in tokens:
                    tokens = tokens[: tokens.index(END_OF_TEXT_ID)]
                samples[chunk[row // len(temperatures)]].append(tokenizer.decode(tokens))
            done += len(chunk)
            if done // 500 > (done - len(chunk)) // 500 or done == len(prompt_ids):
                print(
                    f"{label}: sampled candidates for {done}/{len(prompt_ids)} prompts, "
                    f"{time.monotonic() - start:.0f} s"
                )
    return samples


def build_groups(
    split: Split, count: int, lm: CausalLM, args: Args, seed: int
) -> list[PromptGroup]:
    """Draw ``count`` passages of ``split`` and return their prompts with scored candidates."""
    tokenizer = load_tokenizer()
    judge = GoldJudge("positive")
    temperatures = parse_temperatures(args.temperatures)
    rng = random.Random(seed)
    pool = passages(split)
    chosen = [
        p
        for p in rng.sample(pool, min(count, len(pool)))
        if len(tokenizer.encode(prompt_of(p)).ids) <= args.max_prompt_tokens
    ]
    if not chosen:
        raise ValueError(f"no {split} prompt fits in max_prompt_tokens={args.max_prompt_tokens}")
    prompts = [prompt_of(p) for p in chosen]
    samples = sample_completions(
        lm,
        [tokenizer.encode(p).ids for p in prompts],
        temperatures,
        args,
        torch.Generator().manual_seed(seed),
        split,
    )
    sources = (CORPUS, *[OTHER] * args.other_continuations, *(f"{t:g}" for t in temperatures))
    groups = []
    for passage, prompt, sampled in zip(chosen, prompts, samples, strict=True):
        drawn = rng.sample(pool, args.other_continuations + 1)
        others = [p for p in drawn if p != passage][: args.other_continuations]
        completions = (
            continuation(passage, tokenizer, args.max_new_tokens),
            *(continuation(p, tokenizer, args.max_new_tokens) for p in others),
            *sampled,
        )
        groups.append(
            PromptGroup(
                prompt=prompt,
                completions=completions,
                sources=sources,
                gold=tuple(judge(prompt, c) for c in completions),
                sequences=tuple(
                    tuple(encode_for_reward(tokenizer, prompt, c, lm.config.block_size))
                    for c in completions
                ),
            )
        )
    return groups


def noisy_labels(
    groups: list[PromptGroup], label_temperature: float, seed: int
) -> list[list[tuple[int, int]]]:
    """Return each group's labelled pairs as (winner, loser), drawn by Bradley-Terry."""
    if label_temperature <= 0:
        raise ValueError(
            f"label_temperature={label_temperature}: give a positive number (0.05 by default)"
        )
    rng = np.random.default_rng(seed)
    labels = []
    for group in groups:
        pairs = []
        for i, j in group.comparable_pairs():
            margin = (group.gold[i] - group.gold[j]) / label_temperature
            p_i = 0.5 * (1.0 + math.tanh(margin / 2))  # sigmoid(margin), without overflow
            pairs.append((i, j) if rng.random() < p_i else (j, i))
        labels.append(pairs)
    return labels


def label_agreement(groups: list[PromptGroup], labels: list[list[tuple[int, int]]]) -> float:
    """Return the share of labels that agree with the gold judge's noiseless preference."""
    agree = [
        group.gold[winner] > group.gold[loser]
        for group, pairs in zip(groups, labels, strict=True)
        for winner, loser in pairs
    ]
    return float(np.mean(agree)) if agree else math.nan


def score_groups(
    model: RewardModel, groups: list[PromptGroup], batch: int = 128
) -> list[list[float]]:
    """Return the reward of every candidate of every group."""
    model.eval()
    flat = [s for group in groups for s in group.sequences]
    scores: list[float] = []
    with torch.no_grad():
        for begin in range(0, len(flat), batch):
            idx, lengths = pad_batch(flat[begin : begin + batch])
            scores.extend(model(idx, lengths).tolist())
    out, offset = [], 0
    for group in groups:
        out.append(scores[offset : offset + len(group.sequences)])
        offset += len(group.sequences)
    return out


def pairwise_accuracy(
    groups: list[PromptGroup], scores: list[list[float]], min_gap: float = 0.0
) -> float:
    """Return the share of comparable pairs that ``scores`` order as the gold judge does.

    Only pairs whose gold scores differ by more than ``min_gap`` count.
    """
    correct = []
    for group, row in zip(groups, scores, strict=True):
        for i, j in group.comparable_pairs():
            if abs(group.gold[i] - group.gold[j]) > min_gap:
                correct.append((row[i] > row[j]) == (group.gold[i] > group.gold[j]))
    return float(np.mean(correct)) if correct else math.nan


def accuracy(model: RewardModel, groups: list[PromptGroup]) -> float:
    """Return the pairwise accuracy of ``model`` on ``groups`` against the gold judge."""
    return pairwise_accuracy(groups, score_groups(model, groups))


def batch_loss(
    model: RewardModel,
    groups: list[PromptGroup],
    labels: list[list[tuple[int, int]]],
) -> torch.Tensor:
    """Return the Bradley-Terry loss of the labelled pairs of ``groups``."""
    sequences = [s for group in groups for s in group.sequences]
    idx, lengths = pad_batch(sequences)
    rewards = model(idx, lengths)
    winners: list[int] = []
    losers: list[int] = []
    offset = 0
    for group, pairs in zip(groups, labels, strict=True):
        winners.extend(offset + winner for winner, _ in pairs)
        losers.extend(offset + loser for _, loser in pairs)
        offset += len(group.sequences)
    return -F.logsigmoid(rewards[winners] - rewards[losers]).mean()


def normalize(model: RewardModel, scores: list[list[float]]) -> tuple[float, float]:
    """Shift and scale the head so that ``scores`` (the model's) get mean 0 and std 1.

    Return the mean and standard deviation that were taken out.
    """
    flat = np.array([s for row in scores for s in row])
    mean, std = float(flat.mean()), float(flat.std()) or 1.0
    with torch.no_grad():
        model.head.weight.div_(std)
        model.head.bias.sub_(mean).div_(std)
    round_to_float16(model)
    return mean, std


def mean_by_source(groups: list[PromptGroup], values: list[list[float]]) -> str:
    """Return the mean of ``values`` per candidate source, as text."""
    by_source: dict[str, list[float]] = defaultdict(list)
    for group, row in zip(groups, values, strict=True):
        for source, value in zip(group.sources, row, strict=True):
            by_source[source].append(value)
    return ", ".join(f"{source} {np.mean(v):.3f}" for source, v in by_source.items())


def train(args: Args) -> dict[str, Any]:
    """Build the pairs, train a reward model, save it to ``args.output``; return its metrics."""
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    start = time.monotonic()

    reference = load_lm(args.reference)
    train_groups = build_groups("train", args.train_prompts, reference, args, args.seed)
    heldout_groups = build_groups("heldout", args.heldout_prompts, reference, args, args.seed + 1)
    print(
        "mean gold score of the training candidates: "
        + mean_by_source(train_groups, [list(g.gold) for g in train_groups])
    )
    labels = noisy_labels(train_groups, args.label_temperature, args.seed)
    usable = [k for k, pairs in enumerate(labels) if pairs]
    n_pairs = sum(len(p) for p in labels)
    print(
        f"{len(train_groups)} training prompts, {n_pairs} labelled pairs, "
        f"{label_agreement(train_groups, labels):.3f} of them agree with the gold judge; "
        f"{len(heldout_groups)} held-out prompts, "
        f"{sum(len(g.comparable_pairs()) for g in heldout_groups)} held-out pairs; "
        f"{time.monotonic() - start:.0f} s"
    )

    model = RewardModel.from_language_model(reference, args.n_layer, args.dropout)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay
    )
    steps_per_epoch = math.ceil(len(usable) / args.prompts_per_batch)
    total_steps = args.epochs * steps_per_epoch
    print(
        f"{model.num_parameters() / 1e6:.2f} M parameters; {total_steps} steps of "
        f"{args.prompts_per_batch} prompts; held-out accuracy before training "
        f"{accuracy(model, heldout_groups):.3f}"
    )

    generator = torch.Generator().manual_seed(args.seed)
    train_start = time.monotonic()
    step, elapsed, losses = 0, 0.0, []
    while step < total_steps:
        order = torch.randperm(len(usable), generator=generator).tolist()
        for begin in range(0, len(order), args.prompts_per_batch):
            if step >= total_steps:
                break
            check_time_budget(step, total_steps, elapsed, args.time_budget_s)
            progress = step / total_steps
            warm = min(1.0, (step + 1) / args.warmup_steps)
            for group in optimizer.param_groups:
                group["lr"] = args.learning_rate * warm * 0.5 * (1 + math.cos(math.pi * progress))
            batch = [usable[k] for k in order[begin : begin + args.prompts_per_batch]]
            model.train()
            loss = batch_loss(model, [train_groups[k] for k in batch], [labels[k] for k in batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
            losses.append(loss.item())
            elapsed = time.monotonic() - train_start
            if step % args.eval_every == 0 or step == total_steps:
                print(
                    f"step {step:5d}  loss {np.mean(losses[-args.eval_every :]):.3f}  "
                    f"held-out accuracy {accuracy(model, heldout_groups):.3f}  "
                    f"{elapsed:.0f} s"
                )

    # The figures below are the shipped model's: rounded to float16 and normalized.
    model.eval()
    round_to_float16(model)
    train_scores = score_groups(model, train_groups)
    mean, std = normalize(model, train_scores)  # an increasing map: the orders stay
    heldout_scores = score_groups(model, heldout_groups)
    by_source = mean_by_source(heldout_groups, heldout_scores)
    print(f"mean reward of the held-out candidates: {by_source}")
    metrics = {
        "steps": step,
        "train_pairs": n_pairs,
        "label_agreement": label_agreement(train_groups, labels),
        "train_accuracy": pairwise_accuracy(train_groups, train_scores),
        "heldout_pairs": sum(len(g.comparable_pairs()) for g in heldout_groups),
        "heldout_accuracy": pairwise_accuracy(heldout_groups, heldout_scores),
        "heldout_accuracy_gap_0.1": pairwise_accuracy(heldout_groups, heldout_scores, 0.1),
        "normalization_mean": mean,
        "normalization_std": std,
        "seconds": time.monotonic() - start,
    }
    save_reward_model(model, args.output, args=dataclasses.asdict(args), **metrics)
    size = Path(args.output).stat().st_size / 1e6
    print(
        f"pairwise accuracy {metrics['train_accuracy']:.3f} on the training prompts; "
        f"held-out pairwise accuracy {metrics['heldout_accuracy']:.3f} "
        f"({metrics['heldout_accuracy_gap_0.1']:.3f} on pairs whose gold scores differ by "
        f"more than 0.1) after {step} steps, {metrics['seconds']:.0f} s; wrote {size:.1f} MB "
        f"to {args.output}"
    )
    return metrics


def parse_args(argv: list[str] | None = None) -> Args:
    """Parse the command line into :class:`Args` (one ``--flag`` per field)."""
    return parse_dataclass_args(Args, __doc__, argv)


def main(argv: list[str] | None = None) -> int:
    """Train with the command line's settings."""
    args = parse_args(argv)
    parse_temperatures(args.temperatures)
    try:
        train(args)
    except TimeBudgetExceeded as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
