"""Challenge bundles: `challenge.yaml` at the top of a folder or archive, the code beside it.

A bundle is checked like an agent package: an archive goes through the same checks
(:mod:`aigc.submissions.archive`) before anything is unpacked, into a fresh folder. The
spec's ``environment.entry_point`` names a module of the bundle (see
:mod:`aigc.submissions.challenge`). A bare YAML file keeps working for registered
environments.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aigc.submissions.archive import (
    ArchiveLimits,
    folder_of,
)
from aigc.submissions.challenge import ChallengeSpec, SpecError, parse_challenge_yaml

SPEC_NAME = "challenge.yaml"
# Left out when a folder is packed: caches and version control, never part of a bundle.
SKIPPED = frozenset({"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache"})


@dataclass(frozen=True)
class Bundle:
    """A checked bundle: its folder (while open), its spec's text and the spec."""

    folder: Path
    spec_yaml: str
    spec: ChallengeSpec


def find_bundle_root(folder: Path) -> Path:
    """Return the folder holding ``challenge.yaml``: ``folder`` or its only subfolder."""
    if (folder / SPEC_NAME).is_file():
        return folder
    children = [p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if len(children) == 1 and children[0].is_dir() and (children[0] / SPEC_NAME).is_file():
        return children[0]
    raise SpecError(
        f"no {SPEC_NAME} at the top of the bundle: put the spec beside the environment's code"
    )


def is_bundle_path(path: Path) -> bool:
    """Whether ``path`` is a bundle (a folder or an archive) rather than a bare YAML spec."""
    return Path(path).is_dir() or not str(path).lower().endswith((".yaml", ".yml"))


@contextmanager
def open_bundle(path: Path, limits: ArchiveLimits | None = None) -> Iterator[Bundle]:
    """Yield the checked bundle of a folder or archive (an archive unpacked afresh)."""
    missing = f"{path} does not exist: give a challenge YAML, a bundle folder or archive"
    with folder_of(path, limits or ArchiveLimits(), SpecError, missing) as folder:
        yield _read(find_bundle_root(folder))


def _read(root: Path) -> Bundle:
    try:
        text = (root / SPEC_NAME).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{SPEC_NAME} is not UTF-8 text: save it as UTF-8") from None
    return Bundle(root, text, parse_challenge_yaml(text, bundle=root))


def pack_bundle(folder: Path) -> bytes:
    """Zip a bundle folder (caches and version control left out), in a stable order."""
    root = find_bundle_root(Path(folder))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if SKIPPED & set(relative.parts) or path.suffix == ".pyc":
                continue
            if path.is_symlink():
                raise SpecError(f"{relative} is a symbolic link: replace it with the file itself")
            if path.is_file():
                info = zipfile.ZipInfo(relative.as_posix(), date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                zf.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
