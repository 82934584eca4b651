"""Build the text-generation tokenizer from the corpus's training split.

``python scripts/textgen/build_tokenizer.py`` writes ``aigc/envs/textgen/data/tokenizer.json``
(byte-level BPE, 4096 tokens) and prints its sha256. Training is deterministic: the same
corpus and vocabulary size give the same file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aigc.envs.textgen.corpus import passages
from aigc.envs.textgen.tokenizer import (
    DEFAULT_VOCAB_SIZE,
    TOKENIZER_PATH,
    tokenizer_sha256,
    train_tokenizer,
)


def main(argv: list[str] | None = None) -> int:
    """Train the tokenizer, write it and print its size and sha256."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab-size", type=int, default=DEFAULT_VOCAB_SIZE)
    parser.add_argument("--output", type=Path, default=TOKENIZER_PATH)
    args = parser.parse_args(argv)
    tokenizer = train_tokenizer(passages("train"), vocab_size=args.vocab_size)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(args.output), pretty=False)
    size = args.output.stat().st_size
    print(
        f"wrote {tokenizer.get_vocab_size()} tokens, {size} bytes, to {args.output}\n"
        f"sha256 {tokenizer_sha256(args.output)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
