"""Database models: accounts and sign-ins, challenges with their versions, submissions and
results."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from aigc.platform.statuses import SubmissionStatus
from aigc.safe_text import storable

PARTICIPANT, ORGANIZER = "participant", "organizer"
BASELINE_USER = "baselines"  # owns the platform's own baseline submissions; cannot sign in
LOG_EXCERPT_CHARS = 64 * 1024


def now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Storable(TypeDecorator[str]):
    """Text made storable on every database before it is sent (see :mod:`aigc.safe_text`).

    Applies to what is written and to what is compared in queries alike, so a NUL byte in
    an agent's output, a team name or a query filter is never an error of the database.
    """

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return storable(value) if isinstance(value, str) else value


class StorableString(_Storable):
    """A VARCHAR of ``length`` characters that takes any text."""

    impl = String
    cache_ok = True


class StorableText(_Storable):
    """A TEXT column that takes any text."""

    impl = Text
    cache_ok = True


class StatusColumn(TypeDecorator[SubmissionStatus]):
    """A submission's status: stored as its text, loaded as a :class:`SubmissionStatus`."""

    impl = String(16)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        # A plain string reaches the driver; an unknown status fails here, not in the database.
        return SubmissionStatus(value).value if value is not None else None

    def process_result_value(self, value: str | None, dialect: Dialect) -> SubmissionStatus | None:
        return SubmissionStatus(value) if value is not None else None


class Base(DeclarativeBase):
    # Named constraints, so migrations can alter them on every database.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        str: StorableText,
    }


