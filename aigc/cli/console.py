"""What every ``aigc`` command prints with: its consoles, one-line errors, others' text."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.markup import escape

from aigc.safe_text import printable

# Piped output keeps whole lines: 80 columns would cut table cells short.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str) -> click.ClickException:
    """Return the one-line error a command raises to end with status 1."""
    return click.ClickException(printable(message, one_line=True))


def shown(text: object) -> str:
    """Text someone else wrote, ready for a rich string: its controls and markup escaped.

    An agent's messages, names and titles may hold terminal escape sequences and rich
    markup such as ``[/]``; both are shown as the characters they are.
    """
    return escape(printable(str(text)))


def show_progress(line: str) -> None:
    """Print a progress line from Docker or pip as it is: no markup, no emoji codes."""
    err.print(line, style="dim", markup=False, emoji=False, highlight=False)
