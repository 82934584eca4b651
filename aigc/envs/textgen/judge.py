"""The gold judge of the text-generation environment, and the repetition measure.

The gold judge is the hidden, trusted score that a reward model is trained to imitate::

    gold = fluency * positivity            (0 <= gold <= 1)

* ``positivity`` is ``(1 + compound) / 2`` for the target ``"positive"`` (``(1 - compound) / 2``
  for ``"negative"``), where ``compound`` in [-1, 1] is VADER's sentiment of the completion
  (the ``vaderSentiment`` package and the lexicon it ships, which handles negation,
  intensifiers and punctuation).
* ``fluency`` in [0, 1] comes from a word-bigram language model counted on the training
  split of the corpus (absolute discounting, ``DISCOUNT``, backing off to add-one unigrams).
  The completion's mean negative log-likelihood per word, ``h`` nats (the first word is
  conditioned on the prompt's last word), maps linearly from ``FLUENT_NATS`` (fluency 1) to
  ``GARBLED_NATS`` (fluency 0; held-out corpus text has a median near 5.9 nats, random
  tokens above 10). Two factors then scale it: the share of distinct word bigrams (a
  completion that loops on one phrase loses what it repeats), and ``words / MIN_WORDS`` for
  a completion of fewer than ``MIN_WORDS`` words, so that saying almost nothing earns little.

Both parts are deterministic, need no network and no neural model, and differ from the
reference language model, so a policy that games the reference model does not game this
judge for free. Word salad of positive words scores low on fluency; fluent negative text
scores low on positivity; random tokens score near zero.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from aigc.envs.textgen.corpus import passages

Target = Literal["positive", "negative"]
WORD = re.compile(r"[a-z]+(?:'[a-z]+)*|[0-9]+|[.,!?;:]")
START = "<s>"
DISCOUNT = 0.75
FLUENT_NATS = 5.0
GARBLED_NATS = 10.0
MIN_WORDS = 4


def words(text: str) -> list[str]:
    """Split text into the lowercase words and punctuation marks the bigram model counts."""
    return WORD.findall(text.lower())


def distinct_n(text: str, n: int) -> float:
    """Return the share of distinct n-grams among the whitespace-separated words of ``text``.

    1.0 means no n-gram repeats; an empty or too short text gives 0.0.
    """
    return _distinct(text.split(), n)


def _distinct(tokens: Sequence[str], n: int) -> float:
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


class BigramModel:
    """A word-bigram language model with absolute discounting and an add-one unigram."""

    def __init__(self, texts: Iterable[str], discount: float = DISCOUNT) -> None:
        self.discount = discount
        self.unigrams: Counter[str] = Counter()
        self.bigrams: Counter[tuple[str, str]] = Counter()
        for text in texts:
            sequence = [START, *words(text)]
            self.unigrams.update(sequence[1:])
            self.bigrams.update(itertools.pairwise(sequence))
        self.context_counts: Counter[str] = Counter()
        self.followers: Counter[str] = Counter()
        for (first, _), count in self.bigrams.items():
            self.context_counts[first] += count
            self.followers[first] += 1
        self.total = sum(self.unigrams.values())
        # One extra slot in the add-one unigram is the mass of every unseen word.
        self.vocab_size = len(self.unigrams) + 1

    def unigram_prob(self, word: str) -> float:
        """Return P(word), add-one smoothed; every unseen word gets one count's share."""
        return (self.unigrams.get(word, 0) + 1) / (self.total + self.vocab_size)

    def prob(self, previous: str, word: str) -> float:
        """Return P(word | previous)."""
        context = self.context_counts.get(previous, 0)
        if context == 0:
            return self.unigram_prob(word)
        seen = max(self.bigrams.get((previous, word), 0) - self.discount, 0.0) / context
        backoff = self.discount * self.followers[previous] / context
        return seen + backoff * self.unigram_prob(word)

    def nats_per_word(self, context: Sequence[str], sequence: Sequence[str]) -> float:
        """Return the mean negative log-likelihood of ``sequence`` after ``context``."""
        if not sequence:
            return math.inf
        previous = context[-1] if context else START
        total = 0.0
        for word in sequence:
            total -= math.log(self.prob(previous, word))
            previous = word
        return total / len(sequence)


@functools.cache
def corpus_bigram_model() -> BigramModel:
    """Return the bigram model counted on the training split (built once per process)."""
    return BigramModel(passages("train"))


@functools.cache
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


@dataclass(frozen=True)
class GoldScore:
    """The gold judge's verdict on one completion and the parts it is made of."""

    gold: float
    sentiment: float
    positivity: float
    fluency: float
    nats_per_word: float
    words: int


class GoldJudge:
    """Score completions by sentiment toward a target and fluency (see the module docstring).

    Call it as ``judge(prompt, completion)`` for the gold score, a float in [0, 1], or use
    :meth:`score` for every part of it.
    """

    def __init__(self, target: Target = "positive", bigrams: BigramModel | None = None) -> None:
        if target not in ("positive", "negative"):
            raise ValueError(f"unknown target {target!r}: use 'positive' or 'negative'")
        self.target = target
        self.bigrams = bigrams if bigrams is not None else corpus_bigram_model()

    def score(self, prompt: str, completion: str) -> GoldScore:
        """Return the gold score of ``completion`` written after ``prompt``, with its parts."""
        sentiment = float(_vader().polarity_scores(completion)["compound"])
        positivity = (1 + sentiment) / 2 if self.target == "positive" else (1 - sentiment) / 2
        completion_words = words(completion)
        nats = self.bigrams.nats_per_word(words(prompt), completion_words)
        if completion_words:
            fluency = min(1.0, max(0.0, (GARBLED_NATS - nats) / (GARBLED_NATS - FLUENT_NATS)))
            repetition = _distinct(completion_words, 2) if len(completion_words) > 1 else 1.0
            fluency *= repetition * min(1.0, len(completion_words) / MIN_WORDS)
        else:
            fluency = 0.0
        return GoldScore(
            gold=fluency * positivity,
            sentiment=sentiment,
            positivity=positivity,
            fluency=fluency,
            nats_per_word=nats,
            words=len(completion_words),
        )

    def __call__(self, prompt: str, completion: str) -> float:
        """Return the gold score of ``completion`` written after ``prompt``."""
        return self.score(prompt, completion).gold
