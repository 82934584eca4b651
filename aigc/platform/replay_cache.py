"""Replays for the pages: rendered by a worker on first view, then kept in storage.

A submission page asks for the replays of a few episodes. The first view finds none,
marks each as being rendered (a marker file, so that views in the meantime do not queue
it again) and sends it to the queue; a worker re-runs the episode on the trusted side
(:mod:`aigc.submissions.replay`), within :data:`WEB_LIMITS`, and writes a GIF (the text
of a text environment) next to the packages. A replay that cannot be made keeps its
reason instead, and the page shows it. A challenge bundle's environment is re-run from the
stored bundle in its own sandbox, as in evaluation: the organizer's code never runs in the
worker's process.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Literal

from aigc.platform import challenges
from aigc.platform.db import Database
from aigc.platform.episode_lists import as_result, recorded
from aigc.platform.models import Submission
from aigc.platform.storage import PackageStore
from aigc.submissions.replay import RenderLimits, ReplayError, render_env, replay_episode
from aigc.submissions.sandbox import Sandbox

log = logging.getLogger("aigc.replays")
WEB_LIMITS = RenderLimits(max_frames=300, max_width=320)
PENDING_SECONDS = 600.0  # a marker older than this belongs to a render that was lost
State = Literal["ready", "rendering", "failed", "missing"]
KINDS = {".gif": "image/gif", ".txt": "text/plain; charset=utf-8"}
# pygame, which draws most environments, is not safe to use from two threads at once: the
# in-process pool renders one replay at a time.
_RENDERING = threading.Lock()


class ReplayCache:
    """Rendered replays in ``root``, one folder per submission."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _base(self, submission_id: int, index: int) -> Path:
        return self.root / str(int(submission_id)) / str(int(index))

    def file(self, submission_id: int, index: int) -> Path | None:
        """The rendered replay, if there is one."""
        base = self._base(submission_id, index)
        for suffix in KINDS:
            path = base.with_suffix(suffix)
            if path.is_file():
                return path
        return None

    def error(self, submission_id: int, index: int) -> str | None:
        """Why the replay could not be made, if it could not."""
        path = self._base(submission_id, index).with_suffix(".error")
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def state(self, submission_id: int, index: int) -> State:
        if self.file(submission_id, index) is not None:
            return "ready"
        if self.error(submission_id, index) is not None:
            return "failed"
        marker = self._base(submission_id, index).with_suffix(".pending")
        try:
            age = time.time() - marker.stat().st_mtime
        except FileNotFoundError:
            return "missing"
        return "rendering" if age < PENDING_SECONDS else "missing"

    def mark_pending(self, submission_id: int, index: int) -> bool:
        """Mark the replay as being rendered; False if another view did so already."""
        marker = self._base(submission_id, index).with_suffix(".pending")
        marker.parent.mkdir(parents=True, exist_ok=True)
        if self.state(submission_id, index) == "missing":
            marker.unlink(missing_ok=True)  # a lost render's marker
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640))
        except FileExistsError:
            return False
        return True

    def _write(self, path: Path, data: bytes) -> None:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".render-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def keep(self, submission_id: int, index: int, suffix: str, data: bytes) -> Path:
        base = self._base(submission_id, index)
        base.parent.mkdir(parents=True, exist_ok=True)
        path = base.with_suffix(suffix)
        self._write(path, data)
        base.with_suffix(".pending").unlink(missing_ok=True)
        return path

    def fail(self, submission_id: int, index: int, reason: str) -> None:
        self.keep(submission_id, index, ".error", reason.encode("utf-8"))


def cache_for(storage_dir: Path) -> ReplayCache:
    return ReplayCache(Path(storage_dir) / "replays")


def render_replay(
    db: Database,
    cache: ReplayCache,
    submission_id: int,
    index: int,
    store: PackageStore | None = None,
    make_sandbox: Callable[[], Sandbox] | None = None,
) -> State:
    """Re-run one stored episode and keep its rendering (or why it failed) in the cache.

    A bundle's environment needs ``store`` (which keeps the bundle) and ``make_sandbox``.
    """
    from aigc.submissions.replay_files import write_replay  # imageio, in the worker only

    with db.session() as session:
        submission = session.get(Submission, submission_id)
        row = recorded(session, submission, index) if submission is not None else None
        if submission is None or row is None:
            cache.fail(submission_id, index, f"there is no episode {index} to replay")
            return "failed"
        spec = challenges.spec_of(submission.challenge, submission.challenge_version)
        version = challenges.version_of(submission.challenge, submission.challenge_version)
        bundle, episode = version.bundle_sha256, as_result(row)
        wheelhouse = version.runtime_sha256
    if spec.environment.in_bundle and (bundle is None or store is None or make_sandbox is None):
        cache.fail(submission_id, index, "this challenge's bundle is not at hand to replay it")
        return "failed"
    try:
        with (
            _RENDERING,
            tempfile.TemporaryDirectory(prefix="aigc-replay-") as folder,
            ExitStack() as stack,
        ):
            unpacked, sandbox = None, None
            if spec.environment.in_bundle:
                assert bundle is not None and store is not None and make_sandbox is not None
                unpacked = stack.enter_context(store.unpacked_bundle(bundle))
                sandbox = make_sandbox()
                if wheelhouse is not None:  # the image the evaluation ran the environment in
                    sandbox = sandbox.for_runtime(
                        wheelhouse, lambda: store.unpacked_wheelhouse(wheelhouse)
                    )
            env = stack.enter_context(render_env(spec.environment, unpacked, sandbox, spec.limits))
            replay = replay_episode(spec.environment, episode, WEB_LIMITS, env)
            suffix = ".txt" if replay.kind == "text" else ".gif"
            path = write_replay(replay, Path(folder) / f"replay{suffix}")
            cache.keep(submission_id, index, suffix, path.read_bytes())
    except ReplayError as exc:
        cache.fail(submission_id, index, str(exc))
        return "failed"
    except Exception as exc:  # the environment itself broke: say so rather than spin
        log.exception("rendering episode %s of submission %s failed", index, submission_id)
        cache.fail(submission_id, index, f"the replay could not be rendered ({type(exc).__name__})")
        return "failed"
    return "ready"
