"""The database: engines for SQLite and PostgreSQL, sessions, and migrations with Alembic."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from aigc.platform import changes

MIGRATIONS = "aigc.platform:migrations"
# The PostgreSQL advisory lock that start-ups take turns on (any fixed 64-bit number).
STARTUP_LOCK = 0x41494743_0001


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the server read while a worker process writes; foreign keys are off by default.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets settings that let several processes share the file."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work is committed at the end, or rolled back on an error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def startup_lock(self) -> Iterator[None]:
        """Hold the database's start-up lock: servers starting at once (the processes of
        one WSGI server, or several hosts) migrate and seed it one after the other."""
        url = make_url(self.url)
        if url.get_backend_name() == "postgresql":
            with self.engine.connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": STARTUP_LOCK})
                try:
                    yield
                finally:
                    connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": STARTUP_LOCK}
                    )
                    connection.commit()
            return
        if url.database in (None, "", ":memory:"):
            yield  # a database in memory has one process
            return
        # A SQLite file is shared only by the processes of its host: a lock file beside it.
        with Path(f"{url.database}.startup-lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def alembic_config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", MIGRATIONS)
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return config

    def migrate(self) -> None:
        """Bring the schema to the newest migration (creating it on an empty database)."""
        config = self.alembic_config()
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def is_current(self) -> bool:
        """Tell whether the schema is at the newest migration."""
        head = ScriptDirectory.from_config(self.alembic_config()).get_current_head()
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision() == head

    def dispose(self) -> None:
        """Close the connections, this process's listener for changes among them."""
        changes.stop_listening(self.url)
        self.engine.dispose()
