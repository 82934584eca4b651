"""Writing to the root filesystem: /etc, /usr, /opt/aigc, /agent, /run/aigc and / itself."""

import os

TARGETS = ("/etc", "/usr", "/opt/aigc", "/agent", "/run/aigc", "/")


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        refused, written = [], []
        for folder in TARGETS:
            path = os.path.join(folder, "aigc-hostile-was-here")
            try:
                with open(path, "w") as f:
                    f.write("escaped\n")
            except OSError as exc:
                refused.append(f"{folder}: {exc.strerror}")
            else:
                written.append(path)
        # Overwriting the package's own code in place.
        try:
            with open("/agent/agent.py", "a") as f:
                f.write("# escaped\n")
        except OSError as exc:
            refused.append(f"/agent/agent.py: {exc.strerror}")
        else:
            written.append("/agent/agent.py")
        if written:
            raise RuntimeError(f"ESCAPED: wrote {', '.join(written)}")
        raise RuntimeError(f"BLOCKED: {'; '.join(refused)}")
