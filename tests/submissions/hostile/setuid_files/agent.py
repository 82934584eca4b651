"""Setuid files: uploaded as an archive whose members carry setuid, setgid and sticky bits.

The archive is refused before anything is unpacked. Were it unpacked and run, the agent
reports which of its files kept a special bit.
"""

import os
import stat
from pathlib import Path

SPECIAL = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        here = Path(__file__).parent
        kept = [p.name for p in [here, *here.iterdir()] if os.stat(p).st_mode & SPECIAL]
        if kept:
            raise RuntimeError(f"ESCAPED: special bits kept on {', '.join(kept)}")
        raise RuntimeError("BLOCKED: no file kept a special bit")
