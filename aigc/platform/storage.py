"""Uploaded packages, stored once by the sha256 of their bytes, outside any served folder."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aigc.submissions.archive import ArchiveLimits
from aigc.submissions.bundle import open_bundle
from aigc.submissions.package import compile_package, open_package
from aigc.submissions.runtime_packages import unpacked


class PackageStore:
    """A folder of archives named by their sha256: the same upload is stored once."""

    def __init__(self, root: Path, limits: ArchiveLimits | None = None):
        self.root = Path(root)
        self.limits = limits or ArchiveLimits()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store the bytes (atomically, once) and return their sha256."""
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path(sha256)
        if target.exists():
            return sha256
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(temporary, 0o640)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return sha256

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    @contextmanager
    def unpacked_bundle(self, sha256: str) -> Iterator[Path]:
        """Yield the folder of a stored challenge bundle, extracted afresh and removed after."""
        with open_bundle(self.path(sha256), self.limits) as bundle:
            yield bundle.folder

    @contextmanager
    def unpacked_wheelhouse(self, sha256: str) -> Iterator[Path]:
        """Yield the folder of a stored wheelhouse (a challenge's runtime packages)."""
        with unpacked(self.read(sha256)) as folder:
            yield folder

    @contextmanager
    def unpacked(self, sha256: str) -> Iterator[Path]:
        """Yield the package folder of a stored archive, extracted afresh and, unless its
        Python is small, byte-compiled (:func:`compile_package`), removed after."""
        with open_package(self.path(sha256), self.limits) as folder:
            compile_package(folder)
            yield folder
