"""Challenges on the platform: created and updated from YAML, every update a new version."""

from __future__ import annotations

from datetime import datetime
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from aigc.platform.lru import LRU
from aigc.platform.models import Challenge, ChallengeVersion, Submission, User, now
from aigc.submissions.challenge import (
    ChallengeSpec,
    Phase,
    builtin_challenge_ids,
    parse_challenge_yaml,
)


class ChallengeConflict(ValueError):
    """The challenge exists already, or the update names another challenge."""


_parsed: LRU[str, ChallengeSpec] = LRU(256)


def parse(spec_yaml: str) -> ChallengeSpec:
    """Parse a stored spec once (checking it builds the environment, which takes time)."""
    return _parsed.get(spec_yaml, lambda: parse_challenge_yaml(spec_yaml))


def spec_of(challenge: Challenge, version: int | None = None) -> ChallengeSpec:
    """Return the spec of a version (the current one by default)."""
    wanted = challenge.current_version if version is None else version
    for record in challenge.versions:
        if record.version == wanted:
            return parse(record.spec_yaml)
    raise LookupError(f"challenge {challenge.slug!r} has no version {wanted}")


def find(session: Session, slug: str) -> Challenge | None:
    return session.scalar(select(Challenge).where(Challenge.slug == slug))


def create(session: Session, spec_yaml: str, by: User | None, builtin: bool = False) -> Challenge:
    """Create a challenge from YAML; SpecError if the spec is invalid."""
    spec = parse(spec_yaml)
    if find(session, spec.id) is not None:
        raise ChallengeConflict(
            f"a challenge with id {spec.id!r} exists: update it instead (aigc challenge update)"
        )
    challenge = Challenge(slug=spec.id, title=spec.title, current_version=1, builtin=builtin)
    challenge.versions.append(
        ChallengeVersion(version=1, spec_yaml=spec_yaml, created_by_id=by.id if by else None)
    )
    session.add(challenge)
    session.flush()
    return challenge


def update(session: Session, challenge: Challenge, spec_yaml: str, by: User | None) -> bool:
    """Add a version with the new YAML; return False if nothing changed."""
    spec = parse(spec_yaml)
    if spec.id != challenge.slug:
        raise ChallengeConflict(
            f"the spec is for {spec.id!r}, not {challenge.slug!r}: keep the id, or create a "
            "new challenge"
        )
    current = next(v for v in challenge.versions if v.version == challenge.current_version)
    if current.spec_yaml == spec_yaml:
        return False
    if by is not None:
        # An organizer who edits a built-in challenge takes it over: restarts of the
        # platform no longer put the shipped spec back.
        challenge.builtin = False
    challenge.current_version += 1
    challenge.board_version += 1  # the direction or metric of its boards may have changed
    challenge.title = spec.title
    challenge.updated_at = now()
    challenge.versions.append(
        ChallengeVersion(
            version=challenge.current_version,
            spec_yaml=spec_yaml,
            created_by_id=by.id if by else None,
        )
    )
    session.flush()
    return True


def seed_builtins(session: Session) -> list[str]:
    """Add the built-in challenges that are missing, and update those whose spec changed."""
    changed = []
    folder = resources.files("aigc.submissions") / "challenges"
    for slug in builtin_challenge_ids():
        spec_yaml = (folder / f"{slug}.yaml").read_text(encoding="utf-8")
        challenge = find(session, slug)
        if challenge is None:
            create(session, spec_yaml, by=None, builtin=True)
            changed.append(slug)
        elif challenge.builtin and update(session, challenge, spec_yaml, by=None):
            changed.append(slug)
    return changed


def phase_state(phase: Phase, at: datetime | None = None) -> str:
    """Return "upcoming", "open" or "closed" for a phase at a moment (now by default)."""
    at = at or now()
    if phase.start is not None and at < phase.start:
        return "upcoming"
    if phase.end is not None and at >= phase.end:
        return "closed"
    return "open"


def set_archived(challenge: Challenge, archived: bool) -> bool:
    """Archive or unarchive a challenge; return False if it was so already."""
    if (challenge.archived_at is not None) == archived:
        return False
    challenge.archived_at = now() if archived else None
    return True


def reachable(session: Session, challenge: Challenge, user: User | None) -> bool:
    """Whether a viewer may open a challenge's pages: anyone, unless it is archived; then
    organizers and those who submitted to it."""
    if challenge.archived_at is None:
        return True
    if user is None:
        return False
    if user.is_organizer:
        return True
    mine = select(Submission.id).where(
        Submission.challenge_id == challenge.id, Submission.user_id == user.id
    )
    return session.scalar(mine.limit(1)) is not None
