"""Wheels of distributions installed here, for tests that must not reach a package index.

A wheel is made of the files an installed distribution lists in its RECORD (byte-compiled
caches and the installer's own marks left out), with a fresh RECORD: the same release, as
pip would have downloaded it, but read from this machine's disk.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import zipfile
from pathlib import Path

STAMP = (2020, 1, 1, 0, 0, 0)  # the same bytes every time: the same wheelhouse, the same image
INSTALLER_FILES = {"INSTALLER", "REQUESTED", "direct_url.json", "RECORD"}


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel_of_installed(name: str, folder: Path) -> Path:
    """Write the wheel of the installed distribution ``name`` into ``folder``; return it."""
    dist = importlib.metadata.distribution(name)
    files = [
        f
        for f in dist.files or ()
        if "__pycache__" not in f.parts
        and not f.name.endswith(".pyc")
        and not (f.parts[0].endswith(".dist-info") and f.name in INSTALLER_FILES)
        and not f.parts[0].startswith("..")
    ]
    info = next(f.parts[0] for f in files if f.parts[0].endswith(".dist-info"))
    stem = info.removesuffix(".dist-info")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{stem}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(files, key=str):
            data = Path(f.locate()).read_bytes()
            zf.writestr(zipfile.ZipInfo(f.as_posix(), date_time=STAMP), data)
            record.append(f"{f.as_posix()},{_hash(data)},{len(data)}")
        record.append(f"{info}/RECORD,,")
        zf.writestr(zipfile.ZipInfo(f"{info}/RECORD", date_time=STAMP), "\n".join(record) + "\n")
    return target
