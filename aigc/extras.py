"""The install's extras: which packages each adds, and the one-line error when one is missing.

``pip install aigc`` is the participant's install: writing, checking and evaluating agents
and working with a platform server. The platform, training and the text challenge need more
(``pyproject.toml`` lists each extra's packages); a command that needs an extra checks for
it before it starts, without importing anything.
"""

from __future__ import annotations

import importlib.util

# Each extra's import names (the packages pyproject.toml lists under it); gunicorn is left
# out: nothing here imports it, it only serves aigc.platform.wsgi:app.
MODULES: dict[str, tuple[str, ...]] = {
    "text": ("torch", "tokenizers", "vaderSentiment"),
    "train": ("torch", "matplotlib"),
    "platform": (
        "flask",
        "sqlalchemy",
        "alembic",
        "celery",
        "psycopg",
        "waitress",
        "markdown_it",
        "torch",
        "tokenizers",
        "vaderSentiment",
        "imageio",
        "imageio_ffmpeg",
    ),
    "replay": ("imageio", "imageio_ffmpeg"),
}
NAMES = {"text": "text", "train": "training", "platform": "platform", "replay": "replay"}


class MissingExtra(ImportError):
    """An extra that a command or environment needs is not installed; ``str`` says how."""

    def __init__(self, extra: str, what: str) -> None:
        super().__init__(f"{what}: needs the {NAMES[extra]} extra: pip install 'aigc[{extra}]'")
        self.extra = extra


def missing_modules(extra: str) -> list[str]:
    """The extra's modules that cannot be imported here (found without importing them)."""
    return [name for name in MODULES[extra] if importlib.util.find_spec(name) is None]


def require(extra: str, what: str) -> None:
    """Raise :class:`MissingExtra` naming ``what`` needs it unless the extra is installed."""
    if missing_modules(extra):
        raise MissingExtra(extra, what)
