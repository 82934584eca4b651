"""The agent-runtime image: built without a registry, tagged by a hash of its contents.

The image holds Python 3.11, numpy, gymnasium, msgpack and torch (CPU), the same versions
as the evaluator's own environment, plus the few modules of ``aigc`` that the agent
runtime imports. It runs as an unprivileged user. Its tag is a hash of everything that
goes into it, so a worker builds it once and again only when something changed.

The base is ``python:3.11-slim`` where a registry can be reached. Where none can, the base
is bootstrapped from Debian's packages (``debootstrap`` bookworm with python3, then
``docker import``); that needs root and the ``debootstrap`` command. Python packages are
installed from a wheelhouse that ``pip download`` fills on the host, never from inside
the build.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors

import aigc
from aigc.submissions.package import RUNTIME_PACKAGES

REPOSITORY = "aigc-agent-runtime"
BASE_REPOSITORY = "aigc-base"
SLIM_BASE = "python:3.11-slim"
DEBIAN_SUITE = "bookworm"
DEBIAN_PACKAGES = ("python3", "python3-venv")
AGENT_UID = 10001
# The only parts of aigc the runtime imports; nothing else of the platform is in the image.
RUNTIME_MODULES = (
    "__init__.py",
    "submissions/__init__.py",
    "submissions/agent_runtime.py",
    "submissions/archive.py",
    "submissions/environment_runtime.py",
    "submissions/owners.py",
    "submissions/package.py",
    "submissions/protocol.py",
    "submissions/spaces.py",
)
# The torch the image carries where none is installed here (a participant's install without
# the text or train extra): the release those extras pin, which setup.sh installs.
RUNTIME_TORCH = "2.13.0"

# The recipe, a file of its own: docker/agent-runtime/Dockerfile in the repository, shipped
# in the package as this link's content (MANIFEST.in), so an installed aigc builds too.
DOCKERFILE = Path(__file__).with_name("agent-runtime.Dockerfile")

Progress = Callable[[str], None]


class ImageError(RuntimeError):
    """The runtime image could not be built; the message says what to install or fix."""


def requirements() -> list[str]:
    """Pin the runtime's packages to the versions installed here (torch: RUNTIME_TORCH when
    it is not installed)."""
    pins = []
    for name in RUNTIME_PACKAGES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            if name == "torch":
                pins.append(f"torch=={RUNTIME_TORCH}")
                continue
            raise ImageError(
                f"{name} is not installed here: install it (`bash scripts/setup.sh` installs "
                "every one) so the image can carry the same version"
            ) from None
        pins.append(f"{name}=={version.split('+')[0]}")
    return pins


def dockerfile() -> str:
    """Return the agent-runtime image's Dockerfile."""
    try:
        return DOCKERFILE.read_text()
    except OSError as exc:
        raise ImageError(
            f"the agent-runtime Dockerfile is missing at {DOCKERFILE} ({exc.strerror}): "
            "reinstall aigc from its repository"
        ) from None


def _source_root() -> Path:
    return Path(aigc.__file__).resolve().parent


