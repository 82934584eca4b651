"""Warm containers: agent sandboxes started ahead of need, each serving one evaluation.

A :class:`WarmPool` keeps ``size`` containers of one runtime image running for each set of
limits it has been asked for. Memory and CPUs are fixed when a container starts (the
runtime's thread count follows the CPUs), and so is what the runtime imports while it
waits (torch only for packages that declare it: importing it costs a second or more of
CPU that a numpy agent would waste), so the pool is keyed by the three; the other locks
come from the platform's :class:`~aigc.submissions.docker_sandbox.SandboxCaps` and are the
same for every container. Each warm container has its own empty package folder (mounted
read-only at ``/agent``) and socket folder (at ``/run/aigc``), made and named as a cold
container's are; its runtime has imported what agents use and waits for its socket. A
waiting container has a CPU weight of almost nothing, so its imports use only what running
evaluations leave over; a claim gives it the weight every cold container has.

A claim takes one container of the claimed limits that still runs, fills its package
folder with the package (hard links where the filesystem allows, else copies, with the
package's own modes) and then links the evaluation's listening socket into its socket
folder: the runtime connects and from there runs as a cold one does. The container is
never used again: once its evaluation has its logs, the pool's thread removes it (off the
evaluation's path, so the result is recorded meanwhile; cold containers of a sandbox with a
pool go the same way) and starts a new one. A claim that leaves none of its limits waiting
has a new one started at once; otherwise the containers serving evaluations count towards
``size`` until they end, so that starting the next container (the engine's work, at full
weight) does not take CPU from the evaluation that claimed. A
container that died while it waited is removed and replaced, never handed out; limits
whose containers keep dying while they wait (too little memory for the imports, say) are
no longer kept warm and start cold.

The pools of a process are shared by its sandboxes (:func:`shared`) and removed with
:func:`close_pools` (on shutdown, and at exit); the pool's containers carry the owner
label, so those of a process that was killed are removed by the reaper.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
from docker.models.containers import Container

from aigc.submissions.owners import make_temp_folder
from aigc.submissions.sandbox import SOCKET_NAME

log = logging.getLogger("aigc.warm_pool")

# Memory in bytes, CPUs, what the runtime imports ahead: all fixed once a container runs.
PoolKey = tuple[int, float, str]
# Create (not start) a container of these limits with these host folders as /agent and
# /run/aigc.
Launch = Callable[[docker.DockerClient, PoolKey, Path, Path], Container]

_Idle = tuple[str, tuple[Path, ...]]  # a container's id, its package and socket folders

MAX_KEYS = 4  # sets of limits kept warm at once; the least recently claimed goes first
IDLE_CHECK = 2.0  # seconds between looks at whether the waiting containers still run
MAX_IDLE_DEATHS = 3  # containers of one set of limits that may die waiting before it goes cold
FAILED_START_PAUSE = 5.0  # seconds before trying again after a container failed to start
# The CPU weight of a waiting container, and of a claimed one (the engine's default, as a
# cold container has): a waiting one's imports yield to the evaluations that run.
WAITING_SHARES = 2
CLAIMED_SHARES = 1024


@dataclass
class WarmContainer:
    """A claimed warm container: its engine handle and its host folders."""

    container: Container
    package_dir: Path
    socket_dir: Path
    pool: WarmPool | None = None  # the pool it came from, which counts it until it goes

    @property
    def folders(self) -> tuple[Path, Path]:
        return self.package_dir, self.socket_dir

    def hand_over(self, package_dir: Path, socket_dir: Path) -> None:
        """Give the container its package, then the evaluation's socket (which starts it)."""
        shutil.copytree(
            package_dir, self.package_dir, symlinks=True, dirs_exist_ok=True, copy_function=_place
        )
        os.link(socket_dir / SOCKET_NAME, self.socket_dir / SOCKET_NAME)

    def discard(self) -> None:
        """Remove the container and its folders now; its pool no longer counts it."""
        if self.pool is not None:
            self.pool.forget(str(self.container.id))
        with contextlib.suppress(docker.errors.APIError):
            self.container.remove(force=True, v=True)
        for folder in self.folders:
            shutil.rmtree(folder, ignore_errors=True)


def _place(source: str, target: str) -> None:
    """Hard-link a package file into a warm container's folder, or copy it."""
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)


def make_folders() -> tuple[Path, Path]:
    """A warm container's empty package and socket folders, of the kinds a cold one mounts."""
    package_dir, socket_dir = make_temp_folder("package"), make_temp_folder("eval")
    os.chmod(socket_dir, 0o711)  # the agent may enter, but neither list nor write
    return package_dir, socket_dir


