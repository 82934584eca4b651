"""Agent packages: the ``aigc.toml`` manifest, opening folders and archives, a starter agent.

An agent package is a folder (or a .zip / .tar.gz of one) holding ``aigc.toml`` and the
agent's code and weights::

    name = "my-agent"                 # letters, digits, '.', '_' or '-'
    entry_point = "agent:Agent"       # module:Class, relative to the package folder
    description = "What it does."     # optional
    challenge = "cartpole"            # optional: the default challenge for check/evaluate
    framework = "numpy"               # optional: "python", "numpy" (default) or "torch"
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import os
import re
import stat
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from aigc.submissions.archive import (
    ArchiveLimits,
    folder_of,
)

if TYPE_CHECKING:  # the sandbox's image carries no more than the runtime needs to run
    from aigc.submissions.agent import AgentClass

MANIFEST = "aigc.toml"
# The Python packages of the agent-runtime image (beside Python's standard library).
RUNTIME_PACKAGES = ("numpy", "gymnasium", "msgpack", "torch")
# Set in the image of a challenge with runtime packages: their pins, separated by spaces.
CHALLENGE_PACKAGES_VARIABLE = "AIGC_CHALLENGE_PACKAGES"
# Files that install packages elsewhere; an evaluation installs nothing, so they do nothing.
INSTALL_FILES = ("requirements.txt", "pyproject.toml", "setup.py", "setup.cfg", "environment.yml")
FRAMEWORKS = ("python", "numpy", "torch")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_ENTRY_POINT = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*", re.ASCII)
_FIELDS = ("name", "entry_point", "description", "challenge", "framework")


class PackageError(ValueError):
    """An agent package that cannot be used; the message names the fix."""


@dataclass(frozen=True)
class Manifest:
    """The contents of ``aigc.toml``."""

    name: str
    entry_point: str
    description: str = ""
    challenge: str | None = None
    framework: str = "numpy"

    @property
    def module(self) -> str:
        return self.entry_point.partition(":")[0]

    @property
    def class_name(self) -> str:
        return self.entry_point.partition(":")[2]


def read_manifest(package_dir: Path) -> Manifest:
    """Read and check ``aigc.toml`` in ``package_dir``."""
    path = Path(package_dir) / MANIFEST
    if not path.is_file():
        raise PackageError(
            f"no {MANIFEST} in {package_dir}: create one with name and entry_point "
            "(`aigc init-agent DIR` writes a working example)"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PackageError(f"{MANIFEST} is not valid TOML ({exc}): fix the syntax") from None
    for key in data:
        if key not in _FIELDS:
            close = difflib.get_close_matches(key, _FIELDS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(_FIELDS)}"
            raise PackageError(f"{MANIFEST}: unknown key {key!r}; {hint}")
    for key in _FIELDS:
        if key in data and not isinstance(data[key], str):
            raise PackageError(f"{MANIFEST}: {key} must be a string in quotes")
    name, entry_point = data.get("name"), data.get("entry_point")
    if name is None:
        raise PackageError(f'{MANIFEST}: name is missing: add a line like name = "my-agent"')
    if not _NAME.fullmatch(name):
        raise PackageError(
            f"{MANIFEST}: name {name!r} is invalid: use up to 64 letters, digits, '.', '_' or '-', "
            'e.g. name = "my-agent"'
        )
    if entry_point is None:
        raise PackageError(
            f'{MANIFEST}: entry_point is missing: add a line like entry_point = "agent:Agent" '
            "for class Agent in agent.py"
        )
    if not _ENTRY_POINT.fullmatch(entry_point):
        raise PackageError(
            f"{MANIFEST}: entry_point {entry_point!r} is invalid: write module:Class, "
            'e.g. entry_point = "agent:Agent" for class Agent in agent.py'
        )
    framework = data.get("framework", "numpy")
    if framework not in FRAMEWORKS:
        raise PackageError(
            f"{MANIFEST}: framework {framework!r} is unknown: use one of {', '.join(FRAMEWORKS)}"
        )
    return Manifest(
        name=name,
        entry_point=entry_point,
        description=data.get("description", ""),
        challenge=data.get("challenge") or None,
        framework=framework,
    )


def entry_module_path(package_dir: Path, manifest: Manifest) -> Path | None:
    """Return the file that defines the entry point's module, or None if there is none."""
    base = Path(package_dir).joinpath(*manifest.module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def runtime_holds() -> str:
    """The runtime's packages with their versions where known, e.g. ``numpy 2.2.6, ...``."""
    import importlib.metadata

    held = []
    for name in RUNTIME_PACKAGES:
        try:
            held.append(f"{name} {importlib.metadata.version(name).split('+')[0]}")
        except importlib.metadata.PackageNotFoundError:
            held.append(name)
    text = ", ".join(held) + " and Python's standard library"
    # A challenge's own packages: the image derived for it names them (runtime_packages).
    added = os.environ.get(CHALLENGE_PACKAGES_VARIABLE, "").split()
    if added:
        text += f", plus the challenge's runtime packages {', '.join(added)}"
    return text


def install_files(package_dir: Path) -> list[str]:
    """The files at the package's top that would install packages elsewhere (ignored here)."""
    return [name for name in INSTALL_FILES if (Path(package_dir) / name).is_file()]


def load_agent_class(package_dir: Path, manifest: Manifest) -> AgentClass:
    """Import the entry point from ``package_dir`` (which goes first on ``sys.path``).

    A module of the same top-level name that an earlier package brought in is forgotten
    first, so the class always comes from ``package_dir``."""
    if entry_module_path(package_dir, manifest) is None:
        raise PackageError(
            f"entry point module {manifest.module!r} not found: {MANIFEST} says "
            f"entry_point = {manifest.entry_point!r} but the package has no "
            f"{manifest.module.replace('.', '/')}.py"
        )
    top = manifest.module.split(".")[0]
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()
    sys.path.insert(0, str(package_dir))
    module = importlib.import_module(manifest.module)
    agent_class = getattr(module, manifest.class_name, None)
    if not isinstance(agent_class, type):
        raise PackageError(
            f"{manifest.module}.py defines no class {manifest.class_name!r}: "
            f"define it or fix entry_point in {MANIFEST}"
        )
    if not (hasattr(agent_class, "act") or hasattr(agent_class, "act_batch")):
        raise PackageError(
            f"class {manifest.class_name} has no act(observation) method: add one that "
            "returns an action"
        )
    # A class with act or act_batch; its constructor's signature shows when the runtime calls it.
    return cast("AgentClass", agent_class)


def find_package_root(folder: Path) -> Path:
    """Return the folder holding ``aigc.toml``: ``folder`` or its only subfolder."""
    if (folder / MANIFEST).is_file():
        return folder
    children = [p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if len(children) == 1 and children[0].is_dir() and (children[0] / MANIFEST).is_file():
        return children[0]
    raise PackageError(
        f"no {MANIFEST} at the top of the package: put it next to the agent's code "
        "(`aigc init-agent DIR` writes a working example)"
    )


@contextmanager
def open_package(path: Path, limits: ArchiveLimits | None = None) -> Iterator[Path]:
    """Yield the package folder of a folder or archive; an archive is extracted (within
    ``limits``) to a fresh temporary folder that is removed afterwards."""
    missing = f"{path} does not exist: give an agent folder, .zip or .tar.gz"
    with folder_of(path, limits or ArchiveLimits(), PackageError, missing) as folder:
        yield find_package_root(folder)


COMPILE_SECONDS = 120.0
COMPILE_MEMORY = 2 * 2**30
# Python sources that together are smaller than this are left to the runtime: it compiles
# them in a few milliseconds, less than a child process takes to start (about 50 ms).
COMPILE_AHEAD_BYTES = 16 * 2**10
# The child's program: its memory bounded first, then compileall, which imports nothing.
_COMPILE = (
    "import compileall, resource, sys; "
    "resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]),) * 2); "
    "sys.exit(0 if compileall.compile_dir(sys.argv[1], quiet=1, workers=1) else 1)"
)


def compile_package(
    folder: Path, timeout: float = COMPILE_SECONDS, at_least: int = COMPILE_AHEAD_BYTES
) -> bool:
    """Byte-compile a freshly unpacked package's Python files, once, before it is mounted
    read-only (a read-only container cannot write its own bytecode, so it would compile
    every vendored module at every start). Return whether every file compiled.

    A package whose Python sources come to less than ``at_least`` bytes (a plain agent) is
    not compiled here: its runtime compiles it sooner than the child process would start.

    This runs on the trusted side: ``compileall`` in a child process (isolated mode,
    bounded time and memory) parses and compiles the files but imports none of them.
    The bytecode carries this interpreter's tag (``cpython-311``): a runtime of another
    Python version ignores it and compiles as before.
    """
    import subprocess

    if _python_bytes(folder, at_least) < at_least:
        return True
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _COMPILE, str(folder), str(COMPILE_MEMORY)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def _python_bytes(folder: Path, enough: int) -> int:
    """The size of the Python sources in ``folder``, counted until it reaches ``enough``."""
    total = 0
    for path in folder.rglob("*.py"):
        with contextlib.suppress(OSError):
            info = path.lstat()  # a link is not followed
            total += info.st_size if stat.S_ISREG(info.st_mode) else 0
        if total >= enough:
            break
    return total


STARTER_AGENT = '''"""A random agent for {challenge}: replace act() with your policy.

Observation space: {observation_space}
Action space: {action_space}
"""


class Agent:
    def __init__(self, observation_space, action_space):
        self.action_space = action_space

    def act(self, observation):
        # The runtime seeds action_space, numpy and random: evaluations repeat exactly.
        return self.action_space.sample()
'''

STARTER_MANIFEST = """name = "{name}"
entry_point = "agent:Agent"
description = "Random agent for {challenge}."
challenge = "{challenge}"
framework = "numpy"
"""


def write_starter_package(
    folder: Path, challenge_id: str, observation_space: str, action_space: str
) -> None:
    """Write a working random agent into ``folder`` (created; must be empty if it exists)."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise PackageError(f"{folder} is not empty: choose a new folder for the agent")
    folder.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9._-]", "-", folder.resolve().name).strip("-._") or "agent"
    (folder / MANIFEST).write_text(
        STARTER_MANIFEST.format(name=name[:64], challenge=challenge_id), encoding="utf-8"
    )
    (folder / "agent.py").write_text(
        STARTER_AGENT.format(
            challenge=challenge_id, observation_space=observation_space, action_space=action_space
        ),
        encoding="utf-8",
    )
