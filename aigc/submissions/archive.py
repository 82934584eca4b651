"""Safe inspection and extraction of uploaded agent archives (.zip and .tar.gz).

Uploads are hostile. Before anything is written, every member is checked: its name must stay
inside the package (no absolute path, ``..``, backslash or control character), it must be a
regular file or a folder (no link, device or FIFO) with no setuid, setgid or sticky bit, names
must neither repeat nor clash, and the member count and declared sizes must stay within
``ArchiveLimits``; decompression while listing a .tar.gz is capped so a gzip bomb stops early.
Extraction never calls ``extractall``: it creates each folder and file itself with fixed modes
and counts the bytes actually written, since headers can lie. Any failure removes the
destination. Every problem is one ``ArchiveError`` line.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import os
import shutil
import stat
import tarfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from aigc.submissions.owners import make_temp_folder

_CHUNK = 64 * 1024
_EXAMPLE = "(e.g. `cd my-agent && zip -r ../agent.zip .`)"
_FIX_UPLOAD = f"upload a .zip or .tar.gz of the agent folder {_EXAMPLE}"
_FIX_REBUILD = f"rebuild the archive from inside the agent folder {_EXAMPLE}"
_FIX_TRIM = "remove files the agent does not need (data, logs, caches, .git), then rebuild"
_FIX_RENAME = "rename it and rebuild the archive"
_FIX_SHRINK = "remove or shrink it and rebuild the archive"
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
_LINK, _CHR, _BLK, _FIFO = "a symbolic link", "a character device", "a block device", "a FIFO"
_ZIP_TYPES = {stat.S_IFLNK: _LINK, stat.S_IFCHR: _CHR, stat.S_IFBLK: _BLK, stat.S_IFIFO: _FIFO}
_ZIP_TYPES[stat.S_IFSOCK] = "a socket"
_TAR_TYPES = {tarfile.SYMTYPE: _LINK, tarfile.LNKTYPE: "a hard link", tarfile.CHRTYPE: _CHR}
_TAR_TYPES |= {tarfile.BLKTYPE: _BLK, tarfile.FIFOTYPE: _FIFO}
_SPECIAL_BITS = ((stat.S_ISUID, "setuid"), (stat.S_ISGID, "setgid"), (stat.S_ISVTX, "sticky"))
_FIX_BITS = "clear {} (e.g. `chmod -R u-s,g-s,-t .` in the agent folder) and rebuild the archive"
_TYPE_FIXES = {
    _LINK: "replace the link with the file it points to and rebuild the archive",
    "a hard link": "rebuild the archive without hard links (e.g. `tar --hard-dereference`)",
}


class ArchiveError(ValueError):
    """An archive that cannot be accepted; str(err) is one line naming the problem and the fix."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int = 10_000  # files + folders
    max_total_bytes: int = 512 * 2**20  # uncompressed, all members
    max_member_bytes: int = 512 * 2**20  # uncompressed, one member
    max_path_length: int = 240  # characters of a member name
    max_depth: int = 32  # path components


@dataclass(frozen=True)
class Member:
    name: str  # normalised relative POSIX path, no trailing slash
    is_dir: bool
    size: int  # declared uncompressed size (0 for folders)


def _show(name: str) -> str:
    return repr(name if len(name) <= 100 else name[:100] + "...")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] if text else type(exc).__name__


def _fail(name: str, problem: str, fix: str) -> ArchiveError:
    return ArchiveError(f"archive member {_show(name)} {problem}: {fix}")


def _not_regular(name: str, what: str) -> ArchiveError:
    fix = _TYPE_FIXES.get(what, "remove it and rebuild the archive")
    return _fail(name, f"is {what}, but only regular files and folders are allowed", fix)


def _check_mode_bits(name: str, mode: int) -> None:
    """Refuse a member whose mode carries setuid, setgid or sticky bits."""
    bits = [word for bit, word in _SPECIAL_BITS if mode & bit]
    if bits:
        several = len(bits) > 1
        problem = f"has the {' and '.join(bits)} bit{'s' if several else ''} set"
        raise _fail(name, problem, _FIX_BITS.format("them" if several else "it"))


def _over(name: str, what: str, limit: int, fix: str = _FIX_TRIM) -> ArchiveError:
    return _fail(name, f"{what} over the limit of {limit} bytes", fix)


def _normalise(raw: str, is_dir: bool, limits: ArchiveLimits) -> str | None:
    """Return the safe relative name of `raw`, or None for the archive's root folder ("./")."""
    if not raw:
        raise ArchiveError(f"archive has a member with an empty name: {_FIX_REBUILD}")
    if any(unicodedata.category(char) == "Cc" for char in raw):
        raise _fail(raw, "contains a control character", _FIX_RENAME)
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail(raw, "is not valid UTF-8", _FIX_RENAME) from None
    drive = raw[1:2] == ":" and raw[0].isascii() and raw[0].isalpha()  # C:\x, C:/x
    if raw.startswith("/") or drive:
        raise _fail(raw, "is an absolute path that points outside the package", _FIX_REBUILD)
    if "\\" in raw:
        raise _fail(raw, "contains a backslash", "build the archive with `zip` or `tar` on Linux")
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _fail(raw, "points outside the package", _FIX_REBUILD)
    if not parts:
        if is_dir:
            return None
        raise _fail(raw, "has an empty name", _FIX_REBUILD)
    name = "/".join(parts)
    if len(name) > limits.max_path_length:
        limit = f"{limits.max_path_length} characters"
        raise _fail(name, f"has a path longer than {limit}", "shorten it and rebuild the archive")
    if len(parts) > limits.max_depth:
        deep, fix = f"is nested deeper than {limits.max_depth} folders", "flatten the folders"
        raise _fail(name, deep, f"{fix} and rebuild the archive")
    return name


