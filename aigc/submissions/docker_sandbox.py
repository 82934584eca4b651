"""The Docker sandbox: every agent in a locked-down container that can only answer the evaluator.

The container gets the agent package read-only at ``/agent`` and the evaluation's socket
folder at ``/run/aigc``, and nothing else of the host: no network, a read-only root
filesystem with a small ``/tmp``, an unprivileged user, no capabilities, no new
privileges, a seccomp profile (:mod:`aigc.submissions.seccomp`), limits on memory (swap
included), CPU, processes, open files, file size and log size, and no core dumps. The
challenge's limits are bounded by :class:`SandboxCaps`.

Every container carries the ``aigc.sandbox`` label and the identity of the process that
started it (:mod:`aigc.submissions.owners`). It is removed when its evaluation ends;
containers left behind by an evaluator that died are removed by
:func:`reap_stale_containers`, and its temporary folders by
:func:`~aigc.submissions.owners.reap_stale_folders`, both run when a sandbox starts.

With ``pool_size`` above 0 an agent starts in a warm container of
:mod:`aigc.submissions.warm_pool` when one of its limits waits, started with the same
options (:func:`container_options`) and command; warm containers carry ``aigc.pool``
instead of ``aigc.sandbox``, and the reaper knows both. With 0 nothing changes.
"""

from __future__ import annotations

import contextlib
import copy
import heapq
import os
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests
from docker.models.containers import Container
from docker.types import LogConfig, Ulimit

from aigc.submissions import seccomp
from aigc.submissions import warm_pool as warm_pools
from aigc.submissions.agent_output import LogBuffer
from aigc.submissions.challenge import Limits
from aigc.submissions.images import AGENT_UID, Progress, runtime_image
from aigc.submissions.owners import owner_alive, owner_id, reap_stale_folders
from aigc.submissions.package import PackageError, read_manifest
from aigc.submissions.runtime_packages import challenge_image, prepare
from aigc.submissions.sandbox import (
    SOCKET_NAME,
    AgentProcess,
    Sandbox,
    SandboxError,
    describe_status,
)

LABEL = "aigc.sandbox"
POOL_LABEL = "aigc.pool"  # a warm container (its value: the image), idle or claimed
OWNER_LABEL = "aigc.owner"
PACKAGE_MOUNT = "/agent"
BUNDLE_MOUNT = "/environment"
SOCKET_MOUNT = "/run/aigc"


@dataclass(frozen=True)
class SandboxCaps:
    """Platform-wide bounds: a challenge's limits are cut to these."""

    max_memory_bytes: int = 8 * 2**30
    max_cpus: float = 2.0
    pids: int = 64
    tmp_bytes: int = 64 * 2**20
    shm_bytes: int = 16 * 2**20
    open_files: int = 256
    file_size_bytes: int = 64 * 2**20
    log_bytes: int = 2**20
    stop_grace: float = 2.0


# How long one call to the engine may take: starting a container on a busy machine can
# take several seconds, far more than the engine needs to answer that it is there.
CALL_TIMEOUT = 120


def docker_client(timeout: float = 5.0) -> docker.DockerClient | None:
    """Return a client for the local Docker engine, or None if none answers within
    ``timeout`` seconds; the client's own calls may take up to CALL_TIMEOUT."""
    try:
        probe = docker.from_env(timeout=int(max(1, timeout)))
        try:
            probe.ping()
        finally:
            probe.close()
        return docker.from_env(timeout=CALL_TIMEOUT)
    except Exception:  # no socket, no permission, engine down: all mean "not available"
        return None


def reap_stale_containers(client: docker.DockerClient) -> list[str]:
    """Remove sandbox containers, warm ones too, whose evaluator is gone; return their names."""
    removed = []
    # The listing alone (no look at each container): containers come and go meanwhile.
    found = [
        container
        for label in (LABEL, POOL_LABEL)
        for container in client.api.containers(all=True, filters={"label": label})
    ]
    for container in found:
        if owner_alive((container.get("Labels") or {}).get(OWNER_LABEL, "")):
            continue
        try:
            client.api.remove_container(container["Id"], force=True, v=True)
        except docker.errors.NotFound:
            continue
        except docker.errors.APIError as exc:
            if exc.status_code == 409:  # another worker is removing it at this moment
                continue
            raise
        names = container.get("Names") or [container["Id"][:12]]
        removed.append(names[0].lstrip("/"))
    return removed


