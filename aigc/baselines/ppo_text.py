"""RLHF: PPO on the token MDP of the text challenge, with a KL penalty to the reference model.

    aigc train ppo-text --challenge textgen --out runs/textgen-ppo
    python -m aigc.baselines.ppo_text --out runs/textgen-ppo --total-steps 100000

The policy starts as the shipped reference language model and gets a value head on its
final hidden states (Ziegler et al., 2019; Ouyang et al., 2022). Each iteration samples one
completion for each of ``batch_size`` prompts of the challenge's training split, scores it
with the challenge's reward model, and rewards each token with ``-beta * (log pi - log
pi_ref)`` plus, on the completion's last token, the reward model's score. Advantages come
from GAE over the tokens; the clipped surrogate and a clipped value loss are optimized for
``update_epochs`` passes. ``beta`` adapts to keep the KL divergence to the reference near
``target_kl`` nats per completion (Ziegler et al.'s proportional controller).

Prompts of one iteration share a length (a length is drawn in proportion to how many
prompts have it), so the batch needs no padding and the model no attention mask.

Besides the agent package and the usual learning curve (each completion's reward-model
score), ``rlhf_curve.csv`` and ``rlhf_curve.png`` hold, per iteration, the mean
reward-model score, the mean gold score (the judge the reward model imitates, never seen by
the training) and the KL to the reference: the reward model's score should rise with the
gold score, not alone.
"""

from __future__ import annotations

import csv
import dataclasses
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from aigc.baselines.common import TrainingLog, flushing_denormals, parse_settings, run
from aigc.baselines.text_agent import write_text_agent
from aigc.envs.textgen.env import TextGenEnv
from aigc.envs.textgen.judge import GoldJudge
from aigc.envs.textgen.lm import load_lm
from aigc.envs.textgen.model import END_OF_TEXT_ID, CausalLM
from aigc.submissions.challenge import get_challenge

TEXT_ENVIRONMENT = "aigc.envs.textgen.env:TextGenEnv"


@dataclass
class Settings:
    """PPO with a per-token KL penalty to the reference model and a value head (RLHF)."""

    challenge: str = "textgen"
    """the challenge to train on (its environment is aigc/TextGen-v0)"""
    seed: int = 1
    """seed of python, numpy and torch, and of the written agent's sampling"""
    total_steps: int = 150_000
    """generated tokens to train for"""
    batch_size: int = 64
    """completions sampled per iteration"""
    minibatch_size: int = 16
    """completions per gradient step"""
    update_epochs: int = 4
    """passes over each iteration's completions"""
    learning_rate: float = 3e-5
    """the learning rate of the Adam optimizer"""
    gamma: float = 1.0
    """the discount factor over tokens"""
    gae_lambda: float = 0.95
    """the lambda of generalized advantage estimation"""
    clip_coef: float = 0.2
    """the surrogate clipping coefficient"""
    vf_coef: float = 0.1
    """the weight of the value loss"""
    clip_value: float = 0.2
    """the value loss's clipping range"""
    max_grad_norm: float = 1.0
    """the largest gradient norm (larger gradients are scaled down)"""
    init_beta: float = 0.05
    """the starting weight of the KL penalty"""
    adaptive_beta: bool = True
    """whether beta adapts to keep the KL near target_kl"""
    target_kl: float = 6.0
    """the KL to the reference, in nats per completion, that adaptive beta aims for"""
    kl_horizon: int = 2_000
    """completions over which beta moves by at most 20% towards target_kl (Ziegler et al.)"""
    temperature: float = 1.0
    """sampling temperature, in training and in the agent written at the end"""