def _remove_folders(folders: tuple[Path, ...]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


class WarmPool:
    """Warm containers of one image, ``size`` for each set of limits asked for."""

    def __init__(
        self,
        image: str,
        size: int,
        launch: Launch,
        labels: dict[str, str],
        client_factory: Callable[[], docker.DockerClient | None],
    ):
        if size < 1:
            raise ValueError(f"a warm pool holds at least one container, not {size}")
        self.image, self.size, self.launch, self.labels = image, size, launch, labels
        self.client_factory = client_factory
        self.lock = threading.Condition()
        self.idle: dict[PoolKey, deque[_Idle]] = {}
        self.wanted: OrderedDict[PoolKey, None] = OrderedDict()  # least recently claimed first
        self.deaths: dict[PoolKey, int] = {}
        self.retiring: list[_Idle] = []  # of limits no longer kept warm
        self.starting: set[str] = set()  # created, not yet waiting
        self.serving: dict[str, PoolKey] = {}  # claimed, their evaluations not yet ended
        self.closed = False
        self.thread = threading.Thread(
            target=self._fill_forever, name="aigc-warm-pool", daemon=True
        )
        self.thread.start()

    def want(self, key: PoolKey) -> None:
        """Keep containers of these limits warm from now on."""
        with self.lock:
            self._want(key)
            self.lock.notify_all()

    def claim(self, key: PoolKey, client: docker.DockerClient) -> WarmContainer | None:
        """Take a running warm container of these limits, bound to ``client``; None if none.

        The container is the caller's from here: it ends with its evaluation.
        """
        while True:
            with self.lock:
                if self.closed:
                    return None
                self._want(key)
                waiting = self.idle.get(key)
                entry = waiting.popleft() if waiting else None
                if entry is not None:
                    self.serving[entry[0]] = key  # counted as the pool's until it ends
                self.lock.notify_all()  # the pool starts the next one if it needs to
            if entry is None:
                log.info("no warm container of %s waits: the agent starts cold", key)
                return None
            container_id, folders = entry
            model = client.containers.prepare_model({"Id": container_id})
            package_dir, socket_dir = folders
            warm = WarmContainer(model, package_dir, socket_dir, self)
            try:
                warm.container.reload()
                running = warm.container.status == "running"
                if running:
                    client.api.update_container(container_id, cpu_shares=CLAIMED_SHARES)
            except docker.errors.APIError:
                running = False
            if running:
                with self.lock:
                    self.deaths[key] = 0
                log.info("an agent starts in warm container %.12s", container_id)
                return warm
            warm.discard()  # died while it waited: never handed out
            self._died(key)

    def retire(self, container_id: str, folders: tuple[Path, ...]) -> bool:
        """Have the pool's thread remove a container whose evaluation ended, and its folders
        (before it starts the next one); False if the pool is closed: remove it yourself."""
        self.forget(container_id)
        with self.lock:
            if self.closed:
                return False
            self.retiring.append((container_id, folders))
            self.lock.notify_all()
            return True

    def forget(self, container_id: str) -> None:
        """Stop counting a claimed container as serving: its evaluation has ended."""
        with self.lock:
            if self.serving.pop(container_id, None) is not None:
                self.lock.notify_all()  # the pool may now start the next one

    def close(self) -> None:
        """Stop filling and remove every waiting container."""
        with self.lock:
            self.closed = True
            self.lock.notify_all()
        self.thread.join(timeout=60)

    def ready(self, key: PoolKey, timeout: float) -> set[str]:
        """Wait up to ``timeout`` seconds for a container of these limits to wait to be
        claimed; return the ids of those waiting (none if the time ran out)."""
        end = time.monotonic() + timeout
        with self.lock:
            while not self.closed:
                found = {entry[0] for entry in self.idle.get(key, ())}
                remaining = end - time.monotonic()
                if found or remaining <= 0:
                    return found
                self.lock.wait(remaining)
            return set()

    def waiting_ids(self) -> set[str]:
        """The ids of the containers waiting to be claimed."""
        with self.lock:
            return {entry[0] for queue in self.idle.values() for entry in queue}

    def held_ids(self) -> set[str]:
        """The ids of the containers not handed out: waiting, or being started."""
        with self.lock:
            return self.waiting_ids() | self.starting

    # -- the filling thread ------------------------------------------------------------

    def _want(self, key: PoolKey) -> None:
        self.wanted[key] = None
        self.wanted.move_to_end(key)
        self.idle.setdefault(key, deque())
        while len(self.wanted) > MAX_KEYS:
            dropped, _ = self.wanted.popitem(last=False)
            self.retiring.extend(self.idle.pop(dropped, ()))

    def _short(self) -> PoolKey | None:
        """The most recently claimed limits that lack a container, if any: none waits, or
        fewer than ``size`` wait or serve."""
        for key in reversed(self.wanted):
            if self.deaths.get(key, 0) >= MAX_IDLE_DEATHS:
                continue
            waiting = len(self.idle[key])
            serving = sum(1 for served in self.serving.values() if served == key)
            if waiting == 0 or waiting + serving < self.size:
                return key
        return None

    def _died(self, key: PoolKey) -> None:
        with self.lock:
            self.deaths[key] = self.deaths.get(key, 0) + 1
            if self.deaths[key] == MAX_IDLE_DEATHS:
                log.warning(
                    "warm containers of %s (%s bytes, %s CPUs, preloading %s) keep dying "
                    "while they wait: "
                    "those limits start cold from now on",
                    self.image,
                    *key,
                )

    def _fill_forever(self) -> None:
        client = self.client_factory()
        if client is None:
            log.warning("no Docker engine answers: no warm containers for %s", self.image)
            with self.lock:
                self.closed = True
            return
        self.client = client
        checked = time.monotonic()
        try:
            while True:
                with self.lock:
                    while not self.closed and self._short() is None and not self.retiring:
                        if time.monotonic() - checked >= IDLE_CHECK:
                            break
                        self.lock.wait(IDLE_CHECK)
                    if self.closed:
                        return
                    key = self._short()
                    retiring, self.retiring = self.retiring, []
                for entry in retiring:
                    self._retire(*entry)
                if time.monotonic() - checked >= IDLE_CHECK:
                    self._check_idle()
                    checked = time.monotonic()
                if key is not None:
                    self._add(key)
        finally:
            self._remove_all()
            client.close()

    def _add(self, key: PoolKey) -> None:
        folders = make_folders()
        container: Container | None = None
        try:
            container = self.launch(self.client, key, *folders)
            with self.lock:
                self.starting.add(str(container.id))
            container.start()
        except docker.errors.APIError as exc:
            with self.lock:
                self.starting.discard(str(container.id) if container is not None else "")
            if container is not None:
                self._retire(str(container.id), folders)
            _remove_folders(folders)
            log.warning("a warm container of %s could not start: %s", self.image, exc)
            self._died(key)
            with self.lock:
                self.lock.wait(FAILED_START_PAUSE)
            return
        with self.lock:
            self.starting.discard(str(container.id))
            keep = not self.closed and key in self.wanted
            if keep:
                self.idle[key].append((str(container.id), folders))
                self.lock.notify_all()  # for those waiting in ready()
        if not keep:
            self._retire(str(container.id), folders)

    def _check_idle(self) -> None:
        """Remove and replace the waiting containers that no longer run."""
        filters = {"label": [f"{name}={value}" for name, value in self.labels.items()]}
        try:
            found = self.client.api.containers(all=True, filters=filters)
        except docker.errors.APIError:
            return
        running = {c["Id"] for c in found if c.get("State") == "running"}
        dead: list[tuple[PoolKey, str, tuple[Path, ...]]] = []
        with self.lock:
            for key, waiting in self.idle.items():
                for entry in list(waiting):
                    if entry[0] not in running:
                        waiting.remove(entry)
                        dead.append((key, *entry))
        for key, container_id, folders in dead:
            self._retire(container_id, folders)
            self._died(key)

    def _retire(self, container_id: str, folders: tuple[Path, ...]) -> None:
        with contextlib.suppress(docker.errors.APIError):
            self.client.api.remove_container(container_id, force=True, v=True)
        _remove_folders(folders)

    def _remove_all(self) -> None:
        with self.lock:
            entries = [entry for waiting in self.idle.values() for entry in waiting]
            entries += self.retiring
            self.idle.clear()
            self.retiring = []
        for container_id, folders in entries:
            self._retire(container_id, folders)


_pools: dict[object, WarmPool] = {}
_pools_lock = threading.Lock()


def shared(key: object, make: Callable[[], WarmPool]) -> WarmPool:
    """This process's pool for ``key`` (an image, its caps, a size), made on first use."""
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None or pool.closed:
            pool = _pools[key] = make()
        return pool


def close_pools() -> None:
    """Remove every warm container this process keeps (on shutdown)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()


def _forget_after_fork() -> None:
    # A forked child owns none of its parent's containers (they carry the parent's owner
    # label) and has none of its threads; it makes its own pools.
    global _pools_lock
    _pools.clear()
    _pools_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(close_pools)