def _size(n: int) -> str:
    return f"{n / 2**30:g} GiB" if n >= 2**30 else f"{n / 2**20:g} MiB"


def _timestamped(container: Container, stream: str) -> list[tuple[str, str, bytes]]:
    """One stream's lines as (time, stream, line); Docker stamps each line it receives."""
    raw = container.logs(stdout=stream == "out", stderr=stream == "err", timestamps=True)
    found = []
    for line in raw.splitlines(keepends=True):
        stamp, _, text = line.partition(b" ")
        # RFC 3339 with nanoseconds, trailing zeros dropped: pad them back to compare.
        seconds, _, fraction = stamp.decode("ascii", "replace").rstrip("Z").partition(".")
        found.append((seconds + "." + fraction.ljust(9, "0"), stream, text))
    return found


def merged_logs(container: Container) -> list[tuple[str, bytes]]:
    """The container's stdout and stderr lines as (stream, line), in the order received."""
    streams = [_timestamped(container, stream) for stream in ("out", "err")]
    return [(stream, text) for _, stream, text in heapq.merge(*streams, key=lambda e: e[0])]


# What a waiting runtime imports beyond its own modules (numpy, gymnasium, msgpack): torch
# for a package that declares ``framework = "torch"``, else nothing more. Cold containers
# get the same variable, so that the two look alike from inside.
PRELOAD_VARIABLE = "RUNTIME_PRELOAD"
NO_PRELOAD = "none"
AGENT_COMMAND = ["--socket", f"{SOCKET_MOUNT}/{SOCKET_NAME}", "--package", PACKAGE_MOUNT]


def preload_for(package_dir: Path) -> str:
    """What a warm runtime for this package imports ahead (see PRELOAD_VARIABLE)."""
    try:
        framework = read_manifest(package_dir).framework
    except PackageError:
        return NO_PRELOAD
    return "torch" if framework == "torch" else NO_PRELOAD


def container_options(
    caps: SandboxCaps, memory: int, cpus: float, preload: str = NO_PRELOAD
) -> dict[str, Any]:
    """Everything a sandbox container is started with but its command, mounts and labels.

    Cold and warm containers (:mod:`aigc.submissions.warm_pool`) share it, so that the
    two cannot differ in their locks.
    """
    threads = str(max(1, int(cpus)))
    return {
        "init": True,  # signals reach the runtime; orphans are reaped
        "environment": {
            "PYTHONHASHSEED": "0",
            # The package folder (the working folder) must not shadow the runtime's own
            # imports: a warm runtime has them before the package is there, so a cold one
            # must not take them from the package either.
            "PYTHONSAFEPATH": "1",
            PRELOAD_VARIABLE: preload,
            "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
        },
        "network_mode": "none",
        "read_only": True,
        "tmpfs": {"/tmp": f"rw,noexec,nosuid,nodev,size={caps.tmp_bytes}"},
        "shm_size": caps.shm_bytes,
        "user": f"{AGENT_UID}:{AGENT_UID}",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges", seccomp.security_option()],
        "pids_limit": caps.pids,
        "mem_limit": memory,
        "memswap_limit": memory,  # no swap beyond the memory limit
        "nano_cpus": int(cpus * 1e9),
        "ulimits": [
            Ulimit(name="nofile", soft=caps.open_files, hard=caps.open_files),
            Ulimit(name="fsize", soft=caps.file_size_bytes, hard=caps.file_size_bytes),
            Ulimit(name="core", soft=0, hard=0),
        ],
        "log_config": LogConfig(
            type="json-file", config={"max-size": str(caps.log_bytes), "max-file": "1"}
        ),
    }