class PolicyWithValue(nn.Module):
    """A causal language model with a scalar value head on its final hidden states."""

    def __init__(self, lm: CausalLM) -> None:
        super().__init__()
        self.lm = lm
        self.value_head = nn.Linear(lm.config.n_embd, 1)
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)

    def forward(
        self, ids: torch.Tensor, start: int, temperature: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the logits (at ``temperature``) and values of the positions from ``start - 1``
        on, i.e. of the states in which each token from ``start`` on was chosen."""
        hidden, _ = self.lm.hidden_states(ids)
        hidden = hidden[:, start - 1 : -1]
        return self.lm.head(hidden) / temperature, self.value_head(hidden).squeeze(-1)


@dataclass
class Tuned:
    """What training gives: the tuned policy and one row of statistics per iteration."""

    policy: PolicyWithValue
    stats: list[dict[str, float]] = field(default_factory=list)


def token_log_probs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """The log-probability of each chosen token under ``logits`` (batch, time, vocab)."""
    return torch.gather(F.log_softmax(logits, dim=-1), 2, tokens[..., None]).squeeze(-1)


def completion_mask(tokens: torch.Tensor) -> torch.Tensor:
    """1.0 for each token up to and including the first ``<|endoftext|>`` of each row."""
    ended = (tokens == END_OF_TEXT_ID).int().cumsum(dim=1)
    # A token is in the completion if no end came before it.
    before = torch.cat([torch.zeros_like(ended[:, :1]), ended[:, :-1]], dim=1)
    return (before == 0).float()


def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and returns over tokens (batch, time); positions where ``mask`` is 0 are
    past the completion's end and get 0."""
    after = torch.zeros_like(mask[:, :1])
    next_mask = torch.cat([mask[:, 1:], after], dim=1)
    next_values = torch.cat([values[:, 1:], after], dim=1) * next_mask
    deltas = rewards + gamma * next_values - values
    advantages = torch.zeros_like(rewards)
    running = torch.zeros(rewards.shape[0])
    for t in reversed(range(rewards.shape[1])):
        running = deltas[:, t] + gamma * lam * next_mask[:, t] * running
        advantages[:, t] = running
    advantages = advantages * mask
    return advantages, advantages + values * mask


def whiten(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Normalize ``values`` to mean 0 and standard deviation 1 over the masked positions."""
    mean = (values * mask).sum() / mask.sum()
    var = ((values - mean) ** 2 * mask).sum() / mask.sum()
    return (values - mean) * torch.rsqrt(var + 1e-8)


class PromptSampler:
    """Draw batches of equally long prompts: a length in proportion to its prompts, then
    prompts of that length uniformly, with replacement."""

    def __init__(self, texts: Sequence[str], ids: Sequence[Sequence[int]], seed: int) -> None:
        by_length: dict[int, list[int]] = defaultdict(list)
        for index, row in enumerate(ids):
            by_length[len(row)].append(index)
        self.lengths = sorted(by_length)
        self.groups = [by_length[n] for n in self.lengths]
        weights = np.array([len(g) for g in self.groups], dtype=np.float64)
        self.weights = weights / weights.sum()
        self.texts, self.ids = texts, ids
        self.rng = np.random.default_rng(seed)

    def sample(self, count: int) -> tuple[list[str], torch.Tensor]:
        """Return ``count`` prompts and their token ids (count, length)."""
        group = self.groups[self.rng.choice(len(self.groups), p=self.weights)]
        picks = self.rng.choice(group, size=count)
        return [self.texts[i] for i in picks], torch.tensor([self.ids[i] for i in picks])


class KLController:
    """Ziegler et al.'s adaptive KL coefficient: ``beta`` moves towards the value at which
    the measured KL equals ``target``, by at most 20% per ``horizon`` completions."""

    def __init__(self, beta: float, target: float, horizon: int, adaptive: bool) -> None:
        self.beta, self.target, self.horizon, self.adaptive = beta, target, horizon, adaptive

    def update(self, kl: float, completions: int) -> None:
        if not self.adaptive:
            return
        error = float(np.clip(kl / self.target - 1, -0.2, 0.2))
        self.beta *= 1 + error * completions / self.horizon


@flushing_denormals
def train(settings: Settings, log: TrainingLog) -> Tuned:
    """Tune the reference model with PPO against the challenge's reward model."""
    random.seed(settings.seed)
    np.random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    if settings.batch_size % settings.minibatch_size:
        raise ValueError(
            f"batch_size={settings.batch_size} is not a multiple of "
            f"minibatch_size={settings.minibatch_size}: change one"
        )
    environment = get_challenge(settings.challenge).environment
    if gym.spec(environment.id).entry_point != TEXT_ENVIRONMENT:
        raise ValueError(
            f"challenge {settings.challenge!r} is not a text challenge: ppo-text trains on "
            "challenges of aigc/TextGen-v0, e.g. --challenge textgen"
        )
    # The challenge's environment, on the training split whatever split it evaluates on.
    train_split = {**environment.kwargs, "split": "train"}
    env = dataclasses.replace(environment, kwargs=train_split).make().unwrapped
    assert isinstance(env, TextGenEnv)  # the entry point says so
    scorer = env.scorer
    score_batch = getattr(scorer, "score_batch", None) or (
        lambda ps, cs: [scorer(p, c) for p, c in zip(ps, cs, strict=True)]
    )
    judge: GoldJudge = env.gold_judge
    tokenizer, max_new_tokens = env.tokenizer, int(env.max_new_tokens)
    sampler = PromptSampler(env.prompts, env.prompt_ids, settings.seed)

    reference = load_lm().eval().requires_grad_(False)
    # Without dropout, so the ratios of the PPO epochs compare the same function.
    lm = CausalLM(dataclasses.replace(reference.config, dropout=0.0))
    lm.load_state_dict(reference.state_dict())
    policy = PolicyWithValue(lm)
    optimizer = torch.optim.Adam(policy.parameters(), lr=settings.learning_rate, eps=1e-5)
    controller = KLController(
        settings.init_beta, settings.target_kl, settings.kl_horizon, settings.adaptive_beta
    )
    generator = torch.Generator().manual_seed(settings.seed)
    stats: list[dict[str, float]] = []
    tokens_done = completions_done = 0
    temperature = settings.temperature

    while tokens_done < settings.total_steps:
        # --- rollout: one completion per prompt ------------------------------------------
        prompt_texts, prompt_ids = sampler.sample(settings.batch_size)
        start_ids = torch.cat([torch.full((len(prompt_ids), 1), END_OF_TEXT_ID), prompt_ids], dim=1)
        start = start_ids.shape[1]
        policy.eval()
        with torch.no_grad():
            ids = policy.lm.generate(
                start_ids, max_new_tokens, temperature=temperature, generator=generator
            )
            tokens = ids[:, start:]
            mask = completion_mask(tokens)
            logits, values = policy(ids, start, temperature)
            old_log_probs = token_log_probs(logits, tokens)
            ref_logits, _ = reference(ids)
            ref_log_probs = token_log_probs(ref_logits[:, start - 1 : -1] / temperature, tokens)
        lengths = mask.sum(dim=1).long()
        completions = [
            tokenizer.decode([t for t in row[:n].tolist() if t != END_OF_TEXT_ID])
            for row, n in zip(tokens, lengths, strict=True)
        ]
        scores = torch.tensor(score_batch(prompt_texts, completions), dtype=torch.float32)
        gold = [judge(p, c) for p, c in zip(prompt_texts, completions, strict=True)]

        kl_tokens = (old_log_probs - ref_log_probs) * mask
        rewards = -controller.beta * kl_tokens
        rewards[torch.arange(len(rewards)), lengths - 1] += scores
        values = values * mask
        advantages, returns = gae(rewards, values, mask, settings.gamma, settings.gae_lambda)
        advantages = whiten(advantages, mask) * mask

        # --- PPO epochs ----------------------------------------------------------------
        policy.train()
        clip_fractions = []
        for _ in range(settings.update_epochs):
            order = torch.randperm(settings.batch_size, generator=generator)
            for begin in range(0, settings.batch_size, settings.minibatch_size):
                rows = order[begin : begin + settings.minibatch_size]
                m = mask[rows]
                new_logits, new_values = policy(ids[rows], start, temperature)
                new_log_probs = token_log_probs(new_logits, tokens[rows])
                ratio = torch.exp(new_log_probs - old_log_probs[rows])
                adv = advantages[rows]
                surrogate = torch.max(
                    -adv * ratio,
                    -adv * ratio.clamp(1 - settings.clip_coef, 1 + settings.clip_coef),
                )
                policy_loss = (surrogate * m).sum() / m.sum()
                clipped = values[rows] + (new_values - values[rows]).clamp(
                    -settings.clip_value, settings.clip_value
                )
                value_loss = (
                    0.5
                    * (
                        torch.max((new_values - returns[rows]) ** 2, (clipped - returns[rows]) ** 2)
                        * m
                    ).sum()
                    / m.sum()
                )
                loss = policy_loss + settings.vf_coef * value_loss
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(policy.parameters(), settings.max_grad_norm)
                optimizer.step()
                with torch.no_grad():
                    outside = ((ratio - 1).abs() > settings.clip_coef).float()
                    clip_fractions.append(float((outside * m).sum() / m.sum()))

        # --- bookkeeping ---------------------------------------------------------------
        kl = float(kl_tokens.sum(dim=1).mean())
        controller.update(kl, settings.batch_size)
        for score, n in zip(scores.tolist(), lengths.tolist(), strict=True):
            tokens_done += n
            completions_done += 1
            log.episode(tokens_done, score, n)
        stats.append(
            {
                "iteration": len(stats) + 1,
                "tokens": tokens_done,
                "completions": completions_done,
                "reward_model": float(scores.mean()),
                "gold": float(np.mean(gold)),
                "kl": kl,
                "beta": controller.beta,
                "length": float(lengths.float().mean()),
                "clip_fraction": float(np.mean(clip_fractions)),
            }
        )
        log.update(min(tokens_done, settings.total_steps))
    return Tuned(policy, stats)


def write_agent(tuned: Tuned, settings: Settings, folder: Path) -> None:
    """Write the tuned language model (without its value head) as an agent package, with
    ``rlhf_curve.csv``/``.png`` and ``settings.json``."""
    iterations = len(tuned.stats)
    write_text_agent(
        tuned.policy.lm,
        folder,
        name="ppo-text",
        challenge=settings.challenge,
        description=(
            f"RLHF baseline: the reference model tuned by PPO with a KL penalty, "
            f"{settings.total_steps:,} tokens ({iterations} iterations)."
        ),
        temperature=settings.temperature,
        seed=settings.seed,
        settings=dataclasses.asdict(settings),
    )
    write_rlhf_curve(tuned.stats, folder, settings)


def write_rlhf_curve(stats: list[dict[str, float]], folder: Path, settings: Settings) -> None:
    """Write the per-iteration reward-model score, gold score and KL as CSV and a plot."""
    if not stats:
        return
    with (folder / "rlhf_curve.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(stats[0]))
        writer.writeheader()
        writer.writerows(stats)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tokens = [row["tokens"] for row in stats]
    figure, axes = plt.subplots(3, 1, figsize=(7, 7), dpi=100, sharex=True)
    panels = (
        ("reward_model", "reward-model score", "C0"),
        ("gold", "gold score", "C2"),
        ("kl", "KL to reference (nats)", "C3"),
    )
    for axis, (key, label, color) in zip(axes, panels, strict=True):
        values = [row[key] for row in stats]
        axis.plot(tokens, values, color=color, alpha=0.35, linewidth=1)
        window = max(1, len(values) // 20)
        smooth = np.convolve(values, np.ones(window) / window, mode="valid")
        axis.plot(tokens[window - 1 :], smooth, color=color, linewidth=2)
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    if settings.adaptive_beta:
        axes[2].axhline(settings.target_kl, color="gray", linestyle="--", label="target KL")
        axes[2].legend(loc="upper left")
    axes[-1].set_xlabel("generated tokens")
    axes[0].set_title(f"PPO with KL penalty on {settings.challenge} (seed {settings.seed})")
    figure.tight_layout()
    figure.savefig(folder / "rlhf_curve.png")
    plt.close(figure)


if __name__ == "__main__":
    settings, out = parse_settings(Settings, "ppo_text", None)
    run("ppo_text", settings, out)
