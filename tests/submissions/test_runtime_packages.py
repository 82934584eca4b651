"""The wheelhouse of a challenge's runtime packages, and the line of pip's that refuses them."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from aigc.submissions.images import ImageError
from aigc.submissions.runtime_packages import _pip_error, pack_wheelhouse, unpack_wheelhouse


def test_a_wheelhouse_packs_the_same_bytes_every_time_and_unpacks_to_its_pins(
    tmp_path: Path,
) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "demo-1.0-py3-none-any.whl").write_bytes(b"wheel bytes")
    (wheels / "notes.txt").write_text("left out")
    first = pack_wheelhouse(wheels, ["demo==1.0"])
    assert first == pack_wheelhouse(wheels, ["demo==1.0"])
    assert zipfile.ZipFile(io.BytesIO(first)).namelist() == [
        "requirements.txt",
        "demo-1.0-py3-none-any.whl",
    ]
    assert unpack_wheelhouse(first, tmp_path / "out") == ["demo==1.0"]
    assert (tmp_path / "out" / "demo-1.0-py3-none-any.whl").read_bytes() == b"wheel bytes"


@pytest.mark.parametrize("name", ["../escape.whl", "sub/dir.whl", "setup.py", "/abs.whl"])
def test_a_wheelhouse_holding_anything_but_wheels_is_refused(tmp_path: Path, name: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("requirements.txt", "")
        zf.writestr(name, b"x")
    with pytest.raises(ImageError, match="which is no wheel"):
        unpack_wheelhouse(buffer.getvalue(), tmp_path / "out")
    assert not (tmp_path / "escape.whl").exists()


def test_pip_s_clearest_error_line_is_kept() -> None:
    conflict = (
        "INFO: pip is looking at multiple versions\n"
        "ERROR: Cannot install numpy==1.26.4 because these package versions have conflicting "
        "dependencies.\n\nThe conflict is caused by:\n    ...\n"
        "ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/\n"
    )
    assert _pip_error(conflict).startswith("Cannot install numpy==1.26.4 because")
    missing = (
        "ERROR: Could not find a version that satisfies the requirement nope (from versions: "
        "none)\nERROR: No matching distribution found for nope\n"
    )
    assert _pip_error(missing).startswith("Could not find a version that satisfies")
    assert _pip_error("Traceback\nOSError: disk full\n") == "OSError: disk full"
