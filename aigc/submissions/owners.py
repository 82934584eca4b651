"""Who made a sandbox container or temporary folder, and removing what dead owners left.

An evaluator removes its containers and folders when an evaluation ends; one that is
killed cannot. So each container is labelled, and each temporary folder named, with its
owner: the process that made it, identified across PID reuse by its PID and start time.
A worker or sandbox that starts removes what belongs to owners that are gone, and never
what a living evaluator still uses, even one running beside it.

Temporary folders are ``aigc-<kind>-<pid>.<start time>.<host>.<random>`` in the temp
folder, numbers in base 36 and ``<host>`` a short hash of the host name (a folder made
by another host or container sharing the temp folder is not this one's to judge), short
enough that a socket path inside stays within the system's limit. The kinds are
``FOLDER_KINDS``: the socket folder of an evaluation, an unpacked package, the home of
an agent run without isolation, the folders of a warm container (its package and
socket folders).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import stat
import tempfile
from pathlib import Path

FOLDER_KINDS = ("eval", "package", "agent-home", "pool")
_FOLDER = re.compile(
    rf"aigc-(?:{'|'.join(FOLDER_KINDS)})-(?P<pid>[0-9a-z]+)\.(?P<start>[0-9a-z]+)"
    r"\.(?P<host>[0-9a-f]{6})\.\w+"
)
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _start_time(pid: int) -> str | None:
    """The start time of a living process, or None if it is gone or a zombie."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields count from after the command name, which may hold spaces: the state is
    # field 3, the start time field 22. A zombie (killed, not yet reaped) is dead.
    fields = stat_line.rpartition(")")[2].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def owner_id() -> str:
    """Identify this process across PID reuse: host, PID and start time."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_time(os.getpid())}"


def owner_alive(owner: str) -> bool:
    """Whether the process ``owner_id()`` named is still running (True if not ours to judge)."""
    host, _, rest = owner.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another host's: not ours to judge
    return _start_time(int(pid)) == started


def _host_hash() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]


def _base36(number: int) -> str:
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = _DIGITS[digit] + text
        if not number:
            return text


def make_temp_folder(kind: str) -> Path:
    """Make a fresh folder (mode 700) in the temp folder, named for this process."""
    if kind not in FOLDER_KINDS:
        raise ValueError(f"unknown kind of temporary folder {kind!r}")
    started = _start_time(os.getpid())
    # Without /proc (not Linux) the start time is unknown: the folder is never reaped.
    start = _base36(int(started)) if started is not None else "_"
    owner = f"{_base36(os.getpid())}.{start}.{_host_hash()}"
    return Path(tempfile.mkdtemp(prefix=f"aigc-{kind}-{owner}."))


def reap_stale_folders(root: Path | None = None) -> list[Path]:
    """Remove the temporary folders of owners that are gone; return what was removed.

    ``root`` is the temp folder by default. Only folders of this user, on this host, named
    as :func:`make_temp_folder` names them, are considered; links are never followed.
    """
    root = Path(tempfile.gettempdir() if root is None else root)
    removed: list[Path] = []
    if _start_time(os.getpid()) is None:
        return removed  # no /proc: whether an owner lives cannot be told
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    host, uid = _host_hash(), os.getuid()
    for entry in entries:
        match = _FOLDER.fullmatch(entry.name)
        if match is None or match["host"] != host:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue  # gone meanwhile
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid:
            continue
        started = _start_time(int(match["pid"], 36))
        if started is not None and _base36(int(started)) == match["start"]:
            continue  # its evaluator still runs
        _remove(Path(entry.path))
        if not os.path.lexists(entry.path):
            removed.append(Path(entry.path))
    return removed


def _remove(folder: Path) -> None:
    """Remove a folder whatever modes its contents were left with."""
    shutil.rmtree(folder, ignore_errors=True)
    if not os.path.lexists(folder):
        return
    # Something in it refused, e.g. a folder an agent made read-only: open up its folders
    # (never through a link) and try again.
    for parent, _, _ in os.walk(folder):
        try:
            fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            os.fchmod(fd, 0o700)
        finally:
            os.close(fd)
    shutil.rmtree(folder, ignore_errors=True)
