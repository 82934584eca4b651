"""Challenges on the platform: created and updated from YAML or a bundle, every update a new
version. A bundle's archive is stored by sha256 with the packages and named by its version;
so is the wheelhouse of its runtime packages, resolved and built into an image when the
version is created (:mod:`aigc.submissions.runtime_packages`)."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aigc.platform.lru import LRU
from aigc.platform.models import Challenge, ChallengeVersion, Submission, User, now
from aigc.platform.settings import Settings
from aigc.platform.storage import PackageStore
from aigc.submissions.bundle import SPEC_NAME, open_bundle, pack_bundle
from aigc.submissions.challenge import (
    ChallengeSpec,
    EnvironmentSpec,
    Phase,
    SpecError,
    builtin_challenge_ids,
    check_environment,
    parse_challenge_yaml,
)

log = logging.getLogger("aigc.challenges")


class ChallengeConflict(ValueError):
    """The challenge exists already, or the update names another challenge."""


_parsed: LRU[str, ChallengeSpec] = LRU(256)
_problems: LRU[str, str | None] = LRU(256)


def parse(spec_yaml: str) -> ChallengeSpec:
    """Read a stored spec once, without building its environment.

    Stored specs were checked when they were created; an environment that went away
    since (a restart without it) makes its challenge unavailable, not unreadable.
    """
    return _parsed.get(spec_yaml, lambda: parse_challenge_yaml(spec_yaml, build_environment=False))


def check(spec_yaml: str) -> ChallengeSpec:
    """Check a new spec fully, building its environment once; SpecError if it is invalid."""
    spec = parse_challenge_yaml(spec_yaml)
    _parsed.get(spec_yaml, lambda: spec)
    with _problems.lock:  # it builds now, whatever it did before
        _problems.entries.pop(_environment_key(spec.environment), None)
    return spec


def forget_parsed() -> None:
    """Drop what was read and built, as a restart does."""
    for cache in (_parsed, _problems):
        with cache.lock:
            cache.entries.clear()


def _environment_key(environment: EnvironmentSpec) -> str:
    return json.dumps(
        [environment.id, environment.kwargs, environment.max_episode_steps],
        sort_keys=True,
        default=repr,
    )


def unavailable_reason(spec: ChallengeSpec) -> str | None:
    """Why the challenge's environment cannot be built here, or None if it can (cached)."""

    def problem() -> str | None:
        if spec.environment.in_bundle:
            return None  # the organizer's code, in the stored bundle: built in its sandbox
        try:
            check_environment(spec.environment)
        except SpecError as exc:
            return f"its environment cannot be built ({exc})"
        return None

    return _problems.get(_environment_key(spec.environment), problem)


def version_of(challenge: Challenge, version: int | None = None) -> ChallengeVersion:
    """Return the record of a version (the current one by default)."""
    wanted = challenge.current_version if version is None else version
    for record in challenge.versions:
        if record.version == wanted:
            return record
    raise LookupError(f"challenge {challenge.slug!r} has no version {wanted}")


def spec_of(challenge: Challenge, version: int | None = None) -> ChallengeSpec:
    """Return the spec of a version (the current one by default)."""
    return parse(version_of(challenge, version).spec_yaml)


@dataclass(frozen=True)
class StoredBundle:
    """A checked bundle whose archive is in storage: its spec's text, the spec, the hash."""

    spec_yaml: str
    spec: ChallengeSpec
    sha256: str


def store_bundle(store: PackageStore, data: bytes, filename: str) -> StoredBundle:
    """Check a bundle archive as evaluation will open it, then store it; SpecError if bad."""
    suffix = ".zip" if filename.lower().endswith(".zip") else ".tar.gz"
    with tempfile.TemporaryDirectory(prefix="aigc-bundle-") as tmp:
        archive = Path(tmp) / f"bundle{suffix}"
        archive.write_bytes(data)
        with open_bundle(archive, store.limits) as bundle:
            spec_yaml, spec = bundle.spec_yaml, bundle.spec
    _parsed.get(spec_yaml, lambda: spec)
    return StoredBundle(spec_yaml, spec, store.put(data))


@dataclass(frozen=True)
class StoredRuntime:
    """A version's runtime packages: the pins installed, the wheelhouse's hash, the image."""

    pins: tuple[str, ...]
    sha256: str
    image: str | None


RuntimeMaker = Callable[[ChallengeSpec], "StoredRuntime | None"]


def store_runtime(
    store: PackageStore,
    settings: Settings,
    spec: ChallengeSpec,
    progress: Callable[[str], None] = log.info,
) -> StoredRuntime | None:
    """Resolve a spec's runtime packages, store their wheelhouse and build their image.

    SpecError (pip's own line) if they do not resolve; nothing is stored then. With the
    local sandbox, agents run in this Python: the packages must be installed here.
    """
    from aigc.submissions import runtime_packages

    packages = spec.runtime.packages
    if not packages:
        return None
    if settings.sandbox == "local":
        here = {
            d.metadata["Name"]: (d.version, d.read_text("METADATA") or "")
            for d in importlib.metadata.distributions()
        }
        wheelhouse = runtime_packages.resolve(packages, here, settings.runtime_wheels, progress)
        if wheelhouse.pins:
            raise SpecError(
                f"runtime.packages: {', '.join(wheelhouse.pins)} not installed here, where the "
                "local sandbox runs agents: install them, or use the Docker sandbox"
            )
        return StoredRuntime((), store.put(wheelhouse.archive), None)
    from aigc.submissions.docker_sandbox import docker_client
    from aigc.submissions.images import ImageError

    client = docker_client()
    if client is None:
        raise SpecError(
            "runtime.packages: no Docker engine answers here to build the challenge's image: "
            "start Docker and try again"
        )
    try:
        wheelhouse, image = runtime_packages.prepare(
            client, packages, settings.runtime_wheels, progress
        )
    except ImageError as exc:
        raise SpecError(f"runtime.packages: {exc}") from None
    finally:
        client.close()
    return StoredRuntime(wheelhouse.pins, store.put(wheelhouse.archive), image)