class DockerProcess(AgentProcess):
    def __init__(
        self,
        container: Container,
        memory_bytes: int,
        grace: float,
        folders: tuple[Path, ...] = (),
        remover: warm_pools.WarmPool | None = None,
    ):
        self.container = container
        self.folders = folders  # a warm container's host folders, removed with it
        # Whose thread removes the container once its logs are kept (else: here, at once).
        self.remover = remover
        self.memory_bytes = memory_bytes
        self.grace = grace
        self.final_logs: str | None = None
        self.state: dict = {}

    def poll(self) -> int | None:
        if self.state.get("Status") in ("exited", "dead"):
            return int(self.state["ExitCode"])
        try:
            self.container.reload()
        except docker.errors.NotFound:
            self.state = {"Status": "dead", "ExitCode": -9, "OOMKilled": False}
            return -9
        self.state = self.container.attrs["State"]
        if self.state["Status"] in ("exited", "dead"):
            return int(self.state["ExitCode"])
        return None

    def wait(self, seconds: float) -> int | None:
        # One call the engine answers when the container stops, instead of a look every few
        # milliseconds (each a call of its own).
        if self.poll() is None and seconds > 0.001:
            with contextlib.suppress(docker.errors.APIError, requests.exceptions.RequestException):
                self.container.wait(timeout=seconds, condition="not-running")
        return self.poll()

    def exit_reason(self) -> str:
        status = self.poll()
        if status is None:
            return "is still running"
        if self.state.get("OOMKilled"):
            return (
                f"was killed for using more than its {_size(self.memory_bytes)} of memory: "
                "use less memory"
            )
        # Docker reports death by signal N as status 128 + N.
        return describe_status(-(status - 128) if status > 128 else status)

    def logs(self) -> str:
        if self.final_logs is not None:
            return self.final_logs
        buffer = LogBuffer()
        with contextlib.suppress(docker.errors.APIError):
            for stream, line in merged_logs(self.container):
                buffer.write(line, stream)
        return buffer.text()

    def stop(self, grace: float | None = None) -> None:
        grace = self.grace if grace is None else grace
        with contextlib.suppress(docker.errors.APIError):
            if self.poll() is None:
                # SIGTERM, then SIGKILL after the grace period.
                self.container.stop(timeout=max(1, round(grace)))
            self.poll()
            self.final_logs = self.logs()
        if self.remover is not None and self.remover.retire(str(self.container.id), self.folders):
            return  # off the evaluation's path: its result is recorded meanwhile
        with contextlib.suppress(docker.errors.NotFound):
            self.container.remove(force=True, v=True)
        for folder in self.folders:
            shutil.rmtree(folder, ignore_errors=True)


def warm_pool(
    client: docker.DockerClient, image: str, caps: SandboxCaps, size: int
) -> warm_pools.WarmPool:
    """This process's pool of warm containers of ``image`` (see :mod:`.warm_pool`)."""
    labels = {POOL_LABEL: image, OWNER_LABEL: owner_id()}

    def launch(
        client: docker.DockerClient, key: warm_pools.PoolKey, package_dir: Path, socket_dir: Path
    ) -> Container:
        memory, cpus, preload = key
        options = container_options(caps, memory, cpus, preload)
        # While it waits, its imports take only CPU that running evaluations leave over.
        options["cpu_shares"] = warm_pools.WAITING_SHARES
        # The command a cold container gets: the runtime finds no socket yet, and waits.
        return client.containers.create(
            image,
            command=AGENT_COMMAND,
            labels=labels,
            volumes={
                str(package_dir): {"bind": PACKAGE_MOUNT, "mode": "ro"},
                str(socket_dir): {"bind": SOCKET_MOUNT, "mode": "rw"},
            },
            working_dir=PACKAGE_MOUNT,
            **options,
        )

    return warm_pools.shared(
        (image, caps, size),
        lambda: warm_pools.WarmPool(image, size, launch, labels, docker_client),
    )