class _Checker:
    """Validate members one at a time, keeping what duplicate and size checks need."""

    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.count = 0
        self.total = 0
        self.files: set[str] = set()
        self.dirs: set[str] = set()  # folders that are members
        self.parents: set[str] = set()  # folders implied by deeper members

    def add(self, raw: str, is_dir: bool, size: int) -> Member | None:
        limits = self.limits
        self.count += 1
        if self.count > limits.max_members:
            past = f"is past the limit of {limits.max_members} files and folders"
            raise _fail(raw, past, _FIX_TRIM)
        name = _normalise(raw, is_dir, limits)
        if name is None:
            return None
        if name in self.files or name in self.dirs or (not is_dir and name in self.parents):
            twice = name in (self.dirs if is_dir else self.files)
            problem = "appears twice" if twice else "is both a file and a folder"
            raise _fail(name, problem, "keep one of them and rebuild the archive")
        parts = name.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in self.files:
                raise _fail(name, f"is inside {_show(parent)}, which is a file", _FIX_RENAME)
            self.parents.add(parent)
        (self.dirs if is_dir else self.files).add(name)
        size = 0 if is_dir else size
        if size > limits.max_member_bytes:
            raise _over(name, f"is {size} bytes,", limits.max_member_bytes, _FIX_SHRINK)
        self.total += size
        if self.total > limits.max_total_bytes:
            raise _over(name, "takes the uncompressed total", limits.max_total_bytes)
        return Member(name, is_dir, size)


class _CappedReader:
    """Pass reads through; raise ArchiveError once more than `cap` bytes have been read."""

    def __init__(self, source: gzip.GzipFile, cap: int, label: str) -> None:
        self._source, self._cap, self._label, self._count = source, cap, label, 0

    def read(self, size: int = -1) -> bytes:
        allowance = self._cap - self._count + 1
        data = self._source.read(allowance if size < 0 else min(size, allowance))
        self._count += len(data)
        if self._count > self._cap:
            raise ArchiveError(
                f"archive {self._label!r} decompresses to more than {self._cap} "
                f"bytes, over the limits: {_FIX_TRIM}"
            )
        return data


def _zip_is_dir(info: zipfile.ZipInfo) -> bool:
    """Tell a zip folder from a file, from its Unix mode and name; reject other types."""
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise _not_regular(info.orig_filename, _ZIP_TYPES.get(kind, f"of unknown type {kind:o}"))
    _check_mode_bits(info.orig_filename, info.external_attr >> 16)
    if info.flag_bits & 0x1:
        raise _fail(info.orig_filename, "is encrypted", "rebuild the archive without a password")
    if info.compress_type not in _ZIP_METHODS:
        fix = "rebuild the archive with the default (deflate) compression"
        raise _fail(info.orig_filename, "uses an unsupported compression method", fix)
    return kind == stat.S_IFDIR or info.orig_filename.endswith("/")


def _tar_is_dir(info: tarfile.TarInfo) -> bool:
    """Tell a tar folder from a file; reject every other type."""
    if info.isreg() or info.isdir():
        _check_mode_bits(info.name, info.mode)
        return info.isdir()
    raise _not_regular(info.name, _TAR_TYPES.get(info.type, f"of unknown type {info.type!r}"))


_Opener = Callable[[], IO[bytes] | None]