def runtime_of(record: ChallengeVersion) -> dict[str, object]:
    """What a version's runtime holds, as participants may read it."""
    spec = parse(record.spec_yaml)
    return {
        "packages": list(spec.runtime.packages),
        "installed": (record.runtime_pins or "").split(),
        "image": record.runtime_image,
    }


def _runtime_columns(runtime: StoredRuntime | None) -> dict[str, object]:
    if runtime is None:
        return {"runtime_sha256": None, "runtime_pins": None, "runtime_image": None}
    return {
        "runtime_sha256": runtime.sha256,
        "runtime_pins": "\n".join(runtime.pins),
        "runtime_image": runtime.image,
    }


def _runtime(spec: ChallengeSpec, maker: RuntimeMaker | None) -> StoredRuntime | None:
    if not spec.runtime.packages:
        return None
    if maker is None:
        raise SpecError("runtime.packages: this platform cannot install runtime packages here")
    return maker(spec)


def public_spec_yaml(spec_yaml: str) -> str:
    """The spec as participants may read it: hidden phases' seeds and every comment left out.

    The YAML is written afresh from its data, so nothing an organizer wrote beside a field
    (a comment listing a hidden phase's seeds, say) reaches participants; a hidden phase's
    seeds become ``secret``, which a participant's machine cannot play.
    """
    data = yaml.safe_load(spec_yaml)
    for phase in data.get("phases") or ():
        if isinstance(phase, dict) and phase.get("visibility") == "hidden":
            phase["seeds"] = "secret"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def public_bundle(store: PackageStore, sha256: str, spec_yaml: str) -> bytes:
    """The bundle's archive as participants may download it: its code, the public spec."""
    with store.unpacked_bundle(sha256) as folder:
        (folder / SPEC_NAME).write_text(public_spec_yaml(spec_yaml), encoding="utf-8")
        return pack_bundle(folder)


def find(session: Session, slug: str) -> Challenge | None:
    return session.scalar(select(Challenge).where(Challenge.slug == slug))


def participants(session: Session) -> dict[int, int]:
    """How many people submitted to each challenge, by challenge id; baselines are no one."""
    rows = session.execute(
        select(Submission.challenge_id, func.count(func.distinct(Submission.user_id)))
        .where(Submission.baseline.is_(False))
        .group_by(Submission.challenge_id)
    )
    return {challenge_id: count for challenge_id, count in rows}


def create(
    session: Session,
    spec_yaml: str,
    by: User | None,
    builtin: bool = False,
    bundle: StoredBundle | None = None,
    runtime: RuntimeMaker | None = None,
) -> Challenge:
    """Create a challenge from YAML or a stored bundle; SpecError if the spec is invalid
    or its runtime packages do not resolve (``runtime`` resolves and builds them)."""
    spec = check(spec_yaml) if bundle is None else bundle.spec
    if find(session, spec.id) is not None:
        raise ChallengeConflict(
            f"a challenge with id {spec.id!r} exists: update it instead (aigc challenge update)"
        )
    stored = _runtime(spec, runtime)
    challenge = Challenge(slug=spec.id, title=spec.title, current_version=1, builtin=builtin)
    challenge.versions.append(
        ChallengeVersion(
            version=1,
            spec_yaml=spec_yaml,
            bundle_sha256=bundle.sha256 if bundle else None,
            created_by_id=by.id if by else None,
            **_runtime_columns(stored),
        )
    )
    session.add(challenge)
    session.flush()
    return challenge


def update(
    session: Session,
    challenge: Challenge,
    spec_yaml: str,
    by: User | None,
    bundle: StoredBundle | None = None,
    runtime: RuntimeMaker | None = None,
) -> bool:
    """Add a version with the new YAML or bundle; return False if nothing changed."""
    current = version_of(challenge)
    sha256 = bundle.sha256 if bundle else None
    unchanged = current.spec_yaml == spec_yaml and current.bundle_sha256 == sha256
    if unchanged and by is None:
        return False  # a restart finding the shipped spec unchanged: nothing to build
    spec = check(spec_yaml) if bundle is None else bundle.spec
    if spec.id != challenge.slug:
        raise ChallengeConflict(
            f"the spec is for {spec.id!r}, not {challenge.slug!r}: keep the id, or create a "
            "new challenge"
        )
    if unchanged:
        return False
    stored = _runtime(spec, runtime)
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
            bundle_sha256=sha256,
            created_by_id=by.id if by else None,
            **_runtime_columns(stored),
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
