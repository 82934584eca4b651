"""The platform's settings, read once from ``AIGC_*`` environment variables.

- ``AIGC_DATA_DIR``: where the platform keeps its files (default: the user's data folder).
- ``AIGC_DATABASE_URL``: SQLAlchemy URL, SQLite or PostgreSQL (default: a SQLite file in
  the data folder).
- ``AIGC_BROKER_URL``: the Celery broker (Redis); empty means an in-process worker pool.
- ``AIGC_STORAGE_DIR``: uploaded packages, stored by sha256 (default: ``storage`` in the
  data folder).
- ``AIGC_SANDBOX``: ``docker`` (default) or ``local`` (for trusted code only).
- ``AIGC_BASELINES_DIR``: baseline agent packages, ``<challenge>/<name>/``; each is
  evaluated and shown on its challenge's boards (default: the trained baselines that ship
  with the platform, written by ``aigc baselines build``; ``none``: no baselines).
- ``AIGC_SECRET_KEY``: signs sessions and derives hidden seeds (default: generated once and
  kept in the data folder with mode 0600).
- ``AIGC_WORKERS``: evaluations at once in the in-process pool (default 2).
- ``AIGC_POOL_SIZE``: warm Docker sandboxes each worker process keeps started ahead of
  need, per runtime image, set of limits and kind of package (torch imported ahead or
  not; default 0: every agent starts a cold container). With 2, an agent's start (claim
  to first action) falls from a second or more to a few hundredths; each waiting
  container holds its runtime's imports in memory (with torch, some 150 MiB).
- ``AIGC_MAX_UPLOAD_BYTES``: the largest accepted upload (default 64 MiB).
- ``AIGC_MAX_PACKAGE_BYTES``: the largest package once unpacked (default 512 MiB).
- ``AIGC_MAX_ATTEMPTS``: evaluation attempts before a platform failure (default 3).
- ``AIGC_MAX_EVALUATION_S``: cap on any challenge's evaluation time (default 3600).
- ``AIGC_LEASE_S``: a worker's hold on a running evaluation, renewed by its heartbeat; a
  dead worker's evaluation is taken over once it lapses (default 60).
- ``AIGC_OPEN_SIGNUP``: 1 (default) lets anyone create a participant account, 0 does not.
- ``AIGC_HTTPS``: 1 when the site is served over HTTPS (behind a proxy, say): the browser
  then sends the session cookie over HTTPS only; 0 (default) for plain HTTP.
- ``AIGC_TOKEN_DAYS``: an API token, and a sign-in in the browser, lasts this many days
  (default 30); signing out ends it at once.
- ``AIGC_SIGNUPS_PER_HOUR``: sign-ups one client address may make in an hour (default 20;
  raise it for a workshop whose participants share one address).
- ``AIGC_TRUSTED_PROXIES``: how many proxies in front of the platform set X-Forwarded-For
  and X-Forwarded-Proto (default 0: the headers are ignored). Sign-in throttles count per
  client address, so behind a proxy set it, or every visitor has the proxy's address.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import platformdirs

from aigc.submissions.archive import ArchiveLimits

# The trained baseline packages that ship with the platform (``aigc baselines build`` writes
# them): one folder per built-in challenge, one package per algorithm.
SHIPPED_BASELINES = Path(__file__).parents[1] / "baselines" / "trained"


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable and the fix."""


def _int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(
            f"{name}={raw!r} is not a whole number: set e.g. {name}={default}"
        ) from None
    if value < minimum:
        raise SettingsError(f"{name}={value} is below {minimum}: set at least {minimum}")
    return value


def baselines_dir_from_env() -> Path | None:
    """``AIGC_BASELINES_DIR`` as a folder; None when it says ``none``."""
    raw = os.environ.get("AIGC_BASELINES_DIR", "").strip()
    if raw.lower() == "none":
        return None
    return Path(raw).expanduser() if raw else SHIPPED_BASELINES


