"""The byte-level BPE tokenizer shipped with the text-generation environment.

``data/tokenizer.json`` is built by ``scripts/textgen/build_tokenizer.py`` from the training
split of the corpus. Being byte-level, it encodes any text and decodes it back unchanged;
its one special token, ``<|endoftext|>`` (id 0), ends a completion and pads observations.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from aigc.envs.textgen.corpus import DATA_DIR

END_OF_TEXT = "<|endoftext|>"
END_OF_TEXT_ID = 0
DEFAULT_VOCAB_SIZE = 4096
TOKENIZER_PATH = DATA_DIR / "tokenizer.json"


def train_tokenizer(texts: Iterable[str], vocab_size: int = DEFAULT_VOCAB_SIZE) -> Tokenizer:
    """Train a byte-level BPE tokenizer of ``vocab_size`` tokens on ``texts``."""
    if vocab_size < 257:
        raise ValueError(f"vocab_size={vocab_size} is too small: use at least 257 (256 bytes + 1)")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[END_OF_TEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    if tokenizer.token_to_id(END_OF_TEXT) != END_OF_TEXT_ID:
        raise RuntimeError(f"{END_OF_TEXT} did not get id {END_OF_TEXT_ID}")
    return tokenizer


@functools.cache
def load_tokenizer(path: Path = TOKENIZER_PATH) -> Tokenizer:
    """Load a tokenizer JSON file (by default the shipped one) and check its special token."""
    if not Path(path).is_file():
        raise FileNotFoundError(
            f"{path} is missing: reinstall aigc, or rebuild it with "
            "`python scripts/textgen/build_tokenizer.py`"
        )
    tokenizer = Tokenizer.from_file(str(path))
    if tokenizer.token_to_id(END_OF_TEXT) != END_OF_TEXT_ID:
        raise ValueError(f"{path} is not an AIGC tokenizer: {END_OF_TEXT} must have id 0")
    return tokenizer


def tokenizer_sha256(path: Path = TOKENIZER_PATH) -> str:
    """Return the sha256 of a tokenizer file, which models record to catch a mismatch."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