def content_hash(base: str) -> str:
    """Hash everything the image is made of: base, Dockerfile, user, pins and runtime sources."""
    digest = hashlib.sha256()
    for part in (base, dockerfile(), str(AGENT_UID), json.dumps(requirements())):
        digest.update(part.encode() + b"\0")
    for module in RUNTIME_MODULES:
        digest.update(module.encode() + b"\0" + (_source_root() / module).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _debian_mirror() -> str | None:
    """Return the Debian mirror this machine's apt uses, if it names one."""
    candidates = [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
    for path in candidates:
        try:
            text = path.read_text()
        except OSError:
            continue
        for match in re.finditer(
            r"(?:URIs:\s*|^deb\s+(?:\[[^\]]*\]\s+)?)(\S+/debian)/?\s", text, re.M
        ):
            return match.group(1)
    return None


def _debian_base_tag() -> str:
    recipe = f"debootstrap {DEBIAN_SUITE} minbase {' '.join(DEBIAN_PACKAGES)}"
    return f"{BASE_REPOSITORY}:{hashlib.sha256(recipe.encode()).hexdigest()[:16]}"


def _has_image(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def _debian_base(client: docker.DockerClient, progress: Progress) -> str:
    tag = _debian_base_tag()
    if shutil.which("debootstrap") is None:
        raise ImageError(
            f"no registry answered for {SLIM_BASE} and debootstrap is missing: "
            "install it (apt-get install debootstrap) and build again as root"
        )
    with tempfile.TemporaryDirectory(prefix="aigc-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        command = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(DEBIAN_PACKAGES)}",
            DEBIAN_SUITE,
            str(root),
        ]
        mirror = _debian_mirror()
        if mirror:
            command.append(mirror)
        progress(f"bootstrapping a Debian {DEBIAN_SUITE} root with python3 (about a minute)")
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ImageError(f"debootstrap failed ({last[0]}): run it as root with network access")
        for junk in ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"):
            shutil.rmtree(root / junk, ignore_errors=True)
        progress(f"importing the root filesystem as {tag}")
        archive = Path(tmp) / "rootfs.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(root, arcname=".")
        repository, version = tag.split(":")
        client.api.import_image_from_file(str(archive), repository=repository, tag=version)
    return tag


def base_image(client: docker.DockerClient, progress: Progress = print) -> str:
    """Return a base image with Python 3.11: one already here, the slim image, or Debian's."""
    for tag in (SLIM_BASE, _debian_base_tag()):
        if _has_image(client, tag):
            return tag
    try:
        progress(f"pulling {SLIM_BASE}")
        client.images.pull(SLIM_BASE)
        return SLIM_BASE
    except docker.errors.APIError:
        progress(f"{SLIM_BASE} cannot be pulled here; building the base from Debian's packages")
    return _debian_base(client, progress)


def _fill_wheelhouse(folder: Path, pins: list[str], progress: Progress) -> None:
    progress(f"downloading wheels for {', '.join(pins)}")
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:"]
    done = subprocess.run([*command, "--dest", str(folder), *pins], capture_output=True, text=True)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise ImageError(f"pip download failed ({last[0]}): check that pip can reach its index")
    (folder / "requirements.txt").write_text("\n".join(pins) + "\n")


def build(
    client: docker.DockerClient,
    context: Path,
    tag: str,
    buildargs: dict[str, str],
    progress: Progress,
    network_mode: str | None = None,
) -> None:
    """Build the image of a filled build context, showing its steps; ImageError if it fails.

    ``network_mode="none"`` gives the build's steps no network at all.
    """
    progress(f"building {tag}")
    last = ""  # the build's last line of output, which says why a step failed
    try:
        for chunk in client.api.build(
            path=str(context),
            tag=tag,
            buildargs=buildargs,
            rm=True,
            decode=True,
            network_mode=network_mode,
        ):
            if "error" in chunk:
                said = f" after: {last}" if last else ""
                raise ImageError(f"building {tag} failed: {chunk['error'].strip()}{said}")
            line = chunk.get("stream", "").strip()
            if line.startswith("Step "):
                progress(line)
            elif line:
                last = line.splitlines()[-1][:300]
    except docker.errors.APIError as exc:
        raise ImageError(f"building {tag} failed: {exc.explanation}") from None


def runtime_image(client: docker.DockerClient | None = None, progress: Progress = print) -> str:
    """Return the tag of the agent-runtime image, building it first if it is missing."""
    client = client or docker.from_env()
    base = base_image(client, progress)
    tag = f"{REPOSITORY}:{content_hash(base)}"
    if _has_image(client, tag):
        return tag
    with tempfile.TemporaryDirectory(prefix="aigc-image-") as tmp:
        context = Path(tmp)
        _fill_wheelhouse(context / "wheelhouse", requirements(), progress)
        for module in RUNTIME_MODULES:
            target = context / "aigc" / module
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(_source_root() / module, target)
        (context / "Dockerfile").write_text(dockerfile())
        build(client, context, tag, {"BASE": base, "AGENT_UID": str(AGENT_UID)}, progress)
    return tag
