"""``aigc/TextGen-v0``: write a continuation of a prompt, one token at a time."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from aigc.envs.textgen.corpus import Split, check_split, prompts
from aigc.envs.textgen.judge import GoldJudge, Target, distinct_n
from aigc.envs.textgen.tokenizer import END_OF_TEXT_ID, load_tokenizer

Scorer = Callable[[str, str], float]
"""Scores a completion: ``scorer(prompt_text, completion_text) -> float``."""
NLLScorer = Callable[[Sequence[int], Sequence[int]], float]
"""Mean NLL per token: ``nll(prompt_ids, completion_ids) -> float``, in nats."""


@functools.cache
def fitting_prompts(
    split: Split, max_prompt_tokens: int
) -> tuple[tuple[str, ...], tuple[tuple[int, ...], ...]]:
    """The split's prompts of at most ``max_prompt_tokens`` tokens and their token ids, in
    corpus order (encoded once per process: the evaluator makes dozens of environments)."""
    texts = prompts(split)
    encoded = load_tokenizer().encode_batch(list(texts))
    kept = [(t, tuple(e.ids)) for t, e in zip(texts, encoded, strict=True)]
    kept = [(t, ids) for t, ids in kept if len(ids) <= max_prompt_tokens]
    return tuple(t for t, _ in kept), tuple(ids for _, ids in kept)


class TextGenEnv(gym.Env[dict[str, Any], np.int64]):
    """Write a continuation of an English prompt, token by token; a judge scores it at the end.

    This is the token-level MDP of RL4LMs. An episode starts from a prompt (the opening
    words of a passage from the corpus of ``aigc.envs.textgen.corpus``, drawn with the
    environment's seed from the ``split``); each action appends one token of the shipped
    byte-level BPE tokenizer; at the end a scorer judges the completion's text.

    ## Action Space

    ``Discrete(vocab_size)`` (4096 with the shipped tokenizer): the id of the next token.
    Token 0 is ``<|endoftext|>`` and ends the completion.

    ## Observation Space

    A ``Dict``:

    * ``"tokens"``: ``Box(0, vocab_size - 1, (max_prompt_tokens + max_new_tokens,), int64)``,
      the prompt's tokens, then the tokens generated so far, then padding with token 0;
    * ``"length"``: ``Discrete(max_prompt_tokens + max_new_tokens + 1)``, how many leading
      entries of ``"tokens"`` are real (prompt and generated);
    * ``"prompt_length"``: ``Discrete(max_prompt_tokens + 1)``, how many of them are prompt.

    ## Rewards

    0 after every token but the last. The last step is rewarded with
    ``scorer(prompt, completion)``, the completion decoded to text without its
    ``<|endoftext|>``. The default scorer, ``"reward_model"``, is the shipped reward model
    (``aigc.envs.textgen.reward_model``), trained to prefer what the gold judge
    prefers for the target ``"positive"``: an unbounded score with mean 0 and standard
    deviation 1 over the reference model's samples and the corpus. ``"gold"`` is
    :class:`GoldJudge` itself (sentiment toward ``target`` times fluency, in [0, 1]). Any
    callable ``(prompt: str, completion: str) -> float`` may be passed instead.

    ## Starting State

    The observation holds the prompt alone. ``reset(options={"prompt": text})`` starts from
    a given text, ``options={"prompt_index": i}`` from the split's i-th prompt.

    ## Episode End

    The episode terminates when the action is ``<|endoftext|>`` or when ``max_new_tokens``
    tokens have been generated (the budget is part of the task and visible through
    ``"length"``, so this is termination, not truncation).

    ## Info

    ``reset`` gives ``prompt`` and ``prompt_index`` (-1 for a given prompt). The last
    ``step`` adds the metrics that are computed here, on the evaluator's side: ``completion``,
    ``ended_by`` (``"end_of_text"`` or ``"max_new_tokens"``), ``completion_tokens``,
    ``score`` (the reward), ``gold``, ``gold_sentiment`` and ``gold_fluency`` (the gold
    judge's verdict, whatever the scorer), ``distinct_1`` and ``distinct_2`` (share of
    distinct word n-grams in the completion) and, when a ``reference_lm`` is given, ``nll``:
    the completion's mean negative log-likelihood per token under it, in nats.

    ## Arguments

    * ``max_new_tokens`` (32): the token budget of a completion.
    * ``max_prompt_tokens`` (32): prompts longer than this are left out of the split.
    * ``split`` (``"train"``): ``"train"`` or ``"heldout"`` prompts.
    * ``scorer`` (``"reward_model"``): ``"reward_model"``, ``"gold"`` or a callable
      ``(prompt, completion) -> float``.
    * ``target`` (``"positive"``): the sentiment the gold judge rewards.
    * ``reference_lm`` (None): None, ``"default"`` (the shipped reference model), a path to a
      model saved by ``aigc.envs.textgen.lm.save_lm``, or a callable
      ``(prompt_ids, completion_ids) -> nats per token``.
    * ``render_mode`` (None): None or ``"ansi"`` (the prompt and completion as text).

    ## Version History

    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}  # noqa: RUF012 (Gymnasium's API)

    def __init__(
        self,
        max_new_tokens: int = 32,
        max_prompt_tokens: int = 32,
        split: str = "train",
        scorer: str | Scorer = "reward_model",
        target: Target = "positive",
        reference_lm: str | Path | NLLScorer | None = None,
        render_mode: str | None = None,
    ) -> None:
        if max_new_tokens < 1 or max_prompt_tokens < 1:
            raise ValueError(
                f"max_new_tokens={max_new_tokens} and max_prompt_tokens={max_prompt_tokens} "
                "must both be at least 1"
            )
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unknown render_mode {render_mode!r}: use None or 'ansi'")
        self.max_new_tokens = max_new_tokens
        self.max_prompt_tokens = max_prompt_tokens
        self.split = check_split(split)
        self.render_mode = render_mode
        self.tokenizer = load_tokenizer()
        self.vocab_size = self.tokenizer.get_vocab_size()
        self.gold_judge = GoldJudge(target)
        self.scorer = self._resolve_scorer(scorer)
        self.reference_lm = self._resolve_reference(reference_lm)

        self.prompts, self.prompt_ids = fitting_prompts(self.split, max_prompt_tokens)
        if not self.prompts:
            raise ValueError(f"no {split} prompt fits in max_prompt_tokens={max_prompt_tokens}")

        self.max_length = max_prompt_tokens + max_new_tokens
        self.action_space = spaces.Discrete(self.vocab_size)
        self.observation_space = spaces.Dict(
            {
                "tokens": spaces.Box(0, self.vocab_size - 1, (self.max_length,), np.int64),
                "length": spaces.Discrete(self.max_length + 1),
                "prompt_length": spaces.Discrete(max_prompt_tokens + 1),
            }
        )
        self._prompt = ""
        self._prompt_tokens: list[int] = []
        self._generated: list[int] = []
        self._completion = ""
        self._done = True

    def _resolve_scorer(self, scorer: str | Scorer) -> Scorer:
        if scorer == "gold":
            return self.gold_judge
        if scorer == "reward_model":
            if self.gold_judge.target != "positive":
                raise ValueError(
                    "the shipped reward model rewards positive text: pass target='positive', "
                    "or scorer='gold' for another target"
                )
            from aigc.envs.textgen.reward_model import shipped_reward_scorer  # loads torch

            return shipped_reward_scorer()
        if callable(scorer):
            return scorer
        raise ValueError(
            f"unknown scorer {scorer!r}: use 'reward_model', 'gold' or a callable "
            "(prompt, completion)"
        )

    def _resolve_reference(self, reference: str | Path | NLLScorer | None) -> NLLScorer | None:
        if reference is None or callable(reference):
            return reference
        from aigc.envs.textgen.lm import ReferenceLM, shipped_reference_lm  # needs torch

        model = shipped_reference_lm() if reference == "default" else ReferenceLM(Path(reference))
        if model.block_size < self.max_prompt_tokens + self.max_new_tokens + 1:
            raise ValueError(
                f"the reference model reads at most {model.block_size} tokens: lower "
                "max_prompt_tokens + max_new_tokens below that"
            )
        return model

    def _observation(self) -> dict[str, Any]:
        ids = self._prompt_tokens + self._generated
        tokens = np.full(self.max_length, END_OF_TEXT_ID, dtype=np.int64)
        tokens[: len(ids)] = ids
        return {
            "tokens": tokens,
            "length": np.int64(len(ids)),
            "prompt_length": np.int64(len(self._prompt_tokens)),
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start a completion of a prompt drawn from the split (or given in ``options``)."""
        super().reset(seed=seed)
        options = options or {}
        if "prompt" in options:
            index = -1
            self._prompt = str(options["prompt"])
            self._prompt_tokens = self.tokenizer.encode(self._prompt).ids
            if not 1 <= len(self._prompt_tokens) <= self.max_prompt_tokens:
                raise ValueError(
                    f"the prompt has {len(self._prompt_tokens)} tokens: give one of 1 to "
                    f"max_prompt_tokens={self.max_prompt_tokens}"
                )
        else:
            given = options.get("prompt_index")
            index = int(self.np_random.integers(len(self.prompts)) if given is None else given)
            if not 0 <= index < len(self.prompts):
                raise ValueError(
                    f"prompt_index={index} is out of range: the {self.split} split has "
                    f"{len(self.prompts)} prompts"
                )
            self._prompt = self.prompts[index]
            self._prompt_tokens = list(self.prompt_ids[index])
        self._generated = []
        self._completion = ""
        self._done = False
        return self._observation(), {"prompt": self._prompt, "prompt_index": index}

    def step(self, action: int | np.integer) -> tuple[dict[str, Any], float, bool, bool, dict]:
        """Append one token; at the end of the completion, score it."""
        return step_batch([self], [action])[0]

    @staticmethod
    def step_batch(envs: Sequence[TextGenEnv], actions: Sequence[int | np.integer]) -> list:
        """Step several environments at once: see :func:`step_batch`."""
        return step_batch(envs, actions)

    @staticmethod
    def step_batch_then_score(
        envs: Sequence[TextGenEnv], actions: Sequence[int | np.integer]
    ) -> tuple[list[StepResult], Callable[[], dict[int, tuple[float, dict[str, Any]]]]]:
        """Step several environments at once, scoring later: see :func:`step_batch_then_score`."""
        return step_batch_then_score(envs, actions)

    def _append(self, action: int | np.integer) -> str | None:
        """Append one token (checked by the caller); return why the completion ends with it,
        or None."""
        token = int(action)
        self._generated.append(token)
        if token == END_OF_TEXT_ID:
            return "end_of_text"
        if len(self._generated) >= self.max_new_tokens:
            return "max_new_tokens"
        return None

    def _end(self) -> None:
        self._done = True
        ended = self._generated[-1] == END_OF_TEXT_ID
        self._completion = self.tokenizer.decode(self._generated[:-1] if ended else self._generated)

    def render(self) -> str | None:  # type: ignore[override]  # ansi frames are text
        """Return the prompt and the completion so far as text (``render_mode="ansi"``)."""
        if self.render_mode != "ansi":
            return None
        completion = self._completion if self._done else self.tokenizer.decode(self._generated)
        return f"{self._prompt}{completion}"


StepResult = tuple[dict[str, Any], float, bool, bool, dict[str, Any]]


def step_batch(envs: Sequence[TextGenEnv], actions: Sequence[int | np.integer]) -> list[StepResult]:
    """Step each environment with its token, as ``env.step`` does, and score the completions
    that end in one batch per scorer and per reference model.

    Each action is checked before any environment changes. A scorer with a ``score_batch``
    method and a reference model with an ``nll_batch`` method (the shipped ones) score the
    completions in one call; others are called once per completion.
    """
    results, score = step_batch_then_score(envs, actions)
    for row, (reward, info) in score().items():
        observation, _, terminated, truncated, _ = results[row]
        results[row] = (observation, reward, terminated, truncated, info)
    return results


def step_batch_then_score(
    envs: Sequence[TextGenEnv], actions: Sequence[int | np.integer]
) -> tuple[list[StepResult], Callable[[], dict[int, tuple[float, dict[str, Any]]]]]:
    """Step as :func:`step_batch` does, but leave the scoring of the completions that end to
    the function returned.

    The results give each completion that ends a reward of 0 and an empty info; the function
    returns their rewards and infos by row, as :func:`step_batch` gives them. What it scores
    is taken at the step, so an environment may be reset before it is called: an evaluator
    sends the agent its next observations first and scores while the agent computes.
    """
    if len(envs) != len(actions):
        raise ValueError(f"{len(envs)} environments and {len(actions)} actions: give one each")
    for env, action in zip(envs, actions, strict=True):
        if env._done:
            raise RuntimeError("the episode has ended: call reset() before step()")
        if not env.action_space.contains(np.int64(int(action))):
            raise ValueError(
                f"action {action!r} is not a token id: give an int in [0, {env.vocab_size})"
            )
    ended_by = [env._append(action) for env, action in zip(envs, actions, strict=True)]
    results: list[StepResult] = []
    ended: dict[int, _Ended] = {}
    for row, (env, why) in enumerate(zip(envs, ended_by, strict=True)):
        if why is not None:
            env._end()
            ended[row] = _Ended(
                env, env._prompt, env._prompt_tokens, list(env._generated), env._completion, why
            )
        results.append((env._observation(), 0.0, why is not None, False, {}))

    def score() -> dict[int, tuple[float, dict[str, Any]]]:
        ending = list(ended.values())
        with _one_thread():
            rewards = _batched(
                ending, lambda e: e.env.scorer, "score_batch", lambda e: (e.prompt, e.completion)
            )
            nlls = _batched(
                ending,
                lambda e: e.env.reference_lm,
                "nll_batch",
                lambda e: (e.prompt_tokens, e.generated),
            )
        scored = {}
        for row, episode in ended.items():
            reward = rewards[id(episode)]
            assert reward is not None
            scored[row] = (reward, episode.metrics(reward, nlls[id(episode)]))
        return scored

    return results, score


@dataclasses.dataclass(frozen=True)
class _Ended:
    """A completion that has ended, as its environment held it at its last step."""

    env: TextGenEnv
    prompt: str
    prompt_tokens: list[int]
    generated: list[int]
    completion: str
    ended_by: str

    def metrics(self, reward: float, nll: float | None) -> dict[str, Any]:
        """The last step's info (see :class:`TextGenEnv`)."""
        if not math.isfinite(reward):
            raise ValueError(
                f"the scorer returned {reward} for a completion: it must return a finite float"
            )
        gold = self.env.gold_judge.score(self.prompt, self.completion)
        info: dict[str, Any] = {
            "prompt": self.prompt,
            "completion": self.completion,
            "ended_by": self.ended_by,
            "completion_tokens": len(self.generated),
            "score": reward,
            "gold": gold.gold,
            "gold_sentiment": gold.sentiment,
            "gold_fluency": gold.fluency,
            "distinct_1": distinct_n(self.completion, 1),
            "distinct_2": distinct_n(self.completion, 2),
        }
        if nll is not None:
            info["nll"] = nll
        return info


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Let torch compute on one thread: a few short sequences at a time gain nothing from
    more, and in the evaluator the agent computes on the other cores at the same time."""
    torch = sys.modules.get("torch")  # the shipped scorers have imported it; others may not
    if torch is None:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _batched(
    ended: Sequence[_Ended],
    judge_of: Callable[[_Ended], Callable[[Any, Any], float] | None],
    batch_method: str,
    arguments: Callable[[_Ended], tuple[Any, Any]],
) -> dict[int, float | None]:
    """Call each completion's judge on its arguments, one batch per judge that has
    ``batch_method``; return the values by ``id`` of the completion (None where there is no
    judge)."""
    values: dict[int, float | None] = {}
    groups: dict[int, list[_Ended]] = {}
    for episode in ended:
        groups.setdefault(id(judge_of(episode)), []).append(episode)
    for group in groups.values():
        judge = judge_of(group[0])
        if judge is None:
            values.update((id(episode), None) for episode in group)
            continue
        batch = getattr(judge, batch_method, None)
        pairs = [arguments(episode) for episode in group]
        if batch is None:
            scores = [judge(*pair) for pair in pairs]
        else:
            scores = batch(*zip(*pairs, strict=True))
        values.update(
            (id(episode), float(score)) for episode, score in zip(group, scores, strict=True)
        )
    return values
