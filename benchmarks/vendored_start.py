"""Start-up of an agent that vendors a pure-Python library, with and without the bytecode
compiled when its package is unpacked.

The package vendors ``rich`` and ``pygments`` (about 400 pure-Python modules, copied from
this interpreter's site-packages) and imports a good share of them when it loads. Each
round unpacks the package's archive afresh, compiles it (one side) or not (the other), and
evaluates one episode of CartPole-v1 in the Docker sandbox; the figure is the evaluation's
agent start-up time (container start, imports, building the agent). The sides take turns
after one warm-up each; medians and their ratio are written to
``benchmarks/results/vendored_start.json``.

    python benchmarks/vendored_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from provenance import write_results

from aigc.submissions.challenge import get_challenge
from aigc.submissions.docker_sandbox import DockerSandbox, docker_client
from aigc.submissions.evaluator import evaluate
from aigc.submissions.package import compile_package, open_package

RESULTS = Path(__file__).parent / "results" / "vendored_start.json"
LIBRARIES = ("rich", "pygments")
AGENT = """import random

import pygments.lexers.python
import rich.console
import rich.progress
import rich.syntax
import rich.table
import rich.traceback


class Agent:
    def __init__(self, observation_space, action_space):
        self.console = rich.console.Console(file=open("/dev/null", "w"))

    def act(self, observation):
        return random.randrange(2)
"""


def package(folder: Path) -> Path:
    """Write the vendoring package and return its archive."""
    source = folder / "pkg"
    source.mkdir()
    (source / "aigc.toml").write_text('name = "vendored-rich"\nentry_point = "agent:Agent"\n')
    (source / "agent.py").write_text(AGENT)
    for name in LIBRARIES:
        module = __import__(name)
        shutil.copytree(
            Path(module.__file__).parent,
            source / name,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    archive = folder / "pkg.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(source).as_posix())
    return archive


def start_once(archive: Path, compiled: bool, sandbox: DockerSandbox) -> tuple[float, float]:
    """One evaluation's agent start-up, and the time compiling took (0 when not)."""
    spec = get_challenge("cartpole")
    with open_package(archive) as folder:
        began = time.perf_counter()
        if compiled:
            compile_package(folder)
        compile_time = time.perf_counter() - began if compiled else 0.0
        result = evaluate(folder, spec, "dev", sandbox=sandbox, seeds=[0])
    if result.failure is not None or result.startup_time is None:
        raise SystemExit(f"the agent failed: {result.failure}")
    return result.startup_time, compile_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    client = docker_client()
    if client is None:
        raise SystemExit("no Docker engine answers: start Docker")
    sandbox = DockerSandbox(client=client)
    with tempfile.TemporaryDirectory(prefix="aigc-vendored-") as tmp:
        archive = package(Path(tmp))
        modules = sum(1 for n in zipfile.ZipFile(archive).namelist() if n.endswith(".py"))
        for compiled in (False, True):  # warm-up: image, page cache
            start_once(archive, compiled, sandbox)
        starts: dict[bool, list[float]] = {False: [], True: []}
        compiles: list[float] = []
        for _ in range(args.runs):
            for compiled in (False, True):
                start, compile_time = start_once(archive, compiled, sandbox)
                starts[compiled].append(start)
                if compiled:
                    compiles.append(compile_time)
    without, with_ = statistics.median(starts[False]), statistics.median(starts[True])
    figures = {
        "library": "+".join(LIBRARIES),
        "python_modules": modules,
        "runs": args.runs,
        "startup_without_bytecode_s": round(without, 3),
        "startup_with_bytecode_s": round(with_, 3),
        "compile_once_s": round(statistics.median(compiles), 3),
        "ratio_with_to_without": round(with_ / without, 3),
        "all_starts_s": {"without": starts[False], "with": starts[True]},
        "python": sys.version.split()[0],
    }
    print(
        f"{modules} vendored modules: agent start-up {without:.2f} s without bytecode, "
        f"{with_:.2f} s with it (ratio {with_ / without:.2f}); compiling once took "
        f"{statistics.median(compiles):.2f} s"
    )
    write_results(RESULTS, figures)


if __name__ == "__main__":
    main()
