"""Text from outside: storable in every database, harmless on every terminal."""

from __future__ import annotations

import pytest

from aigc.safe_text import REPLACEMENT, file_name, printable, storable

# What the issue names: C0 but newline and tab, ESC, C1, and the bidi controls.
CONTROLS = (
    [chr(c) for c in range(0x20) if chr(c) not in "\n\t"]
    + ["\x7f"]
    + [chr(c) for c in range(0x80, 0xA0)]
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
)


def test_storable_replaces_nul_and_lone_surrogates_only():
    assert storable("a\x00b\udc80c\ud800") == f"a{REPLACEMENT}b{REPLACEMENT}c{REPLACEMENT}"
    text = "".join(map(chr, range(1, 0xD800)))
    assert storable(text) == text


@pytest.mark.parametrize("char", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_printable_shows_every_control_as_a_visible_escape(char):
    shown = printable(f"a{char}b")
    assert char not in shown
    escape = f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    assert shown == f"a{escape}b"


def test_printable_keeps_text_newlines_and_tabs():
    text = "épreuve 試験 ✓ — line\n\tindented"
    assert printable(text) == text
    assert printable(text, one_line=True) == "épreuve 試験 ✓ — line  indented"


def test_printable_defuses_real_attacks():
    attack = "\x1b[2J\x1b]52;c;aGk=\x07\x9b31m\u202eexe.txt\udc80"
    shown = printable(attack)
    assert shown == "\\x1b[2J\\x1b]52;c;aGk=\\x07\\x9b31m\\u202eexe.txt" + REPLACEMENT
    assert shown.isprintable()


def test_file_name_keeps_the_last_part_and_replaces_controls():
    assert file_name("../../etc/agent.zip") == "agent.zip"
    assert file_name("C:\\Users\\me\\agent.zip") == "agent.zip"
    assert file_name("ag\r\nX-Evil: 1\x00\u202ept.zip") == "ag__X-Evil: 1\ufffd_pt.zip"
    assert len(file_name("a" * 1000 + ".zip")) == 255
