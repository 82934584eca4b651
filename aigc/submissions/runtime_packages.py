"""A challenge's runtime packages: resolved on the host, installed into a derived image.

An organizer lists pip requirements in the spec (``runtime: {packages: [...]}``). When the
challenge is created or updated the platform resolves them here, on the host, against the
packages the agent-runtime image already holds (its numpy, gymnasium, msgpack and torch
stay as they are: a requirement that needs another version is refused with pip's own line)
and downloads the wheels that are missing into a **wheelhouse**. Only wheels: nothing is
built and no package's code runs on the host.

The derived image is the agent-runtime image plus those wheels, installed with
``--no-index`` in a build that has no network, and tagged by a hash of the base image's tag
and the wheelhouse, so every evaluation of that challenge version reuses it, and a worker
that lacks it (another host, a pruned engine) builds it again from the stored wheelhouse.
The agent's container and the organizer's environment container both run it.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import tempfile
import threading
import venv
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker

from aigc.submissions.challenge import SpecError
from aigc.submissions.images import (
    AGENT_UID,
    REPOSITORY,
    ImageError,
    Progress,
    _has_image,
    build,
    runtime_image,
)

REQUIREMENTS = "requirements.txt"
# The recipe of a derived image: the wheels go in as root, from the build context only (pip
# byte-compiles what it installs: a read-only container could not).
DERIVED_DOCKERFILE = """\
ARG BASE
FROM ${BASE}
ARG AGENT_UID
ARG PACKAGES
USER 0:0
COPY wheelhouse /wheelhouse
RUN pip install --no-cache-dir --no-index --find-links /wheelhouse \\
        -r /wheelhouse/requirements.txt \\
 && rm -rf /wheelhouse
ENV AIGC_CHALLENGE_PACKAGES=${PACKAGES}
USER ${AGENT_UID}:${AGENT_UID}
"""
_WHEEL_NAME = re.compile(r"[A-Za-z0-9_.+!-]{1,200}\.whl")
MAX_WHEELHOUSE_BYTES = 4 * 2**30
PIP_TIMEOUT = 900  # seconds for one resolution or download
_installed_cache: dict[str, dict[str, tuple[str, str]]] = {}
_installed_lock = threading.Lock()


class PackagesRefused(SpecError):
    """The runtime packages do not resolve; the message is pip's own line."""


@dataclass(frozen=True)
class Wheelhouse:
    """The resolved runtime: the pins it installs and the wheelhouse archive's bytes."""

    pins: tuple[str, ...]
    archive: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.archive).hexdigest()


def image_distributions(client: docker.DockerClient, tag: str) -> dict[str, tuple[str, str]]:
    """The distributions installed in an image: name -> (version, METADATA text); cached."""
    with _installed_lock:
        if tag in _installed_cache:
            return _installed_cache[tag]
    script = (
        "import importlib.metadata as m, json\n"
        "print(json.dumps({d.metadata['Name']: [d.version, d.read_text('METADATA') or '']"
        " for d in m.distributions()}))"
    )
    try:
        raw = client.containers.run(
            tag,
            ["-c", script],
            entrypoint=["python"],
            network_mode="none",
            remove=True,
            stdout=True,
            stderr=False,
            labels={"aigc.runtime-probe": "1"},
        )
    except docker.errors.DockerException as exc:
        raise ImageError(f"cannot list the packages of {tag}: {exc}") from None
    found = {name: (version, meta) for name, (version, meta) in json.loads(raw).items()}
    with _installed_lock:
        _installed_cache[tag] = found
    return found


def _pip_error(stderr: str) -> str:
    """Pip's own line for why the resolution failed, the clearest of its ERROR lines."""
    errors = [line.strip() for line in stderr.splitlines() if line.startswith("ERROR:")]
    useful = [line for line in errors if "ResolutionImpossible" not in line]
    line = (useful or errors or stderr.strip().splitlines()[-1:] or ["pip failed"])[0]
    return line.removeprefix("ERROR: ").strip()


