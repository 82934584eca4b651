"""Stop reading: floods the socket with valid actions, then never reads again.

The evaluator takes each flooded action as an answer and sends the next observations,
which nobody reads: once the socket's buffer is full, the evaluator's send blocks.
"""

import os
import socket
import stat
import threading

import numpy as np

from aigc.submissions.protocol import encode_array, pack

FLOOD = 200_000  # answers: far more than the socket's buffers hold


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        frames = [
            pack({"type": "action", "actions": encode_array(np.array([i % 2], np.int64))})
            for i in range(2)
        ]
        flood = b"".join(frames) * (FLOOD // 2)
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            try:
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    with socket.fromfd(fd, socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                        sock.sendall(flood)  # blocks once the evaluator stops reading too
            except OSError:
                pass
        threading.Event().wait()  # never return: the runtime never reads again
