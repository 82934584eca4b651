"""Build the images of a self-hosted platform: the agent runtime and the platform.

    .venv/bin/python docker/build.py        # both; each only when its contents changed

No registry is needed: the base is the agent runtime's (``python:3.11-slim`` where a
registry answers, else bootstrapped from Debian's packages, which needs root and
``debootstrap``), and Python packages come from a wheelhouse that ``pip download`` fills
on this machine, at the versions installed here. The platform image is tagged
``aigc-platform:<hash of everything in it>`` and ``aigc-platform:latest`` (the tag
docker/compose.yaml runs). The last two lines printed are the two images' tags.
"""

from __future__ import annotations

import email.parser
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's aigc goes into the images, whatever is installed

import docker  # noqa: E402
import docker.errors  # noqa: E402
from packaging.markers import default_environment  # noqa: E402
from packaging.requirements import Requirement  # noqa: E402

from aigc.submissions.images import (  # noqa: E402
    ImageError,
    Progress,
    base_image,
    build,
    runtime_image,
)

REPOSITORY = "aigc-platform"
DOCKERFILE = ROOT / "docker" / "platform" / "Dockerfile"
# What setuptools needs to build the wheel of aigc, besides the package itself.
PROJECT_FILES = ("pyproject.toml", "MANIFEST.in", "README.md")
# The WSGI server, installed explicitly: the version installed here if there is one.
GUNICORN = "gunicorn==26.2.0"


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)


def _failed(what: str, done: subprocess.CompletedProcess[str], fix: str) -> ImageError:
    last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    return ImageError(f"{what} failed ({last[0]}): {fix}")


def constraints() -> list[str]:
    """Pin every package to the version installed here (aigc itself aside)."""
    done = _pip("freeze", "--exclude-editable")
    if done.returncode != 0:
        raise _failed("pip freeze", done, "run this with the Python that has aigc installed")
    pins = [
        line
        for line in done.stdout.splitlines()
        if "==" in line and not line.lower().startswith("aigc==")
    ]
    return sorted(pins, key=str.lower)


def gunicorn(pins: list[str]) -> str:
    """The gunicorn to install: the one installed here, else the default pin."""
    return next((pin for pin in pins if pin.lower().startswith("gunicorn==")), GUNICORN)


def _sources() -> Iterator[Path]:
    """The files the wheel of aigc is built from, relative to the checkout."""
    for name in PROJECT_FILES:
        yield Path(name)
    for path in sorted((ROOT / "aigc").rglob("*")):
        relative = path.relative_to(ROOT)
        if path.is_dir() or "__pycache__" in relative.parts or path.suffix == ".pyc":
            continue
        yield relative


