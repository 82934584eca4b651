"""The platform's own baseline agents, evaluated like any submission and shown on every board.

Agent packages found in ``AIGC_BASELINES_DIR/<challenge id>/<name>/`` (written there by
``aigc baselines build``, or put there by an organizer) are submitted to every phase of
their challenge by the ``baselines`` account, which cannot sign in. They are zipped
reproducibly, so the same package is submitted once however often the platform starts.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from aigc.platform import challenges
from aigc.platform.models import BASELINE_USER, PARTICIPANT, QUEUED, Submission, User
from aigc.platform.storage import PackageStore
from aigc.submissions.package import PackageError, read_manifest

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
    for challenge_folder in sorted(p for p in folder.iterdir() if p.is_dir()):
        challenge = challenges.find(session, challenge_folder.name)
        if challenge is None:
            continue
        spec = challenges.spec_of(challenge)
        for package in sorted(p for p in challenge_folder.iterdir() if p.is_dir()):
            try:
                name = read_manifest(package).name
            except PackageError:
                continue
            data = pack(package)
            sha256 = store.put(data)
            user = baseline_user(session)
            for phase in spec.phases:
                exists = session.scalar(
                    select(Submission.id).where(
                        Submission.challenge_id == challenge.id,
                        Submission.phase == phase.id,
                        Submission.package_sha256 == sha256,
                        Submission.baseline.is_(True),
                    )
                )
                if exists is not None:
                    continue
                submission = Submission(
                    user_id=user.id,
                    challenge_id=challenge.id,
                    challenge_version=challenge.current_version,
                    phase=phase.id,
                    package_sha256=sha256,
                    package_name=name,
                    filename=f"{name}.zip",
                    size_bytes=len(data),
                    status=QUEUED,
                    episodes_total=phase.episodes,
                    baseline=True,
                )
                session.add(submission)
                session.flush()
                created.append(submission.id)
    return created
