"""Attacks on archive upload: each builds a hostile archive and checks it is refused cleanly."""

from __future__ import annotations

import io
import stat
import tarfile
import tracemalloc
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from aigc.submissions.archive import (
    ArchiveError,
    ArchiveLimits,
    Member,
    archive_kind,
    check_archive,
    extract_archive,
)

DEFAULT = ArchiveLimits()
SMALL = ArchiveLimits(max_members=10, max_total_bytes=64 * 1024, max_member_bytes=32 * 1024)


# --- helpers -------------------------------------------------------------------------------


def make_zip(path: Path, members: Sequence[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def zip_info(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix
    info.external_attr = mode << 16
    return info


def tar_info(
    name: str, kind: bytes = tarfile.REGTYPE, size: int = 0, **attrs: object
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


def make_tar(
    path: Path,
    members: Sequence[tuple[tarfile.TarInfo, bytes | None]],
    fmt: int = tarfile.GNU_FORMAT,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz", format=fmt) as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def tar_file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tar_info(name, mode=0o644), data


def snapshot(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def assert_refused(
    tmp_path: Path, archive: Path, match: str, limits: ArchiveLimits = DEFAULT
) -> ArchiveError:
    """Both check and extract refuse with a one-line message; nothing at all is written."""
    before = snapshot(tmp_path)
    with pytest.raises(ArchiveError, match=match):
        check_archive(archive, limits)
    assert snapshot(tmp_path) == before
    with pytest.raises(ArchiveError, match=match) as caught:
        extract_archive(archive, tmp_path / "out", limits)
    assert not (tmp_path / "out").exists()
    assert snapshot(tmp_path) == before
    assert_one_line(caught.value)
    return caught.value


def assert_extraction_refused(
    tmp_path: Path, archive: Path, match: str, limits: ArchiveLimits = DEFAULT
) -> None:
    """Extraction refuses (possibly only after starting to write) and leaves nothing behind."""
    before = snapshot(tmp_path)
    with pytest.raises(ArchiveError, match=match) as caught:
        extract_archive(archive, tmp_path / "out", limits)
    assert not (tmp_path / "out").exists()
    assert snapshot(tmp_path) == before
    assert_one_line(caught.value)


def assert_one_line(error: ArchiveError) -> None:
    text = str(error)
    assert "\n" not in text and "Traceback" not in text
    assert ": " in text  # problem, then the fix


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def patch_zip(path: Path, local_offset: int, central_offset: int, value: bytes) -> None:
    """Overwrite a field of the only member, in its local header and in the central directory."""
    data = bytearray(path.read_bytes())
    local = data.index(b"PK\x03\x04") + local_offset
    central = data.index(b"PK\x01\x02") + central_offset
    data[local : local + len(value)] = value
    data[central : central + len(value)] = value
    path.write_bytes(bytes(data))


def patch_sizes(path: Path, size: int) -> None:
    """Forge the uncompressed size of the only member."""
    patch_zip(path, 22, 24, size.to_bytes(4, "little"))


# --- names ---------------------------------------------------------------------------------


def test_zip_parent_traversal(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "in" / "a.zip", [("ok.py", b"x"), ("../evil.py", b"x")])
    error = assert_refused(tmp_path, archive, r"'\.\./evil\.py' points outside the package")
    assert "zip -r" in str(error)


def test_tar_parent_traversal(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "in" / "a.tar.gz", [tar_file("pkg/../../evil.py", b"x")])
    assert_refused(tmp_path, archive, "points outside the package")


def test_zip_absolute_path(tmp_path: Path) -> None:
    target = str(tmp_path / "abs_evil.py")
    archive = make_zip(tmp_path / "in" / "a.zip", [(target, b"x")])
    assert_refused(tmp_path, archive, "absolute path that points outside the package")


def test_tar_absolute_path(tmp_path: Path) -> None:
    target = str(tmp_path / "abs_evil.py")
    archive = make_tar(tmp_path / "in" / "a.tar.gz", [tar_file(target, b"x")])
    assert_refused(tmp_path, archive, "absolute path that points outside the package")


@pytest.mark.parametrize("name", ["C:\\evil.py", "C:/evil.py", "c:evil.py"])
def test_windows_drive_path(tmp_path: Path, name: str) -> None:
    archive = make_zip(tmp_path / "in" / "a.zip", [(name, b"x")])
    assert_refused(tmp_path, archive, "absolute path")


def test_backslash(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "in" / "a.zip", [("..\\evil.py", b"x")])
    assert_refused(tmp_path, archive, "contains a backslash")


def test_control_character(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "in" / "a.tar.gz", [tar_file("evil\n.py", b"x")])
    error = assert_refused(tmp_path, archive, "contains a control character")
    assert "\\n" in str(error)  # shown escaped, keeping the message on one line


def test_empty_name(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "in" / "a.tar.gz", [tar_file("./", b"x")])
    assert_refused(tmp_path, archive, "empty name")


def test_path_too_long(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "in" / "a.zip", [("a" * 241, b"x")])
    assert_refused(tmp_path, archive, "longer than 240 characters")


def test_path_too_deep(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "in" / "a.zip", [("d/" * 32 + "f.py", b"x")])
    assert_refused(tmp_path, archive, "nested deeper than 32 folders")


# --- types ---------------------------------------------------------------------------------


def test_zip_symlink(tmp_path: Path) -> None:
    (tmp_path / "target").mkdir()
    link = zip_info("link", stat.S_IFLNK | 0o777)
    archive = make_zip(
        tmp_path / "in" / "a.zip", [(link, str(tmp_path / "target").encode()), ("link/x", b"x")]
    )
    assert_refused(tmp_path, archive, "'link' is a symbolic link")


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        (stat.S_IFCHR, "character device"),
        (stat.S_IFBLK, "block device"),
        (stat.S_IFIFO, "FIFO"),
        (stat.S_IFSOCK, "socket"),
    ],
)
def test_zip_special_files(tmp_path: Path, kind: int, words: str) -> None:
    archive = make_zip(tmp_path / "in" / "a.zip", [(zip_info("dev", kind | 0o644), b"")])
    assert_refused(tmp_path, archive, f"'dev' is a {words}")


def test_tar_symlink(tmp_path: Path) -> None:
    (tmp_path / "target").mkdir()
    link = tar_info("link", tarfile.SYMTYPE, linkname=str(tmp_path / "target"))
    archive = make_tar(tmp_path / "in" / "a.tar.gz", [(link, None), tar_file("link/x.py", b"x")])
    assert_refused(tmp_path, archive, "'link' is a symbolic link")


def test_tar_hardlink(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("secret")
    link = tar_info("stolen", tarfile.LNKTYPE, linkname=str(secret))
    archive = make_tar(tmp_path / "in" / "a.tar.gz", [(link, None)])
    assert_refused(tmp_path, archive, "'stolen' is a hard link")


def test_tar_character_device(tmp_path: Path) -> None:
    dev = tar_info("zero", tarfile.CHRTYPE, devmajor=1, devminor=5)
    archive = make_tar(tmp_path / "in" / "a.tar.gz", [(dev, None)])
    assert_refused(tmp_path, archive, "'zero' is a character device")


def test_tar_block_device(tmp_path: Path) -> None:
    dev = tar_info("disk", tarfile.BLKTYPE, devmajor=8, devminor=0)
    archive = make_tar(tmp_path / "in" / "a.tar.gz", [(dev, None)])
    assert_refused(tmp_path, archive, "'disk' is a block device")


def test_tar_fifo(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "in" / "a.tar.gz", [(tar_info("pipe", tarfile.FIFOTYPE), None)])
    assert_refused(tmp_path, archive, "'pipe' is a FIFO")


SPECIAL_BITS = [
    pytest.param(0o4755, "has the setuid bit set", id="setuid"),
    pytest.param(0o2755, "has the setgid bit set", id="setgid"),
    pytest.param(0o1755, "has the sticky bit set", id="sticky"),
    pytest.param(0o6755, "has the setuid and setgid bits set", id="setuid-setgid"),
]
FIX_BITS = "(e.g. `chmod -R u-s,g-s,-t .` in the agent folder) and rebuild the archive"


@pytest.mark.parametrize(("bits", "words"), SPECIAL_BITS)
@pytest.mark.parametrize("folder", [False, True], ids=["file", "folder"])
def test_zip_member_with_special_mode_bits(tmp_path: Path, bits: int, words: str, folder: bool):
    name, kind = ("tools/", stat.S_IFDIR) if folder else ("tools/run", stat.S_IFREG)
    archive = make_zip(tmp_path / "in" / "a.zip", [(zip_info(name, kind | bits), b"")])
    error = assert_refused(tmp_path, archive, words)
    it = "them" if " and " in words else "it"
    assert str(error) == f"archive member {name!r} {words}: clear {it} {FIX_BITS}"


@pytest.mark.parametrize(("bits", "words"), SPECIAL_BITS)
@pytest.mark.parametrize("kind", [tarfile.REGTYPE, tarfile.DIRTYPE], ids=["file", "folder"])
def test_tar_member_with_special_mode_bits(tmp_path: Path, bits: int, words: str, kind: bytes):
    member = tar_info("tools", kind, mode=bits)
    archive = make_tar(
        tmp_path / "in" / "a.tar.gz", [(member, b"" if kind == tarfile.REGTYPE else None)]
    )
    error = assert_refused(tmp_path, archive, words)
    it = "them" if " and " in words else "it"
    assert str(error) == f"archive member 'tools' {words}: clear {it} {FIX_BITS}"


def test_plain_modes_are_accepted(tmp_path: Path) -> None:
    members = [(zip_info("run.sh", stat.S_IFREG | 0o755), b"#!/bin/sh\n"), ("agent.py", b"x")]
    archive = make_zip(
        tmp_path / "in" / "a.zip", [*members, (zip_info("d/", stat.S_IFDIR | 0o775), b"")]
    )
    assert [m.name for m in check_archive(archive)] == ["run.sh", "agent.py", "d"]


# --- duplicates and clashes ----------------------------------------------------------------


def test_duplicate_names(tmp_path: Path) -> None:
    members = [tar_file("./agent.py", b"good"), tar_file("agent.py", b"bad")]
    archive = make_tar(tmp_path / "in" / "a.tar.gz", members)
    assert_refused(tmp_path, archive, "'agent.py' appears twice")


def test_duplicate_names_zip(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        archive = make_zip(tmp_path / "in" / "a.zip", [("a.py", b"1"), ("a.py", b"2")])
    assert_refused(tmp_path, archive, "'a.py' appears twice")


def test_file_and_folder_with_same_name(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "in" / "a.zip", [("pkg", b"x"), ("pkg/", b"")])
    assert_refused(tmp_path, archive, "'pkg' is both a file and a folder")


@pytest.mark.parametrize("file_first", [True, False])
def test_file_used_as_folder(tmp_path: Path, file_first: bool) -> None:
    members = [("pkg", b"x"), ("pkg/mod.py", b"y")]
    archive = make_zip(tmp_path / "in" / "a.zip", members if file_first else members[::-1])
    match = "inside 'pkg', which is a file" if file_first else "'pkg' is both a file and a folder"
    assert_refused(tmp_path, archive, match)


# --- bombs ---------------------------------------------------------------------------------


def test_too_many_members(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "in" / "a.zip", [(f"f{i}.py", b"") for i in range(11)])
    assert_refused(tmp_path, archive, "'f10.py' is past the limit of 10 files and folders", SMALL)


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_member_declared_too_big(tmp_path: Path, kind: str) -> None:
    data = bytes(40 * 1024)
    path = tmp_path / "in" / f"a.{kind}"
    archive = (
        make_zip(path, [("big.bin", data)])
        if kind == "zip"
        else make_tar(path, [tar_file("big.bin", data)])
    )
    assert_refused(tmp_path, archive, "'big.bin' is 40960 bytes, over the limit of 32768", SMALL)


def test_total_declared_too_big(tmp_path: Path) -> None:
    members = [(f"part{i}.bin", bytes(30 * 1024)) for i in range(3)]
    archive = make_zip(tmp_path / "in" / "a.zip", members)
    assert_refused(
        tmp_path, archive, "'part2.bin' takes the uncompressed total over the limit", SMALL
    )


def test_zip_bomb_with_lying_headers(tmp_path: Path) -> None:
    """1 MiB of zeros whose headers claim 100 bytes: refused during extraction, nothing left."""
    archive = make_zip(tmp_path / "in" / "a.zip", [("bomb.bin", bytes(2**20))])
    patch_sizes(archive, 100)
    assert check_archive(archive, SMALL) == [Member("bomb.bin", False, 100)]  # headers look fine
    # zipfile stops at the forged size, then the CRC of the truncated data fails.
    assert_extraction_refused(tmp_path, archive, "'a.zip' is corrupt", SMALL)


def test_byte_count_stops_reader_that_trusts_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even if the zip reader ignored the forged size, counting written bytes stops the bomb."""
    archive = make_zip(tmp_path / "in" / "a.zip", [("bomb.bin", bytes(2**20))])
    patch_sizes(archive, 100)
    original = zipfile.ZipExtFile.__init__

    def trusting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._left = 2**62  # read until the compressed data ends, whatever the headers say

    monkeypatch.setattr(zipfile.ZipExtFile, "__init__", trusting_init)
    assert_extraction_refused(
        tmp_path,
        archive,
        "'bomb.bin' is larger than its header says, over the limit of 32768 bytes",
        SMALL,
    )


def test_gzip_bomb_stopped_while_listing(tmp_path: Path) -> None:
    """A pax header that expands to 8 MiB: tarfile would read it into memory while listing."""
    bomb = tar_file("agent.py", b"x")[0]
    bomb.pax_headers = {"comment": "x" * (8 * 2**20)}
    archive = make_tar(tmp_path / "in" / "a.tar.gz", [(bomb, b"x")], fmt=tarfile.PAX_FORMAT)
    assert archive.stat().st_size < 64 * 1024
    tracemalloc.start()
    try:
        assert_refused(tmp_path, archive, "'a.tar.gz' decompresses to more than", SMALL)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 2**20, f"refusing it took {peak} bytes: the header was read"


# --- not archives and corrupt archives ------------------------------------------------------


def test_text_file(tmp_path: Path) -> None:
    archive = tmp_path / "in" / "agent.zip"
    archive.parent.mkdir()
    archive.write_text("class Agent: pass\n")
    assert_refused(tmp_path, archive, "'agent.zip' is not a .zip or .tar.gz archive: upload a")


def test_empty_file(tmp_path: Path) -> None:
    archive = tmp_path / "in" / "agent.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(b"")
    assert_refused(tmp_path, archive, "is not a .zip or .tar.gz archive")


def test_truncated_zip(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "in" / "a.zip", [("agent.py", b"print('hi')\n" * 100)])
    archive.write_bytes(archive.read_bytes()[:-30])
    assert_refused(tmp_path, archive, "is not a .zip or .tar.gz archive")


def test_zip_crc_mismatch(tmp_path: Path) -> None:
    archive = tmp_path / "in" / "a.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("agent.py", b"A" * 100)
    archive.write_bytes(archive.read_bytes().replace(b"A" * 100, b"B" * 100))
    assert_extraction_refused(tmp_path, archive, "'a.zip' is corrupt or truncated .*CRC")


def test_truncated_tar_gz(tmp_path: Path) -> None:
    data = bytes(range(256)) * 400
    archive = make_tar(tmp_path / "in" / "a.tar.gz", [tar_file("agent.py", data)])
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    assert_refused(tmp_path, archive, "'a.tar.gz' is corrupt or truncated")


def test_gzip_but_not_tar(tmp_path: Path) -> None:
    import gzip

    archive = tmp_path / "in" / "agent.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(gzip.compress(b"class Agent: pass\n" * 100))
    assert_refused(tmp_path, archive, "is not a .zip or .tar.gz archive: upload a .zip")


def test_encrypted_zip(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "in" / "a.zip", [("agent.py", b"x")])
    patch_zip(archive, 6, 8, b"\x01\x00")  # general purpose flags: bit 0 = encrypted
    assert_refused(tmp_path, archive, "'agent.py' is encrypted")


# --- archives that are fine ----------------------------------------------------------------


def test_extract_zip(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "in" / "agent.zip",
        [
            (zip_info("pkg/", stat.S_IFDIR | 0o777), b""),
            (zip_info("pkg/agent.py", stat.S_IFREG | 0o777), b"class Agent: ..."),
            ("pkg/deep/er/data.bin", b"\x00\x01"),
            ("aigc.toml", b"name = 'x'\n"),
        ],
    )
    dest = extract_archive(archive, tmp_path / "out")
    assert dest == tmp_path / "out"
    assert (dest / "pkg" / "agent.py").read_bytes() == b"class Agent: ..."
    assert (dest / "pkg" / "deep" / "er" / "data.bin").read_bytes() == b"\x00\x01"
    assert (dest / "aigc.toml").read_text() == "name = 'x'\n"
    for path in [dest, *dest.rglob("*")]:
        assert mode(path) == (0o755 if path.is_dir() else 0o644), path


def test_extract_tar_gz(tmp_path: Path) -> None:
    archive = make_tar(
        tmp_path / "in" / "agent.tar.gz",
        [
            (tar_info("./", tarfile.DIRTYPE, mode=0o777), None),
            (tar_info("./pkg", tarfile.DIRTYPE, mode=0o700), None),
            (tar_info("./pkg/agent.py", mode=0o777), b"class Agent: ..."),
            tar_file("./pkg/sub/weights.bin", bytes(100_000)),
            tar_file("aigc.toml", b"name = 'x'\n"),
        ],
    )
    dest = extract_archive(archive, tmp_path / "out")
    assert (dest / "pkg" / "agent.py").read_bytes() == b"class Agent: ..."
    assert (dest / "pkg" / "sub" / "weights.bin").read_bytes() == bytes(100_000)
    assert (dest / "aigc.toml").read_text() == "name = 'x'\n"
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == [
        "aigc.toml",
        "pkg",
        "pkg/agent.py",
        "pkg/sub",
        "pkg/sub/weights.bin",
    ]
    for path in [dest, *dest.rglob("*")]:
        assert mode(path) == (0o755 if path.is_dir() else 0o644), path


def test_check_archive_lists_members(tmp_path: Path) -> None:
    archive = make_tar(
        tmp_path / "in" / "agent.tar.gz",
        [
            (tar_info("./", tarfile.DIRTYPE), None),
            (tar_info("./pkg/", tarfile.DIRTYPE), None),
            tar_file("./pkg/agent.py", b"abc"),
            tar_file("aigc.toml", b""),
        ],
    )
    assert check_archive(archive) == [
        Member("pkg", True, 0),
        Member("pkg/agent.py", False, 3),
        Member("aigc.toml", False, 0),
    ]
    assert not (tmp_path / "out").exists()


def test_empty_zip(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "in" / "empty.zip", [])
    assert archive.read_bytes()[:4] == b"PK\x05\x06"
    assert check_archive(archive) == []
    assert list(extract_archive(archive, tmp_path / "out").iterdir()) == []


def test_archive_kind_reads_content_not_suffix(tmp_path: Path) -> None:
    zip_named_tar = make_zip(tmp_path / "agent.tar.gz", [("a.py", b"x")])
    tar_named_zip = make_tar(tmp_path / "agent.zip", [tar_file("a.py", b"x")])
    assert archive_kind(zip_named_tar) == "zip"
    assert archive_kind(tar_named_zip) == "tar.gz"
    assert check_archive(tar_named_zip) == [Member("a.py", False, 1)]
    extract_archive(zip_named_tar, tmp_path / "out")
    assert (tmp_path / "out" / "a.py").read_bytes() == b"x"


def test_existing_destination_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "in" / "a.zip", [("a.py", b"x")])
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep.txt").write_text("keep")
    with pytest.raises(ArchiveError, match="already exists: extract into a new folder"):
        extract_archive(archive, dest)
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]
