"""Looking for other submissions' files: walks / and tries to list the socket folder."""

import errno
import os

WANTED = ("aigc-other-submission", "weights.npy")
SKIP = {"/proc", "/sys", "/dev", "/agent"}


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        found, unreadable, listed = [], [], 0

        def refused(exc: OSError) -> None:
            unreadable.append(exc.filename)

        for top, folders, files in os.walk("/", onerror=refused):
            listed += 1
            folders[:] = [d for d in folders if os.path.join(top, d) not in SKIP]
            found += [os.path.join(top, n) for n in folders + files if any(w in n for w in WANTED)]
        try:
            sockets = f"listed {os.listdir('/run/aigc')}"
        except OSError as exc:
            sockets = f"not listable ({errno.errorcode[exc.errno]} {exc.strerror})"
        report = f"{listed} folders searched, {len(unreadable)} unreadable; /run/aigc {sockets}"
        if found or sockets.startswith("listed"):
            raise RuntimeError(f"ESCAPED: found {found[:5]}; {report}")
        raise RuntimeError(f"BLOCKED: nothing found; {report}")
