"""The agent-runtime image's recipe: docker/agent-runtime/Dockerfile, hashed into its tag and
shipped inside the package, so that an installed aigc builds the same image."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from aigc.submissions import images

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "docker" / "agent-runtime" / "Dockerfile"


def test_the_package_reads_the_dockerfile_of_docker_folder() -> None:
    assert images.DOCKERFILE.resolve() == RECIPE
    assert images.dockerfile() == RECIPE.read_text()
    assert "agent_runtime" in images.dockerfile()


def test_the_dockerfile_is_hashed_into_the_tag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = images.content_hash("base")
    changed = tmp_path / "agent-runtime.Dockerfile"
    changed.write_text(RECIPE.read_text() + "LABEL changed=1\n")
    monkeypatch.setattr(images, "DOCKERFILE", changed)
    assert images.content_hash("base") != before


def test_a_missing_dockerfile_is_named_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(images, "DOCKERFILE", tmp_path / "gone.Dockerfile")
    with pytest.raises(images.ImageError, match=r"missing at .*gone\.Dockerfile.*reinstall aigc"):
        images.content_hash("base")


@pytest.mark.slow
def test_the_wheel_carries_the_dockerfile(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(ROOT / "aigc", source / "aigc", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "MANIFEST.in", "README.md"):
        shutil.copyfile(ROOT / name, source / name)
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
    built = subprocess.run(
        [*command, "--no-build-isolation", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("aigc-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("aigc/submissions/agent-runtime.Dockerfile").decode()
    assert shipped == RECIPE.read_text()
