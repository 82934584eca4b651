"""``aigc admin``: each command says which database it used; promoting and demoting accounts.

The commands run as real ``python -m aigc`` processes on SQLite and PostgreSQL databases.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.servers import platform_env, run_aigc

# Each command is a process that migrates its database first: seconds each.
pytestmark = pytest.mark.slow


def role_of(database_url: str, username: str) -> str:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            query = sa.text("SELECT role FROM user_account WHERE username = :name")
            return str(connection.execute(query, {"name": username}).scalar_one())
    finally:
        engine.dispose()


def with_password(database_url: str, password: str) -> str:
    """The URL with a password (the test PostgreSQL trusts loopback, so any password works)."""
    url = sa.engine.make_url(database_url)
    return url.set(password=password).render_as_string(hide_password=False)


def test_admin_commands_name_their_database_and_promote_and_demote(
    tmp_path: Path, database_url: str
) -> None:
    postgres = database_url.startswith("postgresql")
    url = with_password(database_url, "s3cret-word") if postgres else database_url
    env = platform_env(tmp_path / "data", url)
    shown = sa.engine.make_url(url).render_as_string(hide_password=True)

    made = run_aigc("admin", "create-user", "dana", "--password", "dana-password", env=env)
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines()[0] == f"database {shown}"
    assert "created participant dana" in made.stdout
    assert "s3cret-word" not in made.stdout + made.stderr
    assert role_of(database_url, "dana") == "participant"

    promoted = run_aigc("admin", "promote", "dana", env=env)
    assert promoted.stdout.splitlines() == [f"database {shown}", "dana is an organizer now"]
    assert role_of(database_url, "dana") == "organizer"
    again = run_aigc("admin", "promote", "dana", env=env)
    assert again.stdout.splitlines()[-1] == "dana is an organizer already"

    demoted = run_aigc("admin", "demote", "dana", env=env)
    assert demoted.stdout.splitlines()[-1] == "dana is a participant now"
    assert role_of(database_url, "dana") == "participant"
    run_aigc("admin", "promote", "dana", env=env)
    flag = run_aigc("admin", "promote", "dana", "--demote", env=env)
    assert flag.stdout.splitlines()[-1] == "dana is a participant now"

    unknown = run_aigc("admin", "promote", "nobody", env=env)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        "Error: there is no account 'nobody' here: aigc admin create-user nobody creates one"
    )
    baselines = run_aigc("admin", "promote", "baselines", env=env)
    assert baselines.returncode == 1 and "no account 'baselines'" in baselines.stderr


def test_without_a_database_setting_the_default_is_named(tmp_path: Path) -> None:
    env = platform_env(tmp_path / "data", "")
    del env["AIGC_DATABASE_URL"]
    done = run_aigc("admin", "migrate", env=env)
    assert done.returncode == 0, done.stderr
    default = tmp_path / "data" / "aigc.db"
    assert done.stdout.splitlines() == [
        f"database sqlite:///{default} (AIGC_DATABASE_URL is not set)",
        "the database is up to date",
    ]
    assert default.exists()
