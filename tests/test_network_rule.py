"""Tests and benchmarks send traffic only to loopback, even when what they test fails.

A containment test must send nothing off this machine if the sandbox ever broke: its
probes may try only this machine's own addresses (127.0.0.0/8, ::1), never another
address, a gateway or a name that needs a lookup.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).parents[1]
FOLDERS = ("tests", "benchmarks", "scripts")
SUFFIXES = {".py", ".sh", ".toml", ".yaml", ".yml", ".cfg", ".ini"}
IPV4 = re.compile(r"(?<![\w.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w.])")
LOOKUP = re.compile(r"\b(getaddrinfo|gethostbyname(_ex)?|gethostbyaddr|getnameinfo|getfqdn)\(")
CONNECT = re.compile(r"\b(create_connection|connect|connect_ex)\(\(\s*[\"']([^\"']*)[\"']")


def lines() -> Iterator[tuple[str, int, str]]:
    """Every line of the text sources under FOLDERS, with its file and number."""
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in SUFFIXES and path.is_file():
                text = path.read_text(encoding="utf-8", errors="replace")
                for number, line in enumerate(text.splitlines(), 1):
                    yield str(path.relative_to(ROOT)), number, line


def is_loopback(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:  # not an address at all (e.g. a name)
        return False


def test_every_address_in_tests_and_benchmarks_is_loopback():
    found = [
        f"{path}:{number}: {match[0]}"
        for path, number, line in lines()
        for match in IPV4.finditer(line)
        if not is_loopback(match[0])
    ]
    assert found == [], "addresses off this machine:\n" + "\n".join(found)


def test_no_test_or_benchmark_looks_a_name_up():
    found = [
        f"{path}:{number}: {line.strip()}"
        for path, number, line in lines()
        if LOOKUP.search(line) and path != "tests/test_network_rule.py"
    ]
    assert found == [], "name lookups (DNS):\n" + "\n".join(found)


def test_every_connection_by_literal_goes_to_loopback():
    found = [
        f"{path}:{number}: {line.strip()}"
        for path, number, line in lines()
        for match in CONNECT.finditer(line)
        if not is_loopback(match[2])
    ]
    assert found == [], "connections off this machine:\n" + "\n".join(found)
