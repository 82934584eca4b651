"""Which sandbox containers belong to this test session: others may share the Docker engine.

A container's owner label names the process that started it (host, PID, start time). Tests
count and remove only the containers of their own processes, never every labelled one: a
second test session, or a platform running on the same engine, has its own.
"""

from __future__ import annotations

from pathlib import Path

import docker
from docker.models.containers import Container

from aigc.submissions.docker_sandbox import LABEL, OWNER_LABEL


def owner_pid(container: Container) -> int | None:
    """The PID in a container's owner label, or None if it has none."""
    _, _, rest = container.labels.get(OWNER_LABEL, "").partition(":")
    pid = rest.partition(":")[0]
    return int(pid) if pid.isdigit() else None


def session_of(pid: int) -> int | None:
    """The session a living process belongs to, or None if it is gone."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat_line.rpartition(")")[2].split()[3])  # state, ppid, pgrp, session


def labelled(client: docker.DockerClient, *labels: str) -> list[Container]:
    """The containers carrying every one of ``labels`` (``name`` or ``name=value``); one
    removed while the list is read is left out."""
    return client.containers.list(all=True, filters={"label": list(labels)}, ignore_removed=True)


def owned_by(client: docker.DockerClient, owner: str, label: str = LABEL) -> list[Container]:
    """The containers of ``label`` (sandbox by default, or POOL_LABEL for warm ones) whose
    owner label is exactly ``owner``."""
    return labelled(client, label, f"{OWNER_LABEL}={owner}")


def of_pids(client: docker.DockerClient, pids: set[int], label: str = LABEL) -> list[Container]:
    """The containers of ``label`` started by one of ``pids``."""
    return [c for c in labelled(client, label) if owner_pid(c) in pids]


def of_sessions(client: docker.DockerClient, sessions: set[int]) -> list[Container]:
    """The sandbox containers started by a living process of one of ``sessions``."""
    listed = labelled(client, LABEL)
    return [c for c in listed if (pid := owner_pid(c)) is not None and session_of(pid) in sessions]
