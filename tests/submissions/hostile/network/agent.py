"""Network: the interfaces this container sees, and the host's Redis and PostgreSQL on 127.0.0.1.

In the container's own network namespace, 127.0.0.1 is its own loopback, where nothing
listens: reaching a service there means the host's namespace leaked in. The probe sends
nothing anywhere else, even when the sandbox fails: no other address, no name lookup.
"""

import errno
import os
import socket

LOOPBACK = "127.0.0.1"
REDIS, POSTGRES = 6379, 5432


def _why(exc: OSError) -> str:
    if isinstance(exc, TimeoutError) or exc.errno is None:
        return type(exc).__name__
    return errno.errorcode.get(exc.errno, str(exc.errno))


def _reach(port: int) -> str | None:
    """Connect to the loopback's ``port``; None if it worked, else why not."""
    conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # a literal: no lookup
    conn.settimeout(1.0)
    try:
        conn.connect((LOOPBACK, port))
        if port == REDIS:
            conn.sendall(b"PING\r\n")  # changes nothing; shows it is the host's Redis
            conn.recv(64)
    except OSError as exc:
        return _why(exc)
    finally:
        conn.close()
    return None


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        interfaces = sorted(os.listdir("/sys/class/net"))
        outcomes = {port: _reach(port) for port in (REDIS, POSTGRES)}
        opened = [f"{LOOPBACK}:{port}" for port, why in outcomes.items() if why is None]
        if interfaces != ["lo"]:
            opened.append(f"interfaces {','.join(interfaces)}")
        if opened:
            raise RuntimeError(f"ESCAPED: {'; '.join(opened)}")
        refused = " ".join(f"{LOOPBACK}:{port}={why}" for port, why in outcomes.items())
        raise RuntimeError(f"BLOCKED: interfaces lo; {refused}")