def _secret_key(data_dir: Path) -> str:
    given = os.environ.get("AIGC_SECRET_KEY", "").strip()
    if given:
        return given
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created with mode 0600 atomically: no moment where others could read it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    broker_url: str | None
    storage_dir: Path
    sandbox: str
    secret_key: str
    baselines_dir: Path | None = None
    workers: int = 2
    pool_size: int = 0
    max_upload_bytes: int = 64 * 2**20
    max_package_bytes: int = 512 * 2**20
    max_attempts: int = 3
    max_evaluation_seconds: int = 3600
    lease_seconds: int = 60
    open_signup: bool = True
    https: bool = False
    token_days: int = 30
    signups_per_hour: int = 20
    trusted_proxies: int = 0
    # A folder of wheels: challenges' runtime packages come from it alone (no index); unset,
    # from the index pip is configured with on this host.
    runtime_wheels: Path | None = None

    @property
    def database_shown(self) -> str:
        """The database URL with its password replaced by ``***``, fit to print."""
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            return make_url(self.database_url).render_as_string(hide_password=True)
        except ArgumentError:
            return "(an AIGC_DATABASE_URL that is not a database URL)"

    @classmethod
    def from_env(cls) -> Settings:
        """Read the settings from the environment; create the data folder if needed."""
        data_dir = Path(
            os.environ.get("AIGC_DATA_DIR") or platformdirs.user_data_dir("aigc")
        ).expanduser()
        data_dir.mkdir(parents=True, exist_ok=True)
        sandbox = os.environ.get("AIGC_SANDBOX", "docker").strip() or "docker"
        if sandbox not in ("docker", "local"):
            raise SettingsError(f"AIGC_SANDBOX={sandbox!r} is unknown: set docker or local")
        signup = os.environ.get("AIGC_OPEN_SIGNUP", "1").strip()
        if signup not in ("0", "1"):
            raise SettingsError(f"AIGC_OPEN_SIGNUP={signup!r}: set 1 (open) or 0 (closed)")
        https = os.environ.get("AIGC_HTTPS", "0").strip() or "0"
        if https not in ("0", "1"):
            raise SettingsError(f"AIGC_HTTPS={https!r}: set 1 (served over HTTPS) or 0 (HTTP)")
        return cls(
            data_dir=data_dir,
            database_url=os.environ.get("AIGC_DATABASE_URL") or f"sqlite:///{data_dir / 'aigc.db'}",
            broker_url=os.environ.get("AIGC_BROKER_URL") or None,
            storage_dir=Path(os.environ.get("AIGC_STORAGE_DIR") or data_dir / "storage"),
            sandbox=sandbox,
            secret_key=_secret_key(data_dir),
            baselines_dir=baselines_dir_from_env(),
            workers=_int("AIGC_WORKERS", 2),
            pool_size=_int("AIGC_POOL_SIZE", 0, minimum=0),
            max_upload_bytes=_int("AIGC_MAX_UPLOAD_BYTES", 64 * 2**20),
            max_package_bytes=_int("AIGC_MAX_PACKAGE_BYTES", 512 * 2**20),
            max_attempts=_int("AIGC_MAX_ATTEMPTS", 3),
            max_evaluation_seconds=_int("AIGC_MAX_EVALUATION_S", 3600),
            lease_seconds=_int("AIGC_LEASE_S", 60, minimum=4),
            open_signup=signup == "1",
            https=https == "1",
            token_days=_int("AIGC_TOKEN_DAYS", 30),
            signups_per_hour=_int("AIGC_SIGNUPS_PER_HOUR", 20),
            trusted_proxies=_int("AIGC_TRUSTED_PROXIES", 0, minimum=0),
            runtime_wheels=Path(os.environ["AIGC_RUNTIME_WHEELS"]).expanduser()
            if os.environ.get("AIGC_RUNTIME_WHEELS", "").strip()
            else None,
        )

    def with_(self, **changes: object) -> Settings:
        """Return a copy with some settings changed (for tests and tools)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def token_lifetime(self) -> timedelta:
        """How long an API token or a browser's sign-in lasts."""
        return timedelta(days=self.token_days)

    @property
    def archive_limits(self) -> ArchiveLimits:
        """What an uploaded archive may unpack to."""
        return ArchiveLimits(
            max_total_bytes=self.max_package_bytes, max_member_bytes=self.max_package_bytes
        )

    @property
    def visibility_timeout(self) -> int:
        """Seconds the broker waits for an unacknowledged task: above the longest evaluation."""
        return self.max_evaluation_seconds + 15 * 60

    @property
    def seed_secret(self) -> bytes:
        """The secret hidden phases derive their seeds from (never the key itself)."""
        return hmac.new(self.secret_key.encode(), b"aigc hidden seeds", hashlib.sha256).digest()
