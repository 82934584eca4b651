"""Filling /tmp: writes to /tmp until a write fails, then re-raises the OSError."""

CHUNK = b"\x00" * 2**20


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        for n in range(10_000):
            with open(f"/tmp/fill-{n // 16}", "ab", buffering=0) as f:
                f.write(CHUNK)
        raise RuntimeError("ESCAPED: wrote 10 GB to /tmp without an error")
