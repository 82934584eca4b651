"""Network: DNS, a non-local address, the host's Redis and PostgreSQL by loopback and bridge."""

import contextlib
import errno
import os
import socket
import struct

REDIS, POSTGRES = 6379, 5432


def _gateway() -> str:
    """The default route's gateway from /proc/net/route, else Docker's usual bridge address."""
    try:
        with open("/proc/net/route") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1] == "00000000" and int(fields[3], 16) & 2:
                    return socket.inet_ntoa(struct.pack("<L", int(fields[2], 16)))
    except (OSError, IndexError, ValueError):
        pass
    return "172.17.0.1"


def _why(exc: BaseException) -> str:
    code = getattr(exc, "errno", None)
    if isinstance(exc, socket.gaierror):
        return f"gaierror {exc.args[-1]}"
    if isinstance(exc, TimeoutError) or code is None:
        return type(exc).__name__
    return errno.errorcode.get(code, str(code))


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        refused, opened = [], []
        try:
            socket.getaddrinfo("aigc-sandbox-probe.invalid", 80)
        except OSError as exc:
            refused.append(f"dns={_why(exc)}")
        else:
            opened.append("dns resolved aigc-sandbox-probe.invalid")
        gateway = _gateway()
        targets = [("192.0.2.1", 80)]
        targets += [(host, port) for host in ("127.0.0.1", gateway) for port in (REDIS, POSTGRES)]
        for host, port in targets:
            try:
                conn = socket.create_connection((host, port), timeout=1.0)
            except OSError as exc:
                refused.append(f"{host}:{port}={_why(exc)}")
                continue
            with conn:
                opened.append(f"{host}:{port}")
                if port == REDIS:
                    conn.sendall(b"*3\r\n$3\r\nSET\r\n$20\r\naigc:hostile:escaped\r\n$1\r\n1\r\n")
                    with contextlib.suppress(OSError):
                        opened.append(f"redis said {conn.recv(64)!r}")
        interfaces = ",".join(sorted(os.listdir("/sys/class/net")))
        if opened:
            raise RuntimeError(f"ESCAPED: {'; '.join(opened)}")
        raise RuntimeError(f"BLOCKED: interfaces {interfaces}; {' '.join(refused)}")
