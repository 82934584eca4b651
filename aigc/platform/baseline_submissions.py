"""The platform's own baseline agents, evaluated like any submission and shown on every board.

Agent packages found in ``AIGC_BASELINES_DIR/<challenge id>/<name>/`` (written there by
``aigc baselines build``, or put there by an organizer) are submitted to every phase of
their challenge by the ``baselines`` account, which cannot sign in. They are zipped
reproducibly, so the same package is submitted once however often the platform starts.
"""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from aigc.platform import challenges
from aigc.platform.models import BASELINE_USER, PARTICIPANT, Submission, User
from aigc.platform.storage import PackageStore
from aigc.platform.submission_actions import Refused, check_archive, queue_submission

log = logging.getLogger(__name__)

# Every member gets this time, so the same files always zip to the same bytes.
ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def pack(folder: Path) -> bytes:
    """Zip a package folder reproducibly (sorted members, fixed times and modes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            relative = path.relative_to(folder)
            if "__pycache__" in relative.parts:
                continue
            info = zipfile.ZipInfo(relative.as_posix(), ZIP_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def baseline_user(session: Session) -> User:
    user = session.scalar(select(User).where(User.username == BASELINE_USER))
    if user is None:
        # "!" is no hash any password matches: the account can never sign in.
        user = User(username=BASELINE_USER, password_hash="!", role=PARTICIPANT)
        session.add(user)
        session.flush()
    return user


def seed_baselines(session: Session, store: PackageStore, folder: Path) -> list[int]:
    """Submit the baseline packages in ``folder`` that are not yet on their phases' boards.

    Return the new submissions' ids, for the queue (after the session commits).
    """
    if not folder.is_dir():
        return []
    created = []
    user = baseline_user(session)
    for challenge_folder in sorted(p for p in folder.iterdir() if p.is_dir()):
        challenge = challenges.find(session, challenge_folder.name)
        if challenge is None:
            log.warning("baselines: %s names no challenge: skipped", challenge_folder)
            continue
        spec = challenges.spec_of(challenge)
        for package in sorted(p for p in challenge_folder.iterdir() if p.is_dir()):
            data = pack(package)
            try:  # the same checks as an upload
                name = check_archive(data, f"{package.name}.zip", store.limits)
            except Refused as exc:
                log.warning("baselines: %s is skipped: %s", package, exc.message)
                continue
            sha256 = store.put(data)
            for phase in spec.phases:
                exists = session.scalar(
                    select(Submission.id).where(
                        Submission.challenge_id == challenge.id,
                        Submission.phase == phase.id,
                        Submission.package_sha256 == sha256,
                        Submission.baseline.is_(True),
                    )
                )
                if exists is None:
                    submission = queue_submission(
                        session, user, challenge, phase, sha256, name, f"{name}.zip", len(data),
                        baseline=True,
                    )  # fmt: skip
                    created.append(submission.id)
    return created
