"""What killed evaluators leave in the temp folder is removed; a living evaluator's is kept."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from pathlib import Path

import pytest

from aigc.submissions.owners import FOLDER_KINDS, make_temp_folder, reap_stale_folders
from aigc.submissions.sandbox import LocalSandbox
from tests.waiting import wait_for

from .conftest import agent

MAKE_AND_WAIT = textwrap.dedent(
    """
    import sys, time
    from aigc.submissions.owners import FOLDER_KINDS, make_temp_folder
    for kind in FOLDER_KINDS:
        folder = make_temp_folder(kind)
        (folder / "weights.npy").write_bytes(b"a participant's code and weights")
        print(folder, flush=True)
    time.sleep(3600)
    """
)


@pytest.fixture
def temp_folder(tmp_path_factory, monkeypatch) -> Path:
    """A temp folder of this test's own, for this process and the processes it starts.

    A short path: a socket's path inside it must stay within 108 bytes.
    """
    folder = tmp_path_factory.mktemp("tmp")
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder


def killed_owners_folders() -> list[Path]:
    """Start a process that makes one folder of each kind, kill it; return its folders."""
    child = subprocess.Popen(
        [sys.executable, "-c", MAKE_AND_WAIT], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    folders = [Path(child.stdout.readline().strip()) for _ in FOLDER_KINDS]
    child.send_signal(signal.SIGKILL)
    child.wait()
    return folders


def aigc_folders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith("aigc-"))


def test_folders_of_a_killed_owner_are_removed_and_a_living_owners_kept(temp_folder):
    dead = killed_owners_folders()
    assert all(folder.is_dir() and folder.parent == temp_folder for folder in dead)
    mine = [make_temp_folder(kind) for kind in FOLDER_KINDS]  # this process lives
    # Like the killed owner's, but made on another host (a temp folder shared by hosts).
    pid_and_start = dead[0].name.split("-")[2].split(".")[:2]
    other_host = hashlib.sha256(b"another-host").hexdigest()[:6]
    elsewhere = temp_folder / f"aigc-eval-{'.'.join(pid_and_start)}.{other_host}.abc123"
    elsewhere.mkdir()
    unnamed = temp_folder / "aigc-eval-madebyanolderversion"
    unnamed.mkdir()
    # A link named like a dead owner's folder: neither it nor what it points to goes.
    target = temp_folder / "someone-elses"
    target.mkdir()
    (target / "keep").write_text("kept")
    link = temp_folder / (dead[0].name.rpartition(".")[0] + ".link")
    link.symlink_to(target)

    removed = reap_stale_folders()

    assert sorted(removed) == sorted(dead)
    assert not any(os.path.lexists(folder) for folder in dead)
    assert all(folder.is_dir() for folder in [*mine, elsewhere, unnamed])
    assert link.is_symlink() and (target / "keep").read_text() == "kept"


def test_a_folder_left_read_only_is_removed_too(temp_folder):
    [*_, home] = killed_owners_folders()  # the agent's home, last of the kinds
    stuck = home / "cache" / "deep"
    stuck.mkdir(parents=True)
    (stuck / "file").write_text("x")
    os.chmod(stuck, 0o500)
    os.chmod(home / "cache", 0o500)
    assert home in reap_stale_folders()
    assert not home.exists()


EVALUATE_FOREVER = textwrap.dedent(
    """
    import sys
    from aigc.submissions.evaluator import evaluate
    from aigc.submissions.package import open_package
    from aigc.submissions.sandbox import LocalSandbox
    from tests.submissions.conftest import make_challenge
    with open_package(sys.argv[1]) as folder:
        evaluate(folder, make_challenge(step_timeout="1h"), sandbox=LocalSandbox())
    """
)


def zip_agent(name: str, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(agent(name).iterdir()):
            if path.is_file():
                zf.write(path, path.name)
    return archive


def processes_mentioning(text: str) -> list[int]:
    """PIDs of the processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_killed_evaluator_leaves_nothing_once_a_sandbox_starts(temp_folder, tmp_path_factory):
    archive = zip_agent("hang", tmp_path_factory.mktemp("upload") / "agent.zip")
    evaluator = subprocess.Popen(
        [sys.executable, "-c", EVALUATE_FOREVER, str(archive)], cwd=Path(__file__).parents[2]
    )
    try:
        # The agent hangs in act: its socket folder, package and home are all in use.
        wait_for(lambda: len(aigc_folders(temp_folder)) >= 3, 60, "its three folders", 0.1)
        kinds = sorted(name.split("-")[1] for name in aigc_folders(temp_folder))
        assert kinds == ["agent", "eval", "package"], aigc_folders(temp_folder)
    finally:
        evaluator.send_signal(signal.SIGKILL)
        evaluator.wait()
    # The local sandbox's agent runs on without its evaluator: end it too.
    for pid in processes_mentioning(str(temp_folder)):
        os.kill(pid, signal.SIGKILL)
    assert len(aigc_folders(temp_folder)) == 3  # nothing removed them
    LocalSandbox()  # a sandbox that starts removes what dead evaluators left
    assert aigc_folders(temp_folder) == []
