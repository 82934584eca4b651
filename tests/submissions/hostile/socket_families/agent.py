"""Socket families: creates a socket of every family the runtime does not need.

Through libc's socket() and socketpair(), through the raw system call with the family's
upper 32 bits set (the kernel ignores them), and through the 32-bit x86 entry point
(``int 0x80``: the direct socket call and socketcall). It only ever creates sockets and
closes them at once: it never connects, binds or sends anything.
"""

import ctypes
import errno
import mmap
import os
import socket
import struct

NEEDED = {socket.AF_UNIX, socket.AF_INET, socket.AF_INET6, socket.AF_NETLINK}
OTHERS = [f for f in range(64) if f not in NEEDED]
TYPES = (socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_RAW, socket.SOCK_SEQPACKET, 4)
NETLINK_OTHERS = (4, 9, 12, 15, 16)  # sock_diag, audit, netfilter, kobject uevent, generic
AF_VSOCK, SYS_SOCKET_64, SYS_SOCKET_I386, SYS_SOCKETCALL_I386 = 40, 41, 359, 102
MAP_32BIT = 0x40  # x86-64: an address the 32-bit entry point can be given

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def _name(code: int) -> str:
    return errno.errorcode.get(code, str(code))


def _create(family: int, kind: int, protocol: int = 0) -> str:
    try:
        socket.socket(family, kind, protocol).close()
    except OSError as exc:
        return _name(exc.errno)
    return "OK"


def _pair(family: int, kind: int) -> str:
    try:
        for end in socket.socketpair(family, kind):
            end.close()
    except OSError as exc:
        return _name(exc.errno)
    return "OK"


def _raw_upper_half() -> str:
    ctypes.set_errno(0)
    fd = libc.syscall(
        ctypes.c_long(SYS_SOCKET_64),
        ctypes.c_ulong(1 << 32 | AF_VSOCK),
        ctypes.c_long(socket.SOCK_STREAM),
        ctypes.c_long(0),
    )
    if fd >= 0:
        os.close(fd)
        return "OK"
    return _name(ctypes.get_errno())


def _i386(number: int, ebx: int, ecx: int, page: mmap.mmap, base: int) -> str:
    """Make one system call through int 0x80, in a child in case the entry point is gone."""
    code = b"\x53"  # push rbx (callee-saved)
    for opcode, value in ((0xB8, number), (0xBB, ebx), (0xB9, ecx), (0xBA, 0)):
        code += bytes([opcode]) + struct.pack("<I", value)  # mov e?x, value
    code += b"\xcd\x80\x5b\xc3"  # int 0x80; pop rbx; ret
    page[: len(code)] = code
    child = os.fork()
    if child == 0:
        result = ctypes.CFUNCTYPE(ctypes.c_int)(base)()
        if result >= 0:
            os.close(result)
        os._exit(-result if -4096 < result < 0 else 0)
    status = os.waitpid(child, 0)[1]
    if os.WIFSIGNALED(status):
        return f"unavailable (signal {os.WTERMSIG(status)})"
    code = os.WEXITSTATUS(status)
    return "OK" if code == 0 else _name(code)


def _i386_calls() -> dict[str, str]:
    try:
        page = mmap.mmap(
            -1,
            mmap.PAGESIZE,
            flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_32BIT,
            prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC,
        )
    except OSError as exc:
        reason = f"unavailable (mmap {_name(exc.errno)})"
        return {"i386 socket(AF_VSOCK)": reason, "i386 socketcall(AF_VSOCK)": reason}
    base = ctypes.addressof(ctypes.c_char.from_buffer(page))
    arguments = base + 2048  # socketcall reads socket()'s arguments from memory here
    page[2048:2060] = struct.pack("<III", AF_VSOCK, socket.SOCK_STREAM, 0)
    return {
        "i386 socket(AF_VSOCK)": _i386(SYS_SOCKET_I386, AF_VSOCK, socket.SOCK_STREAM, page, base),
        "i386 socketcall(AF_VSOCK)": _i386(SYS_SOCKETCALL_I386, 1, arguments, page, base),
    }


def _ranges(numbers: list[int]) -> str:
    parts, start = [], None
    for i, n in enumerate(numbers):
        start = n if start is None else start
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(str(n) if start == n else f"{start}-{n}")
            start = None
    return ",".join(parts)


def _summary(results: dict[int, set[str]]) -> str:
    """'EPERM for 0,3-9' style: the families grouped by what creating them gave."""
    by_outcome: dict[str, list[int]] = {}
    for family, outcomes in results.items():
        by_outcome.setdefault("/".join(sorted(outcomes)), []).append(family)
    return " ".join(f"{o} for {_ranges(f)}" for o, f in sorted(by_outcome.items()))


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        created = {f: {_create(f, t) for t in TYPES} for f in OTHERS}
        paired = {f: {_pair(f, t) for t in (socket.SOCK_STREAM, socket.SOCK_DGRAM)} for f in OTHERS}
        netlink = {p: {_create(socket.AF_NETLINK, socket.SOCK_RAW, p)} for p in NETLINK_OTHERS}
        single = {"raw socket(1<<32|AF_VSOCK)": _raw_upper_half(), **_i386_calls()}
        still = {
            "AF_UNIX": _create(socket.AF_UNIX, socket.SOCK_STREAM),
            "AF_INET": _create(socket.AF_INET, socket.SOCK_STREAM),
            "AF_INET6": _create(socket.AF_INET6, socket.SOCK_DGRAM),
            "NETLINK_ROUTE": _create(socket.AF_NETLINK, socket.SOCK_RAW, 0),
        }
        escaped = [f"socket({f}, ...)" for f, o in created.items() if "OK" in o]
        escaped += [f"socketpair({f}, ...)" for f, o in paired.items() if "OK" in o]
        escaped += [f"netlink protocol {p}" for p, o in netlink.items() if "OK" in o]
        escaped += [name for name, outcome in single.items() if outcome == "OK"]
        report = "; ".join(
            [
                f"socket: {_summary(created)}",
                f"socketpair: {_summary(paired)}",
                f"netlink: {_summary(netlink)}",
                *(f"{name}={outcome}" for name, outcome in single.items()),
                "needed: " + " ".join(f"{name}={outcome}" for name, outcome in still.items()),
            ]
        )
        if escaped:
            raise RuntimeError(f"ESCAPED: {', '.join(escaped)}; {report}")
        raise RuntimeError(f"BLOCKED: {report}")