def _pip(arguments: Sequence[str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *arguments]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise PackagesRefused(
            f"runtime.packages: pip did not finish within {PIP_TIMEOUT} s: check that this "
            "host reaches its package index, and try again"
        ) from None


def _sources(find_links: Path | None) -> list[str]:
    """Where wheels come from: pip's configured index, or only a folder of wheels."""
    return [] if find_links is None else ["--no-index", "--find-links", str(find_links)]


def _stand_in(folder: Path, installed: dict[str, tuple[str, str]]) -> Path:
    """A Python environment that pip sees as holding the image's distributions.

    Only their metadata: pip resolves against them as installed and plans to download
    only what is missing, never another numpy or torch.
    """
    venv.EnvBuilder(with_pip=False, symlinks=True).create(folder)
    site = next((folder / "lib").glob("python3*/site-packages"))
    for name, (version, metadata) in installed.items():
        info = site / f"{re.sub(r'[-.]+', '_', name)}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(metadata or f"Metadata-Version: 2.1\nName: {name}\n")
    return folder / "bin" / "python"


def resolve(
    packages: Sequence[str],
    installed: dict[str, tuple[str, str]],
    find_links: Path | None = None,
    progress: Progress = print,
) -> Wheelhouse:
    """Resolve the packages beside the image's own and download the missing wheels.

    PackagesRefused (pip's line) if they do not resolve: unknown, no wheel for this Python,
    or a version the image's packages conflict with.
    """
    progress(f"resolving {', '.join(packages)} against the runtime image's packages")
    with tempfile.TemporaryDirectory(prefix="aigc-wheels-") as tmp:
        root = Path(tmp)
        python = _stand_in(root / "env", installed)
        constraints = root / "constraints.txt"
        constraints.write_text("".join(f"{n}=={v}\n" for n, (v, _) in sorted(installed.items())))
        report = root / "report.json"
        done = _pip(
            [
                "--python",
                str(python),
                "install",
                "--dry-run",
                "--quiet",
                "--only-binary=:all:",
                "--report",
                str(report),
                "--constraint",
                str(constraints),
                *_sources(find_links),
                *packages,
            ]
        )
        if done.returncode != 0:
            raise PackagesRefused(f"runtime.packages: {_pip_error(done.stderr)}")
        plan = json.loads(report.read_text())["install"]
        pins = sorted(f"{item['metadata']['name']}=={item['metadata']['version']}" for item in plan)
        wheels = root / "wheelhouse"
        wheels.mkdir()
        if pins:
            progress(f"downloading {', '.join(pins)}")
            done = _pip(
                [
                    "download",
                    "--quiet",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--dest",
                    str(wheels),
                    *_sources(find_links),
                    *pins,
                ]
            )
            if done.returncode != 0:
                raise PackagesRefused(f"runtime.packages: {_pip_error(done.stderr)}")
        return Wheelhouse(tuple(pins), pack_wheelhouse(wheels, pins))


def pack_wheelhouse(folder: Path, pins: Sequence[str]) -> bytes:
    """Zip a folder of wheels with their requirements, in a stable order (a stable hash)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        members = [(REQUIREMENTS, "".join(f"{pin}\n" for pin in pins).encode())]
        members += [(p.name, p.read_bytes()) for p in sorted(folder.glob("*.whl"))]
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buffer.getvalue()


@contextmanager
def unpacked(archive: bytes) -> Iterator[Path]:
    """Yield a wheelhouse archive extracted in a temporary folder, removed after."""
    with tempfile.TemporaryDirectory(prefix="aigc-wheelhouse-") as tmp:
        unpack_wheelhouse(archive, Path(tmp))
        yield Path(tmp)


def unpack_wheelhouse(data: bytes, folder: Path) -> list[str]:
    """Extract a wheelhouse archive (flat: wheels and requirements) and return its pins."""
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        total = sum(info.file_size for info in zf.infolist())
        if total > MAX_WHEELHOUSE_BYTES:
            raise ImageError(f"the wheelhouse holds {total} bytes, more than allowed")
        for info in zf.infolist():
            if info.filename != REQUIREMENTS and not _WHEEL_NAME.fullmatch(info.filename):
                raise ImageError(f"the wheelhouse holds {info.filename!r}, which is no wheel")
            (folder / info.filename).write_bytes(zf.read(info))
    return (folder / REQUIREMENTS).read_text().split()


def derived_tag(base: str, wheelhouse_sha256: str) -> str:
    """The derived image's tag: a hash of its base's tag, its recipe and its wheelhouse."""
    digest = hashlib.sha256()
    for part in (base, DERIVED_DOCKERFILE, str(AGENT_UID), wheelhouse_sha256):
        digest.update(part.encode() + b"\0")
    return f"{REPOSITORY}:{base.rpartition(':')[2][:8]}-{digest.hexdigest()[:16]}"


def build_derived(
    client: docker.DockerClient, base: str, wheelhouse: Path, tag: str, progress: Progress
) -> None:
    """Build the derived image from an unpacked wheelhouse, with no network at all."""
    with tempfile.TemporaryDirectory(prefix="aigc-derived-") as tmp:
        context = Path(tmp)
        target = context / "wheelhouse"
        target.mkdir()
        pins = (wheelhouse / REQUIREMENTS).read_text().split()
        for path in wheelhouse.iterdir():
            if path.name == REQUIREMENTS or path.suffix == ".whl":
                (target / path.name).write_bytes(path.read_bytes())
        (context / "Dockerfile").write_text(DERIVED_DOCKERFILE)
        build(
            client,
            context,
            tag,
            {"BASE": base, "AGENT_UID": str(AGENT_UID), "PACKAGES": " ".join(pins)},
            progress,
            network_mode="none",
        )


WheelhouseOpener = Callable[[], AbstractContextManager[Path]]


def challenge_image(
    client: docker.DockerClient,
    wheelhouse_sha256: str | None = None,
    open_wheelhouse: WheelhouseOpener | None = None,
    progress: Progress = print,
) -> str:
    """The image a challenge's agents and environment run in: the agent-runtime image, or
    the one derived from it with the challenge's wheelhouse (built first if it is missing).

    ``open_wheelhouse`` yields the unpacked wheelhouse whose archive has that sha256; it is
    opened only when the image has to be built.
    """
    base = runtime_image(client, progress)
    if wheelhouse_sha256 is None:
        return base
    tag = derived_tag(base, wheelhouse_sha256)
    if _has_image(client, tag):
        return tag
    if open_wheelhouse is None:
        raise ImageError(f"{tag} is missing and no wheelhouse was given to build it")
    with open_wheelhouse() as folder:
        build_derived(client, base, folder, tag, progress)
    return tag


def prepare(
    client: docker.DockerClient,
    packages: Sequence[str],
    find_links: Path | None = None,
    progress: Progress = print,
) -> tuple[Wheelhouse, str]:
    """Resolve a challenge's packages and build its image; return the wheelhouse and tag."""
    base = runtime_image(client, progress)
    wheelhouse = resolve(packages, image_distributions(client, base), find_links, progress)
    opener = lambda: unpacked(wheelhouse.archive)  # noqa: E731
    return wheelhouse, challenge_image(client, wheelhouse.sha256, opener, progress)
