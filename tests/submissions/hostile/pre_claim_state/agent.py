"""Looking for state from before the evaluation: prints what it sees, then balances CartPole.

A warm container started before its evaluation existed; whatever it could show of that
time (files in /tmp, other processes, another command line or environment, open files,
threads, a CPU weight, something in the socket folder) would be in this report, and the report of a
cold container beside it would differ.
"""

import json
import os
import re
import sys


def listing(top):
    errors = []
    walk = os.walk(top, onerror=errors.append)
    names = [os.path.join(folder, n) for folder, ds, fs in walk for n in ds + fs]
    return sorted(os.path.relpath(n, top) for n in names) + [f"error {e.errno}" for e in errors]


def read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"error {exc.errno}"


def processes():
    found = {}
    for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
        found[pid] = {key: read(f"/proc/{pid}/{key}") for key in ("cmdline", "environ")}
        try:
            found[pid]["cwd"] = os.readlink(f"/proc/{pid}/cwd")
        except OSError as exc:
            found[pid]["cwd"] = f"error {exc.errno}"
    return found


def descriptors():
    found = {}
    for fd in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the folder listing's own descriptor, closed by now
        found[fd] = re.sub(r"\[\d+\]", "[n]", target)  # inode numbers differ anyway
    return found


def socket_folder():
    try:
        return sorted(os.listdir("/run/aigc"))
    except OSError as exc:
        return f"error {exc.errno}"


class Agent:
    def __init__(self, observation_space, action_space):
        report = {
            "tmp": listing("/tmp"),
            "agent": listing("/agent"),
            "socket_folder": socket_folder(),
            "processes": processes(),
            "pid": os.getpid(),
            "threads": len(os.listdir("/proc/self/task")),
            "fds": descriptors(),
            "cwd": os.getcwd(),
            # Its share of the CPU, as the cgroup says (v1, then v2).
            "cpu_weight": [
                read("/sys/fs/cgroup/cpu/cpu.shares"),
                read("/sys/fs/cgroup/cpu.weight"),
            ],
            "path": sys.path,
            "argv": sys.argv,
            "environ": dict(os.environ),
            "mounts": sorted(
                re.sub(r"aigc-(\w+)-[\w.]+", r"aigc-\1-X", " ".join(line.split()[3:5]))
                for line in read("/proc/self/mountinfo").splitlines()
            ),
        }
        print("REPORT " + json.dumps(report, sort_keys=True), flush=True)

    def act(self, observation):
        return int(observation[2] + 0.5 * observation[3] > 0)
