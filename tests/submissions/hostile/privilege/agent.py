"""Privilege: setuid(0), setgid(0), mount, unshare(CLONE_NEWUSER), unshare(CLONE_NEWNS), chroot."""

import ctypes
import errno
import os

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]


def _call(fn, *args) -> str | None:
    """Return the errno name if the libc call failed, None if it worked."""
    ctypes.set_errno(0)
    return errno.errorcode.get(ctypes.get_errno(), "E?") if fn(*args) == -1 else None


def _os(fn, *args) -> str | None:
    try:
        fn(*args)
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return None


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        os.makedirs("/tmp/m", exist_ok=True)
        results = {
            "setuid(0)": _os(os.setuid, 0),
            "setgid(0)": _os(os.setgid, 0),
            "mount(tmpfs)": _call(libc.mount, b"none", b"/tmp/m", b"tmpfs", 0, None),
            "unshare(NEWUSER)": _call(libc.unshare, CLONE_NEWUSER),
            "unshare(NEWNS)": _call(libc.unshare, CLONE_NEWNS),
            "chroot": _os(os.chroot, "/tmp"),
        }
        worked = [name for name, error in results.items() if error is None]
        report = " ".join(f"{name}={error or 'OK'}" for name, error in results.items())
        if worked:
            raise RuntimeError(f"ESCAPED: {', '.join(worked)} worked; {report}")
        raise RuntimeError(f"BLOCKED: {report}")
