"""Writes what would break a database or a reader's terminal, then balances CartPole.

Its output holds every byte value (NUL first), ANSI and OSC escapes (clear the screen, a
fake green line, a window title, an OSC 52 clipboard write), the 8-bit CSI U+009B and the
right-to-left override U+202E. A platform must store it and show it harmlessly.
"""

import sys

JUNK = (
    bytes(range(256))
    + b"\x1b[2J\x1b[H"  # clear the screen, cursor home
    + b"\x1b[32mPASSED all checks\x1b[0m"  # a fake coloured verdict
    + b"\x1b]0;owned title\x07"  # window title
    + b"\x1b]52;c;ZWNobyBwd25lZA==\x07"  # OSC 52: write to the reader's clipboard
    + "\u009b31m 8-bit CSI \u202egnp.exe\n".encode()
)


class Agent:
    def __init__(self, observation_space, action_space):
        sys.stdout.buffer.write(b"stdout:" + JUNK)
        sys.stdout.flush()
        sys.stderr.buffer.write(b"stderr:" + JUNK)
        sys.stderr.flush()

    def act(self, observation):
        angle, angular_velocity = observation[2], observation[3]
        return int(angle + 0.5 * angular_velocity > 0)
