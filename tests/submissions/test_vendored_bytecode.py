"""Vendored code is byte-compiled once when a package is unpacked for an evaluation, on the
trusted side without importing it, and the read-only container uses that bytecode."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from aigc.submissions.evaluator import evaluate
from aigc.submissions.package import COMPILE_AHEAD_BYTES, compile_package, open_package

from .conftest import agent, make_challenge


def zipped(folder: Path, path: Path) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for file in sorted(folder.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                zf.write(file, file.relative_to(folder).as_posix())
    path.write_bytes(buffer.getvalue())
    return path


def test_compiling_imports_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "agent.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (folder / "broken.py").write_text("def (:\n")
    # at_least=0: compiled however small the sources are
    assert compile_package(folder, at_least=0) is False  # broken.py does not compile
    assert not marker.exists()
    assert list((folder / "__pycache__").glob("agent.cpython-*.pyc"))


def test_small_sources_are_left_to_the_runtime_and_large_ones_compiled(tmp_path: Path) -> None:
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "agent.py").write_text("class Agent:\n    pass\n")
    assert compile_package(folder)  # nothing to do: the runtime compiles it as fast
    assert not (folder / "__pycache__").exists()
    library = folder / "lib"
    library.mkdir()
    line = "VALUE = 1  # vendored code\n"
    (library / "big.py").write_text(line * (COMPILE_AHEAD_BYTES // len(line) + 1))
    assert compile_package(folder)
    assert list((folder / "__pycache__").glob("agent.cpython-*.pyc"))
    assert list((library / "__pycache__").glob("big.cpython-*.pyc"))


@pytest.mark.slow
def test_the_sandbox_uses_the_bytecode_compiled_beside_the_package(
    tmp_path: Path, docker_sandbox
) -> None:
    archive = zipped(agent("vendored"), tmp_path / "vendored.zip")
    counts = {}
    for compiled in (False, True):
        with open_package(archive) as folder:
            if compiled:
                assert compile_package(folder, at_least=0)
            result = evaluate(folder, make_challenge(episodes=1), sandbox=docker_sandbox)
        assert result.failure is not None
        counts[compiled] = result.failure.message.partition("compiled at start: ")[2]
    assert counts[False].startswith("3 ") and "first.py" in counts[False]
    assert counts[True] == "0 []"
