"""Build the text-generation corpus from Debian's ``fortunes`` package.

Run ``apt-get install fortunes`` (Debian 12 ships 1:1.99.1-7.3), then
``python scripts/textgen/build_corpus.py``. The script reads the cookie files under
``/usr/share/games/fortunes``, keeps the prose (no ASCII art, code, chat logs or tables),
drops the attribution lines, joins each cookie into one line and writes the passages,
deduplicated and in a fixed order, to ``aigc/envs/textgen/data/corpus.txt``. The same
package version always gives the same bytes; the sha256 printed at the end lets a reviewer
check that.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import unicodedata
from pathlib import Path

FORTUNES_DIR = Path("/usr/share/games/fortunes")
OUTPUT = Path(__file__).resolve().parents[2] / "aigc" / "envs" / "textgen" / "data" / "corpus.txt"

# Cookie files of English prose. Left out: ASCII art, chat logs, code, Linux and Debian
# tips, the multilingual file, Zippy the Pinhead's non sequiturs, and ethnic jokes.
FILES = (
    "art", "computers", "cookie", "definitions", "drugs", "education", "food", "fortunes",
    "goedel", "humorists", "kids", "law", "literature", "love", "magic", "medicine",
    "men-women", "miscellaneous", "news", "paradoxum", "people", "pets", "platitudes",
    "politics", "pratchett", "riddles", "science", "songs-poems", "sports", "startrek",
    "tao", "wisdom", "work",
)  # fmt: skip
MIN_WORDS = 6
MAX_CHARS = 1200
# A line that starts an attribution ("    -- Mark Twain") or a source note.
ATTRIBUTION = re.compile(r"^\s*(--|- [A-Z]|~~|\[[A-Z][^\]]*\]\s*$)")
# Characters that mark code, tables, chat logs, ASCII art or addresses.
NOT_PROSE = re.compile(r"[<>{}|\\_=#@*^~`$]|https?:|www\.|\.com\b|\t\S.*\t|  +\S+  +\S+  +")
ALLOWED = re.compile(r"^[A-Za-z0-9 .,;:!?'\"()&%/+-]+$")
ASCII_FOLD = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "--"})


def cookies(path: Path) -> list[str]:
    """Return the cookies of one fortune file (they are separated by lines holding ``%``)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return [c for c in re.split(r"^%$", text, flags=re.MULTILINE) if c.strip()]


def clean(cookie: str) -> str | None:
    """Return the cookie as one line of prose, or None when it is not prose."""
    lines: list[str] = []
    for line in cookie.strip("\n").splitlines():
        if ATTRIBUTION.match(line):
            break  # everything after the attribution is more of it
        lines.append(line)
    body = "\n".join(lines)
    if not body.strip() or NOT_PROSE.search(body):
        return None
    text = unicodedata.normalize("NFKC", body).translate(ASCII_FOLD)
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > MAX_CHARS or len(text.split()) < MIN_WORDS or not ALLOWED.match(text):
        return None
    letters = sum(ch.isalpha() for ch in text)
    if letters < 0.7 * len(text.replace(" ", "")) or text.isupper():
        return None
    return text


def build(source: Path) -> list[str]:
    """Return the cleaned, deduplicated passages of every file in FILES, in file order."""
    missing = [name for name in FILES if not (source / name).is_file()]
    if missing:
        raise SystemExit(
            f"{source} lacks {', '.join(missing)}: run `apt-get install fortunes` first"
        )
    seen: set[str] = set()
    passages: list[str] = []
    for name in FILES:
        for cookie in cookies(source / name):
            text = clean(cookie)
            if text is not None and text.lower() not in seen:
                seen.add(text.lower())
                passages.append(text)
    return passages


def main(argv: list[str] | None = None) -> int:
    """Write the corpus and print its size and sha256."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=FORTUNES_DIR, help="fortune files")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="corpus to write")
    args = parser.parse_args(argv)
    passages = build(args.source)
    data = ("\n".join(passages) + "\n").encode("utf-8")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    print(
        f"wrote {len(passages)} passages, {len(data)} bytes, to {args.output}\n"
        f"sha256 {hashlib.sha256(data).hexdigest()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
