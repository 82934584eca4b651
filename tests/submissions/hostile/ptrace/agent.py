"""Ptrace: attaches to PID 1 of its container (the init that reaps and forwards signals)."""

import ctypes
import errno

PTRACE_ATTACH = 16

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        ctypes.set_errno(0)
        if libc.ptrace(PTRACE_ATTACH, 1, None, None) == -1:
            name = errno.errorcode.get(ctypes.get_errno(), "E?")
            raise RuntimeError(f"BLOCKED: ptrace(PTRACE_ATTACH, 1)={name}")
        # PID 1 is left stopped by the attach: it no longer reaps nor forwards signals, and the
        # sandbox must still take the container down.
        with open("/proc/1/cmdline", "rb") as f:
            target = f.read().replace(b"\0", b" ").decode().strip()
        raise RuntimeError(f"ESCAPED: ptrace(PTRACE_ATTACH, 1) attached to {target!r}")
