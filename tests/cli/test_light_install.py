"""The participant's install: plain ``pip install .`` into a fresh virtual environment.

It must give the agents' commands (init-agent, check, evaluate in the local and the Docker
sandbox) without the platform's libraries and without torch, and every command that needs
an extra must name it in one line. The environment is made once per test session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aigc.submissions.docker_sandbox import DockerSandbox

pytestmark = pytest.mark.slow

REPO = Path(__file__).parents[2]
# What a participant's install leaves out: the platform's libraries and the text models'.
# (markdown-it-py, which the platform renders descriptions with, comes with rich.)
NOT_INSTALLED = (
    "flask",
    "sqlalchemy",
    "alembic",
    "celery",
    "psycopg",
    "waitress",
    "gunicorn",
    "torch",
    "tokenizers",
    "vaderSentiment",
    "matplotlib",
)


@dataclass(frozen=True)
class Install:
    """A virtual environment with aigc installed from a copy of this source tree."""

    root: Path
    home: Path

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        bin_dir = self.root / "bin"
        environment = {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
        }
        command = [str(bin_dir / args[0]), *args[1:]]
        return subprocess.run(
            command, capture_output=True, text=True, timeout=900, cwd=cwd, env=environment
        )

    def aigc(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return self.run("aigc", *args, cwd=cwd)


def _copy_source(target: Path) -> Path:
    """Copy what the package is built from, so that building leaves nothing in this tree."""
    shutil.copy(REPO / "pyproject.toml", target / "pyproject.toml")
    shutil.copy(REPO / "README.md", target / "README.md")
    shutil.copy(REPO / "MANIFEST.in", target / "MANIFEST.in")
    # The package's links (the agent-runtime Dockerfile) point into docker/, as in the repo.
    shutil.copytree(REPO / "docker" / "agent-runtime", target / "docker" / "agent-runtime")
    shutil.copytree(
        REPO / "aigc",
        target / "aigc",
        symlinks=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    return target


@pytest.fixture(scope="session")
def install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    base = tmp_path_factory.mktemp("light-install")
    (base / "source").mkdir()
    source = _copy_source(base / "source")
    root = base / "venv"
    venv.create(root, with_pip=True)
    # pip resolves as this machine's configuration says (index, wheel folders, constraints).
    done = subprocess.run(
        [str(root / "bin" / "python"), "-m", "pip", "install", "--quiet", str(source)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    home = base / "home"
    home.mkdir()
    yield Install(root, home)


def test_the_install_leaves_out_the_platform_and_torch(install: Install) -> None:
    for module in NOT_INSTALLED:
        done = install.run("python", "-c", f"import {module}")
        assert done.returncode != 0, f"{module} is installed"
        assert f"No module named '{module}'" in done.stderr


def test_a_participant_writes_checks_and_evaluates_an_agent(install: Install) -> None:
    work = install.home / "local"
    work.mkdir()
    done = install.aigc("init-agent", "my-agent", "--challenge", "cartpole", cwd=work)
    assert done.returncode == 0, done.stderr
    done = install.aigc("check", "my-agent", "--sandbox", "local", cwd=work)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The package is ready to submit." in done.stdout
    done = install.aigc(
        "evaluate", "my-agent", "--sandbox", "local", "--json", "result.json", cwd=work
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"episodes_requested": 100' in (work / "result.json").read_text()
    imported = install.run(
        "python",
        "-c",
        "import sys\n"
        "from aigc.submissions.challenge import builtin_challenge_ids, get_challenge\n"
        "for name in builtin_challenge_ids():\n"
        "    if name != 'textgen': get_challenge(name)\n"
        "print(sorted({'torch', 'tokenizers', 'flask', 'sqlalchemy'} & set(sys.modules)))",
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "[]"


def test_the_docker_sandbox_runs_the_same_image(
    install: Install, docker_sandbox: DockerSandbox
) -> None:
    """Without torch here the image still carries the torch the extras pin: the same tag."""
    work = install.home / "docker"
    work.mkdir()
    assert install.aigc("init-agent", "my-agent", "-c", "cartpole", cwd=work).returncode == 0
    done = install.aigc("evaluate", "my-agent", "--sandbox", "docker", "-n", "20", cwd=work)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "episodes" in done.stdout and "20 of 20" in done.stdout
    pins = "from aigc.submissions.images import requirements; print(requirements())"
    here = subprocess.run([sys.executable, "-c", pins], capture_output=True, text=True)
    there = install.run("python", "-c", pins)
    assert there.returncode == 0, there.stderr
    assert there.stdout == here.stdout


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("serve",), "aigc serve: needs the platform extra: pip install 'aigc[platform]'"),
        (("worker",), "aigc worker: needs the platform extra: pip install 'aigc[platform]'"),
        (
            ("admin", "migrate"),
            "aigc admin migrate: needs the platform extra: pip install 'aigc[platform]'",
        ),
        (
            ("train", "qlearning", "-c", "taxi", "-o", "out"),
            "aigc train: needs the training extra: pip install 'aigc[train]'",
        ),
        (
            ("baselines", "build"),
            "aigc baselines build: needs the training extra: pip install 'aigc[train]'",
        ),
        (
            ("init-agent", "text-agent", "-c", "textgen"),
            "aigc/TextGen-v0, the text challenge's environment: needs the text extra: "
            "pip install 'aigc[text]'",
        ),
    ],
)
def test_a_command_that_needs_an_extra_names_it(
    install: Install, args: tuple[str, ...], line: str
) -> None:
    done = install.aigc(*args, cwd=install.home)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr == f"Error: {line}\n"


def test_check_and_evaluate_on_the_text_challenge_name_the_text_extra(install: Install) -> None:
    agent = REPO / "aigc" / "baselines" / "trained" / "textgen" / "reference"
    line = "Error: aigc/TextGen-v0, the text challenge's environment: needs the text extra: "
    for command in ("check", "evaluate"):
        done = install.aigc(command, str(agent), "--sandbox", "local", cwd=install.home)
        assert done.returncode == 1, done.stdout + done.stderr
        # check warns first that --sandbox local runs the agent unsandboxed
        assert done.stderr.splitlines()[-1].startswith(line), done.stderr