class DockerSandbox(Sandbox):
    """Runs each agent in a fresh, locked-down container."""

    name = "docker"
    isolated = True

    def __init__(
        self,
        image: str | None = None,
        client: docker.DockerClient | None = None,
        caps: SandboxCaps = SandboxCaps(),
        progress: Progress = print,
        pool_size: int = 0,
    ):
        client = client or docker_client()
        if client is None:
            raise SandboxError(
                "no Docker engine answers: start Docker (or use --sandbox local for code you trust)"
            )
        self.client = client
        self.caps = caps
        self.owner = owner_id()
        reap_stale_containers(client)
        reap_stale_folders()  # their socket folders and unpacked packages
        self.progress = progress
        self.image = image or runtime_image(client, progress)
        # Warm containers of this image, shared by every sandbox of this process.
        self.pool = warm_pool(client, self.image, caps, pool_size) if pool_size > 0 else None
        if self.pool is not None:
            for preload in (NO_PRELOAD, "torch"):  # the limits most challenges keep
                self.pool.want((*self.cut(Limits()), preload))

    def with_packages(
        self, packages: tuple[str, ...], find_links: Path | None = None
    ) -> DockerSandbox:
        """This sandbox running an image with these runtime packages, resolved and built here
        (:func:`~aigc.submissions.runtime_packages.prepare`); SpecError if they do not resolve."""
        if not packages:
            return self
        _, image = prepare(self.client, packages, find_links, self.progress)
        return self._on_image(image)

    def for_runtime(
        self,
        wheelhouse_sha256: str | None,
        open_wheelhouse: Callable[[], AbstractContextManager[Path]],
    ) -> DockerSandbox:
        """This sandbox running the challenge's image (:func:`challenge_image`), which is
        built first from the wheelhouse if this engine lacks it."""
        if wheelhouse_sha256 is None:
            return self
        image = challenge_image(self.client, wheelhouse_sha256, open_wheelhouse, self.progress)
        return self._on_image(image)

    def _on_image(self, image: str) -> DockerSandbox:
        """This sandbox on another image, with that image's own warm pool if this one has one."""
        chosen = copy.copy(self)
        chosen.image = image
        if self.pool is not None:
            chosen.pool = warm_pool(self.client, image, self.caps, self.pool.size)
        return chosen

    def start(self, package_dir: Path, socket_dir: Path, limits: Limits) -> AgentProcess:
        preload = preload_for(package_dir)
        if self.pool is not None:
            memory, cpus = self.cut(limits)
            warm = self.pool.claim((memory, cpus, preload), self.client)
            if warm is not None:
                self._open_socket_to_agent(socket_dir)
                try:
                    warm.hand_over(package_dir, socket_dir)
                except OSError:  # e.g. the socket folder on another filesystem: start cold
                    warm.discard()
                else:
                    return DockerProcess(
                        warm.container, memory, self.caps.stop_grace, warm.folders, self.pool
                    )
        mounts = {str(Path(package_dir).resolve()): {"bind": PACKAGE_MOUNT, "mode": "ro"}}
        return self._run(
            AGENT_COMMAND, None, mounts, PACKAGE_MOUNT, socket_dir, limits, "agent's", preload
        )

    def start_environment(self, bundle_dir: Path, socket_dir: Path, limits: Limits) -> AgentProcess:
        """Start an organizer's environment runtime, locked down as an agent is.

        The same image and locks (the image carries the environment runtime beside the
        agent's); the bundle read-only at ``/environment``.
        """
        command = [
            "-m",
            "aigc.submissions.environment_runtime",
            "--socket",
            f"{SOCKET_MOUNT}/{SOCKET_NAME}",
            "--bundle",
            BUNDLE_MOUNT,
        ]
        mounts = {str(Path(bundle_dir).resolve()): {"bind": BUNDLE_MOUNT, "mode": "ro"}}
        return self._run(
            command, ["python"], mounts, BUNDLE_MOUNT, socket_dir, limits, "environment's"
        )

    def _run(
        self,
        command: list[str],
        entrypoint: list[str] | None,
        mounts: dict[str, dict[str, str]],
        working_dir: str,
        socket_dir: Path,
        limits: Limits,
        whose: str,
        preload: str = NO_PRELOAD,
    ) -> AgentProcess:
        memory, cpus = self.cut(limits)
        self._open_socket_to_agent(socket_dir)
        options = container_options(self.caps, memory, cpus, preload)
        try:
            container = self.client.containers.run(
                self.image,
                command=command,
                entrypoint=entrypoint,
                detach=True,
                labels={LABEL: "1", OWNER_LABEL: self.owner},
                volumes={
                    **mounts,
                    str(Path(socket_dir).resolve()): {"bind": SOCKET_MOUNT, "mode": "rw"},
                },
                working_dir=working_dir,
                **options,
            )
        except docker.errors.APIError as exc:
            raise SandboxError(f"the {whose} container could not start: {exc.explanation}") from exc
        return DockerProcess(container, memory, self.caps.stop_grace, remover=self.pool)

    def cut(self, limits: Limits) -> tuple[int, float]:
        """The memory and CPUs a container gets: the challenge's limits, cut to the caps."""
        return min(limits.memory_bytes, self.caps.max_memory_bytes), min(
            limits.cpus, self.caps.max_cpus
        )

    def _open_socket_to_agent(self, socket_dir: Path) -> None:
        """Let the container's user connect to the socket, and create nothing beside it.

        The folder is a host folder: writable, an agent could fill the host's disk there.
        """
        os.chmod(socket_dir, 0o711)  # enter, but neither list nor write
        path = socket_dir / SOCKET_NAME
        try:
            os.chown(path, AGENT_UID, AGENT_UID)
            os.chmod(path, 0o600)
        except PermissionError:  # not root: the socket itself must be open to all
            os.chmod(path, 0o666)