def _scan(path: Path, limits: ArchiveLimits) -> Iterator[tuple[Member, _Opener]]:
    """Yield each checked member with a function that opens its data (valid until the next)."""
    checker = _Checker(limits)
    if archive_kind(path) == "zip":
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                member = checker.add(info.orig_filename, _zip_is_dir(info), info.file_size)
                if member is not None:
                    yield member, functools.partial(zf.open, info)
        return
    cap = limits.max_total_bytes + 1024 * limits.max_members + 2**20
    with path.open("rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
        stream = cast("IO[bytes]", _CappedReader(unzipped, cap, path.name))
        with tarfile.open(
            fileobj=stream, mode="r|", encoding="utf-8", errors="surrogateescape"
        ) as tf:
            for entry in tf:
                member = checker.add(entry.name, _tar_is_dir(entry), entry.size)
                if member is not None:
                    yield member, functools.partial(tf.extractfile, entry)
        while stream.read(_CHUNK):  # read to the end so gzip verifies its length and CRC
            pass


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    try:
        yield
    except ArchiveError:
        raise
    except Exception as exc:  # hostile input makes the stdlib readers fail in many ways
        raise ArchiveError(
            f"archive {path.name!r} is corrupt or truncated ({_one_line(exc)}): {_FIX_UPLOAD}"
        ) from exc


@contextlib.contextmanager
def _writing(name: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        fix = "check that the destination is writable and has free space"
        raise _fail(name, f"could not be written ({_one_line(exc)})", fix) from exc


class _Writer:
    """Create members under a fresh `dest`, counting the bytes actually written."""

    def __init__(self, archive: Path, dest: Path, limits: ArchiveLimits) -> None:
        self.archive, self.dest, self.limits, self.total = archive, dest, limits, 0
        self.made: set[Path] = {dest}

    def folder(self, name: str, parts: list[str]) -> Path:
        path = self.dest
        for part in parts:
            path = path / part
            if path not in self.made:
                with _writing(name):
                    os.mkdir(path, 0o755)
                    os.chmod(path, 0o755)
                self.made.add(path)
        return path

    def write(self, member: Member, open_member: _Opener) -> None:
        parts = member.name.split("/")
        if member.is_dir:
            self.folder(member.name, parts)
            return
        target = self.folder(member.name, parts[:-1]) / parts[-1]
        limits, written = self.limits, 0
        with _reading(self.archive):
            source = open_member()
        if source is None:
            raise _fail(member.name, "has no data", _FIX_REBUILD)
        # "xb" creates the file exclusively: it never reuses nor follows an existing path.
        with source, _writing(member.name), open(target, "xb") as out:
            os.fchmod(out.fileno(), 0o644)
            while True:
                with _reading(self.archive):  # so a read error is not reported as a write error
                    chunk = source.read(_CHUNK)
                if not chunk:
                    break
                written += len(chunk)
                self.total += len(chunk)
                if written > limits.max_member_bytes:
                    lied = "is larger than its header says,"
                    raise _over(member.name, lied, limits.max_member_bytes, _FIX_SHRINK)
                if self.total > limits.max_total_bytes:
                    raise _over(member.name, "takes the extracted total", limits.max_total_bytes)
                out.write(chunk)


def archive_kind(path: Path) -> str:
    """Return "zip" or "tar.gz" from the file's first bytes (magic numbers), not its suffix;
    raise ArchiveError otherwise."""
    not_archive = ArchiveError(
        f"{Path(path).name!r} is not a .zip or .tar.gz archive: {_FIX_UPLOAD}"
    )
    try:
        with open(path, "rb") as file:
            head = file.read(4)
        if head in (b"PK\x03\x04", b"PK\x05\x06"):
            if zipfile.is_zipfile(path):
                return "zip"
        elif head[:2] == b"\x1f\x8b":
            with gzip.open(path, "rb") as unzipped:
                tarfile.TarInfo.frombuf(
                    unzipped.read(tarfile.BLOCKSIZE), "utf-8", "surrogateescape"
                )
            return "tar.gz"
    except Exception as exc:  # unreadable, corrupt gzip, or gzip that holds no tar
        raise not_archive from exc
    raise not_archive


def check_archive(path: Path, limits: ArchiveLimits = ArchiveLimits()) -> list[Member]:
    """Check every member without writing anything; return the members or raise ArchiveError."""
    path = Path(path)
    with _reading(path):
        return [member for member, _ in _scan(path, limits)]


def extract_archive(path: Path, dest: Path, limits: ArchiveLimits = ArchiveLimits()) -> Path:
    """Check the archive, then extract it into `dest`, a folder that must not exist yet (it is
    created); return dest."""
    path, dest = Path(path), Path(dest)
    exists = ArchiveError(f"destination {str(dest)!r} already exists: extract into a new folder")
    if dest.exists() or dest.is_symlink():
        raise exists
    check_archive(path, limits)
    try:
        dest.mkdir(parents=True)
        os.chmod(dest, 0o755)
    except FileExistsError:
        raise exists from None
    except OSError as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise ArchiveError(
            f"cannot create destination {str(dest)!r} ({_one_line(exc)}): choose a writable folder"
        ) from exc
    try:
        writer = _Writer(path, dest, limits)
        with _reading(path):
            for member, open_member in _scan(path, limits):
                writer.write(member, open_member)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return dest


@contextlib.contextmanager
def folder_of(
    path: Path, limits: ArchiveLimits, error: Callable[[str], Exception], missing: str
) -> Iterator[Path]:
    """Yield ``path`` if it is a folder, else the archive extracted (within ``limits``) to a
    fresh temporary folder that is removed afterwards. A missing path raises
    ``error(missing)``, an archive that fails its checks ``error(reason)``."""
    path = Path(path)
    if path.is_dir():
        yield path
        return
    if not path.is_file():
        raise error(missing)
    try:
        archive_kind(path)
    except ArchiveError as exc:
        raise error(str(exc)) from None
    workdir = make_temp_folder("package")
    try:
        try:
            extract_archive(path, workdir / "contents", limits)
        except ArchiveError as exc:
            raise error(str(exc)) from None
        yield workdir / "contents"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
