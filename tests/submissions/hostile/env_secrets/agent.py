"""Reading environment variables for secrets: os.environ and every readable /proc/*/environ."""

import os

SECRETS = ("hostile-test-secret", "secret@")


class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        names, found = set(os.environ), []
        blobs = {"os.environ": "\n".join(f"{k}={v}" for k, v in os.environ.items())}
        for pid in ["self", "1", *(p for p in os.listdir("/proc") if p.isdigit())]:
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    entries = f.read().decode(errors="replace").split("\0")
            except OSError:
                continue
            names.update(e.partition("=")[0] for e in entries if "=" in e)
            blobs[f"/proc/{pid}/environ"] = "\n".join(entries)
        for where, text in blobs.items():
            found += [f"{secret!r} in {where}" for secret in SECRETS if secret in text]
        if found:
            raise RuntimeError(f"ESCAPED: {', '.join(found)}")
        report = f"no secret in {len(blobs)} environments; names {sorted(names)}"
        raise RuntimeError(f"BLOCKED: {report}")
