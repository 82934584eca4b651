"""Probes what an organizer's environment can reach from its sandbox, and says so at reset.

Only what stays on this machine is tried: the interfaces it sees, the host's Redis and
PostgreSQL on 127.0.0.1 (its own loopback in a sandbox, where nothing listens), the
platform's secret in its environment variables, the database file and the agent's socket
folder by the host paths the test passes in. ``BLOCKED: ...`` when everything failed,
``ESCAPED: ...`` when something worked.
"""

import os
import socket

import gymnasium as gym
from gymnasium import spaces


def _reach(port):
    conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # a literal address: no lookup
    conn.settimeout(1.0)
    try:
        conn.connect(("127.0.0.1", port))
    except OSError:
        return False
    finally:
        conn.close()
    return True


class Env(gym.Env):
    def __init__(self, database="", agent_folder=""):
        self.database, self.agent_folder = database, agent_folder
        self.observation_space = spaces.Discrete(2)
        self.action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        escaped = []
        interfaces = sorted(os.listdir("/sys/class/net"))
        if interfaces != ["lo"]:
            escaped.append(f"interfaces {','.join(interfaces)}")
        escaped += [f"127.0.0.1:{port}" for port in (6379, 5432) if _reach(port)]
        escaped += [k for k in os.environ if k.startswith("AIGC") or "SECRET" in k]
        for path in (self.database, self.agent_folder, "/var/run/docker.sock"):
            if path and os.path.exists(path):
                escaped.append(path)
        try:  # its socket folder: the agent's socket is in another folder, on the host
            others = [n for n in os.listdir("/run/aigc") if n != "agent.sock"]
        except PermissionError:
            others = []
        escaped += [f"/run/aigc/{n}" for n in others]
        if escaped:
            raise RuntimeError(f"ESCAPED: {'; '.join(escaped)}")
        raise RuntimeError(f"BLOCKED: interfaces {','.join(interfaces)}; nothing else reached")

    def step(self, action):
        return 0, 0.0, True, False, {}