class Team(Base):
    __tablename__ = "team"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(StorableString(64), unique=True)
    join_code: Mapped[str] = mapped_column(StorableString(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now)

    members: Mapped[list[User]] = relationship(back_populates="team")


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(StorableString(32), unique=True)
    password_hash: Mapped[str] = mapped_column(StorableString(256))
    role: Mapped[str] = mapped_column(StorableString(16), default=PARTICIPANT)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=now)

    team: Mapped[Team | None] = relationship(back_populates="members")

    @property
    def is_organizer(self) -> bool:
        return self.role == ORGANIZER


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    # sha256 of the token: a stolen database does not hand out working tokens.
    token_hash: Mapped[str] = mapped_column(StorableString(64), unique=True)
    name: Mapped[str] = mapped_column(StorableString(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    last_used_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()

    user: Mapped[User] = relationship()


class WebSession(Base):
    """A browser's sign-in: its cookie holds the key, signing out deletes the row."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    # sha256 of the cookie's key, as for API tokens.
    token_hash: Mapped[str] = mapped_column(StorableString(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime] = mapped_column(index=True)

    user: Mapped[User] = relationship()


class Attempt(Base):
    """One sign-in or sign-up attempt, as the throttles count them (aigc.platform.throttle)."""

    __tablename__ = "attempt"
    __table_args__ = (Index("ix_attempt_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 of what is counted (a username, a client address) with the throttle's name.
    key: Mapped[str] = mapped_column(StorableString(64))
    at: Mapped[datetime] = mapped_column(index=True)


class Challenge(Base):
    __tablename__ = "challenge"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(StorableString(63), unique=True)
    title: Mapped[str] = mapped_column(StorableString(200))
    current_version: Mapped[int] = mapped_column(default=1)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped by every change a leaderboard shows, so boards can be cached safely.
    board_version: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now)
    # Archived: off the lists, closed to submissions; its pages stay for those involved.
    archived_at: Mapped[datetime | None] = mapped_column()

    versions: Mapped[list[ChallengeVersion]] = relationship(
        back_populates="challenge", order_by="ChallengeVersion.version"
    )


class ChallengeVersion(Base):
    """The spec as the organizer wrote it; every update adds a version, none is changed."""

    __tablename__ = "challenge_version"
    __table_args__ = (UniqueConstraint("challenge_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    spec_yaml: Mapped[str] = mapped_column(StorableText)
    # A bundle's archive (the spec and the organizer's environment), stored by sha256.
    bundle_sha256: Mapped[str | None] = mapped_column(StorableString(64))
    # Its runtime packages: the wheelhouse's archive (by sha256), the pins it installs (one
    # a line) and the image built from it where it was created (a worker rebuilds it).
    runtime_sha256: Mapped[str | None] = mapped_column(StorableString(64))
    runtime_pins: Mapped[str | None] = mapped_column(StorableText)
    runtime_image: Mapped[str | None] = mapped_column(StorableString(255))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)

    challenge: Mapped[Challenge] = relationship(back_populates="versions")


class Submission(Base):
    __tablename__ = "submission"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"), index=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge.id"), index=True)
    challenge_version: Mapped[int] = mapped_column()
    phase: Mapped[str] = mapped_column(StorableString(63))
    # The package: its bytes live in storage under this hash.
    package_sha256: Mapped[str] = mapped_column(StorableString(64))
    package_name: Mapped[str] = mapped_column(StorableString(64))
    filename: Mapped[str] = mapped_column(StorableString(255))
    size_bytes: Mapped[int] = mapped_column()
    # The status machine, and the claim a worker holds while it evaluates.
    status: Mapped[SubmissionStatus] = mapped_column(
        StatusColumn, default=SubmissionStatus.QUEUED, index=True
    )
    attempts: Mapped[int] = mapped_column(default=0)
    claim_token: Mapped[str | None] = mapped_column(StorableString(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    worker: Mapped[str | None] = mapped_column(StorableString(255))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    episodes_done: Mapped[int] = mapped_column(default=0)
    episodes_total: Mapped[int] = mapped_column(default=0)
    # Why it failed; platform failures do not count against quotas.
    failure_code: Mapped[str | None] = mapped_column(StorableString(64))
    failure_message: Mapped[str | None] = mapped_column(StorableText)
    # Where it failed: the episode that was running and its step (None: not in an episode).
    failure_episode: Mapped[int | None] = mapped_column(Integer)
    failure_step: Mapped[int | None] = mapped_column(Integer)
    platform_failure: Mapped[bool] = mapped_column(Boolean, default=False)
    disqualified: Mapped[bool] = mapped_column(Boolean, default=False)
    disqualified_reason: Mapped[str | None] = mapped_column(StorableText)
    baseline: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    logs: Mapped[str] = mapped_column(StorableText, default="")
    created_at: Mapped[datetime] = mapped_column(default=now, index=True)
    queued_at: Mapped[datetime] = mapped_column(default=now)  # last put in the queue
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship()
    team: Mapped[Team | None] = relationship()
    challenge: Mapped[Challenge] = relationship()
    evaluation: Mapped[Evaluation | None] = relationship(
        back_populates="submission", cascade="all, delete-orphan"
    )


class Evaluation(Base):
    """The one stored result of a submission (unique: a submission is never scored twice)."""

    __tablename__ = "evaluation"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), unique=True
    )
    attempt: Mapped[int] = mapped_column()
    score: Mapped[float | None] = mapped_column(Float)
    # The 95% bootstrap interval of the score over episodes, and the tie-breaker's value.
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)
    tie_breaker: Mapped[float | None] = mapped_column(Float)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    episodes_requested: Mapped[int] = mapped_column()
    steps: Mapped[int] = mapped_column(default=0)
    wall_time: Mapped[float] = mapped_column(Float, default=0.0)
    startup_time: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=now)

    submission: Mapped[Submission] = relationship(back_populates="evaluation")
    episodes: Mapped[list[EpisodeRow]] = relationship(
        back_populates="evaluation", cascade="all, delete-orphan", order_by="EpisodeRow.index"
    )


class PhaseReveal(Base):
    """A hidden phase whose leaderboard and scores the organizers have revealed."""

    __tablename__ = "phase_reveal"
    __table_args__ = (UniqueConstraint("challenge_id", "phase"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge.id", ondelete="CASCADE"))
    phase: Mapped[str] = mapped_column(StorableString(63))
    revealed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    revealed_at: Mapped[datetime] = mapped_column(default=now)


class EpisodeRow(Base):
    __tablename__ = "episode"
    __table_args__ = (UniqueConstraint("evaluation_id", "index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluation.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column()
    total_return: Mapped[float | None] = mapped_column(Float)
    length: Mapped[int] = mapped_column()
    wall_time: Mapped[float] = mapped_column(Float)
    terminated: Mapped[bool] = mapped_column(Boolean)
    truncated: Mapped[bool] = mapped_column(Boolean)
    success: Mapped[bool | None] = mapped_column(Boolean)
    # The numbers of the challenge's metrics.info from the last step's info (None: missing).
    values: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    # What a replay needs: the actions as aigc.submissions.recording packs them (None: not
    # recorded), loaded only when asked for; a text episode's prompt and completion.
    actions: Mapped[str | None] = mapped_column(StorableText, deferred=True)
    prompt: Mapped[str | None] = mapped_column(StorableText)
    completion: Mapped[str | None] = mapped_column(StorableText)

    evaluation: Mapped[Evaluation] = relationship(back_populates="episodes")
