"""Text from outside the platform, made safe to store and to show.

Participants control much of what the platform keeps and prints: an agent's output and
exception messages, package and file names, team names, query parameters. Such text may
hold anything Python's ``str`` can: NUL bytes (which PostgreSQL refuses in text), lone
surrogates (which no database can encode), terminal escape sequences (which clear a
reader's screen, fake coloured output, set window titles or write to the clipboard) and
bidirectional controls (which make a line read differently from what it holds).

:func:`storable` is applied at the storage boundary, by the database's text types, so
every column and every query parameter gets it. :func:`printable` is applied where
participant-controlled text reaches a terminal.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
# NUL, and lone surrogates (U+D800-U+DFFF): neither can be stored as text everywhere.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# C0 controls but tab and newline, DEL, C1 controls (U+0080-U+009F, among them the 8-bit
# CSI U+009B), and the bidirectional embeddings, overrides, isolates and marks.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def storable(text: str) -> str:
    """Replace what a database cannot store as text (NUL, lone surrogates) with U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, one_line: bool = False) -> str:
    """Show control characters as visible escapes (``\\x1b``, ``\\u202e``).

    Newlines and tabs stay, unless ``one_line`` is set: then each becomes a space.
    Lone surrogates, which no terminal can write, become U+FFFD.
    """
    if one_line:
        text = text.replace("\r\n", " ").replace("\n", " ").replace("\t", " ")
    return storable(_CONTROL.sub(_escape, text))


def short_message(text: str, limit: int = 500) -> str:
    """Outside text made a message to show: one line, controls escaped, at most ``limit``."""
    return printable(text, one_line=True)[:limit].strip()


def file_name(name: str, limit: int = 255) -> str:
    """The last part of an uploaded file's name, its control characters replaced by '_'.

    The name is stored, listed and sent back in ``Content-Disposition``: it must neither
    split a header nor reorder what a reader sees.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return _CONTROL.sub("_", storable(base).replace("\n", "_").replace("\t", "_")).strip()[:limit]