def content_hash(base: str, pins: list[str]) -> str:
    """Hash everything the image is made of: base, Dockerfile, pins and aigc's sources."""
    digest = hashlib.sha256()
    for part in (base, DOCKERFILE.read_text(), "\n".join(pins), gunicorn(pins)):
        digest.update(part.encode() + b"\0")
    for relative in _sources():
        digest.update(str(relative).encode() + b"\0" + (ROOT / relative).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _normal(name: str) -> str:
    """A distribution's name as wheel files and requirements both reduce to."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _needed_only_there(folder: Path, python: str) -> list[str]:
    """Requirements of the wheels in ``folder`` that hold on Python ``python`` but not here."""
    here = {key: str(value) for key, value in default_environment().items()}
    there = {**here, "python_full_version": python, "python_version": python.rsplit(".", 1)[0]}
    have = {_normal(path.name.split("-")[0]) for path in folder.glob("*.whl")}
    missing: set[str] = set()
    for path in folder.glob("*.whl"):
        with zipfile.ZipFile(path) as wheel:
            (name,) = (
                n
                for n in wheel.namelist()
                if n.endswith(".dist-info/METADATA") and n.count("/") == 1
            )
            metadata = email.parser.Parser().parsestr(wheel.read(name).decode())
        extras = ["", *(metadata.get_all("Provides-Extra") or [])]
        for line in metadata.get_all("Requires-Dist") or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is None or _normal(requirement.name) in have:
                continue
            if any(
                marker.evaluate({**there, "extra": e}) and not marker.evaluate({**here, "extra": e})
                for e in extras
            ):
                missing.add(f"{requirement.name}{requirement.specifier}")
    return sorted(missing)


def _python_of(client: docker.DockerClient, base: str) -> str:
    """The version of the base image's Python, e.g. 3.11.2."""
    command = ["python3", "-c", "import platform; print(platform.python_version())"]
    output = client.containers.run(base, command, network_mode="none", remove=True)
    return output.decode().strip()


def _fill_wheelhouse(folder: Path, pins: list[str], python: str, progress: Progress) -> None:
    """Wheels of everything aigc's platform extra needs, at the versions installed here, in
    ``folder``, and of aigc itself beside it in ``aigc-wheel/``."""
    with tempfile.TemporaryDirectory(prefix="aigc-source-") as tmp:
        # A clean copy (links followed): no stale build/ folder ends up in the wheel.
        source = Path(tmp)
        for relative in _sources():
            (source / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / relative, source / relative)
        progress("building the wheel of aigc")
        done = _pip("wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(folder), tmp)
        if done.returncode != 0:
            raise _failed("building the wheel of aigc", done, "install setuptools and wheel")
    (wheel,) = folder.glob("aigc-*.whl")
    constraint_file = folder / "constraints.txt"
    constraint_file.write_text("\n".join(pins) + "\n")
    server = gunicorn(pins)
    progress(f"downloading wheels for aigc's dependencies and {server}")
    download = (
        "download",
        "--quiet",
        "--only-binary=:all:",
        "--dest",
        str(folder),
        "--constraint",
        str(constraint_file),
    )
    done = _pip(*download, f"{wheel}[platform]", server)
    if done.returncode != 0:
        raise _failed("pip download", done, "check that pip can reach its index")
    # pip chose for this machine's Python; the image's may be another patch release, for
    # which some packages need more (redis: async-timeout before 3.11.3).
    while missing := _needed_only_there(folder, python):
        progress(f"downloading wheels the image's Python {python} needs: {', '.join(missing)}")
        done = _pip(*download, *missing)
        if done.returncode != 0:
            raise _failed("pip download", done, "check that pip can reach its index")
    # The dependencies and aigc's own wheel go in apart: an image built again after a
    # change to aigc alone reuses the layer that installed the dependencies.
    own = folder.parent / "aigc-wheel"
    own.mkdir()
    wheel.rename(own / wheel.name)
    (own / "requirements.txt").write_text(f"aigc[platform] @ file:///aigc-wheel/{wheel.name}\n")


def platform_image(client: docker.DockerClient, progress: Progress = print) -> str:
    """Return the tag of the platform image, building it first if it is missing."""
    base = base_image(client, progress)
    pins = constraints()
    tag = f"{REPOSITORY}:{content_hash(base, pins)}"
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        _build(client, tag, base, pins, progress)
    client.images.get(tag).tag(REPOSITORY, "latest")
    return tag


def _build(
    client: docker.DockerClient, tag: str, base: str, pins: list[str], progress: Progress
) -> None:
    with tempfile.TemporaryDirectory(prefix="aigc-image-") as tmp:
        context = Path(tmp)
        _fill_wheelhouse(context / "wheelhouse", pins, _python_of(client, base), progress)
        shutil.copyfile(DOCKERFILE, context / "Dockerfile")
        build(client, context, tag, {"BASE": base}, progress)


def main() -> int:
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # no socket, no permission, engine down
        print(f"no Docker engine answers ({exc}): start one (scripts/docker-engine.sh)")
        return 1
    try:
        runtime = runtime_image(client)
        platform = platform_image(client)
    except ImageError as exc:
        print(exc)
        return 1
    print(f"agent runtime: {runtime}")
    print(f"platform: {platform} (also {REPOSITORY}:latest)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
