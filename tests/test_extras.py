"""The install's extras: the modules aigc.extras checks for are the packages pyproject.toml
lists, and the agent-runtime image's torch is the one the extras pin."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from aigc.extras import MODULES, MissingExtra, missing_modules, require
from aigc.submissions.images import RUNTIME_TORCH

PYPROJECT = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
# Distribution name -> import name, where they differ; gunicorn serves the WSGI app and is
# imported by nothing.
IMPORT_NAMES = {
    "Flask": "flask",
    "SQLAlchemy": "sqlalchemy",
    "markdown-it-py": "markdown_it",
    "imageio-ffmpeg": "imageio_ffmpeg",
}
NOT_IMPORTED = {"gunicorn"}


def import_names(extra: str) -> set[str]:
    names = {Requirement(text).name for text in EXTRAS[extra]} - NOT_IMPORTED
    return {IMPORT_NAMES.get(name, name) for name in names}


@pytest.mark.parametrize("extra", sorted(MODULES))
def test_each_extra_checks_for_the_packages_it_installs(extra: str) -> None:
    assert set(MODULES[extra]) == import_names(extra)


def test_the_platform_carries_the_text_challenges_packages() -> None:
    assert set(MODULES["text"]) <= set(MODULES["platform"])


def test_the_base_install_has_no_server_library_nor_torch() -> None:
    base = {Requirement(text).name.lower() for text in PYPROJECT["project"]["dependencies"]}
    assert base.isdisjoint({"flask", "sqlalchemy", "alembic", "celery", "psycopg", "torch"})
    assert base.isdisjoint({"waitress", "gunicorn", "tokenizers", "vadersentiment"})


def test_the_image_torch_is_the_pinned_release_installed_here() -> None:
    for extra in ("text", "train", "platform"):
        (torch,) = (Requirement(t) for t in EXTRAS[extra] if Requirement(t).name == "torch")
        assert torch.specifier.contains(RUNTIME_TORCH)
    assert importlib.metadata.version("torch").split("+")[0] == RUNTIME_TORCH


def test_a_missing_extra_is_one_line_naming_the_install() -> None:
    assert missing_modules("platform") == []  # this environment has every extra
    require("text", "anything")
    error = MissingExtra("train", "aigc train")
    assert str(error) == "aigc train: needs the training extra: pip install 'aigc[train]'"
    assert isinstance(error, ImportError)
