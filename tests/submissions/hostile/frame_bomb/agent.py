"""Frame bomb: one 16 MiB frame (the cap) of millions of empty msgpack maps as its actions.

Each empty map is 1 byte on the wire and a dict of 64 bytes or more once decoded: decoded
whole, the frame would cost the evaluator over a gigabyte and many seconds.
"""

import os
import socket
import stat
import time

FRAME_BYTES = 16 * 2**20


def tree(leaf: bytes, size: int) -> bytes:
    """Nested fixarrays (15 items at most) ending in copies of ``leaf``: almost ``size`` bytes."""
    levels = [leaf]
    while len(levels[-1]) * 15 + 1 <= size - 64:
        levels.append(b"\x9f" + levels[-1] * 15)
    left, counts = size - 64, []
    for level in reversed(levels):
        counts.append(min(14, left // len(level)))
        left -= counts[-1] * len(level)
    whole = b""
    for level, count in zip(levels, reversed(counts), strict=True):
        whole = bytes([0x90 | (count + (1 if whole else 0))]) + level * count + whole
    return whole


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        body = b"\x82\xa4type\xa6action\xa7actions" + tree(b"\x80", FRAME_BYTES - 64)
        frame = len(body).to_bytes(4, "big") + body
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            try:
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    with socket.fromfd(fd, socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                        sock.sendall(frame)
            except OSError:
                pass
        time.sleep(3600)  # the evaluator's verdict is about the frame, not about this answer
