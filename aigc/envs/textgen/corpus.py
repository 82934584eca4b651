"""The English text the text-generation environment draws its prompts from.

The passages are quotations, aphorisms and short literary excerpts from Debian's
``fortunes`` package (BSD licence, see ``data/LICENSE``), cleaned into one passage per line
by ``scripts/textgen/build_corpus.py``. Each passage belongs to one split for good: a
passage is held out when the first bytes of its sha256 fall in the lowest ``HELDOUT_PERCENT``
percent, so adding or removing passages never moves another one across the split.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Literal, get_args

Split = Literal["train", "heldout"]
SPLITS: tuple[str, ...] = get_args(Split)
DATA_DIR = Path(__file__).resolve().parent / "data"
CORPUS_PATH = DATA_DIR / "corpus.txt"
HELDOUT_PERCENT = 10
PROMPT_MIN_WORDS = 3
PROMPT_MAX_WORDS = 8


def split_of(passage: str) -> Split:
    """Return the split a passage belongs to (a pure function of its text)."""
    digest = hashlib.sha256(passage.encode("utf-8")).digest()
    return "heldout" if int.from_bytes(digest[:4], "big") % 100 < HELDOUT_PERCENT else "train"


def check_split(split: str) -> Split:
    """Return ``split`` if it names a split, else raise a ValueError that lists them."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    return split  # type: ignore[return-value]


@functools.cache
def _all_passages() -> tuple[str, ...]:
    if not CORPUS_PATH.is_file():
        raise FileNotFoundError(
            f"{CORPUS_PATH} is missing: reinstall aigc, or rebuild it with "
            "`python scripts/textgen/build_corpus.py`"
        )
    lines = CORPUS_PATH.read_text(encoding="utf-8").splitlines()
    return tuple(line for line in lines if line.strip())


@functools.cache
def passages(split: Split) -> tuple[str, ...]:
    """Return the passages of one split, in corpus order."""
    check_split(split)
    return tuple(p for p in _all_passages() if split_of(p) == split)


def prompt_of(passage: str) -> str:
    """Return the opening of a passage: half its words, at least 3 and at most 8."""
    words = passage.split()
    n = min(PROMPT_MAX_WORDS, max(PROMPT_MIN_WORDS, len(words) // 2))
    return " ".join(words[:n])


@functools.cache
def prompts(split: Split) -> tuple[str, ...]:
    """Return the distinct prompts of one split, in corpus order."""
    seen: dict[str, None] = {}
    for passage in passages(split):
        seen.setdefault(prompt_of(passage), None)
    return tuple(seen)
