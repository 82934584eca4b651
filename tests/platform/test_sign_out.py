"""Signing out ends a sign-in on the server; sign-ins and API tokens last a set time."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from flask.testing import FlaskClient
from sqlalchemy import select, update

from aigc.platform import auth
from aigc.platform.db import Database
from aigc.platform.models import ApiToken, User, WebSession, now
from aigc.platform.settings import Settings
from aigc.platform.startup import start

from .conftest import Api, RecordingQueue, error
from .forms import post, signed_in, text


def copy_of(api: Api, browser: FlaskClient) -> FlaskClient:
    """Another browser carrying a copy of this one's session cookie."""
    cookie = browser.get_cookie("session")
    assert cookie is not None
    thief = api.app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def is_signed_in(browser: FlaskClient) -> bool:
    response = browser.get("/my/submissions")
    assert response.status_code in (200, 302)
    return response.status_code == 200


@pytest.mark.hostile
def test_signing_out_ends_the_sign_in_for_every_copy_of_the_cookie(api: Api) -> None:
    browser = signed_in(api, api.account("alice"))
    copy = copy_of(api, browser)
    assert is_signed_in(copy)  # the copy works while alice is signed in

    assert post(browser, "/logout").status_code == 302
    assert not is_signed_in(browser)
    assert not is_signed_in(copy)
    assert "Log in" in text(copy.get("/"))
    with api.db.session() as session:
        assert session.scalar(select(sa.func.count()).select_from(WebSession)) == 0


def test_signing_out_elsewhere_leaves_other_sign_ins_alone(api: Api) -> None:
    alice = api.account("alice")
    laptop, phone = signed_in(api, alice), signed_in(api, alice)
    post(laptop, "/logout")
    assert not is_signed_in(laptop)
    assert is_signed_in(phone)


def test_signing_in_again_ends_the_browsers_previous_sign_in(api: Api) -> None:
    alice = api.account("alice")
    browser = signed_in(api, alice)
    before = copy_of(api, browser)
    response = browser.post(
        "/login",
        data={"username": "alice", "password": alice.password, "csrf_token": _csrf(browser)},
    )
    assert response.status_code == 302
    assert is_signed_in(browser)
    assert not is_signed_in(before)


def _csrf(browser: FlaskClient) -> str:
    with browser.session_transaction() as session:
        return str(session["csrf_token"])


def test_a_browsers_sign_in_lasts_the_token_lifetime(settings: Settings, db: Database) -> None:
    api = Api(start(settings.with_(token_days=3), queue=RecordingQueue()).app, db)
    browser = signed_in(api, api.account("alice"))
    with db.session() as session:
        row = session.scalars(select(WebSession)).one()
        assert abs(row.expires_at - row.created_at - timedelta(days=3)) < timedelta(minutes=1)
        row.expires_at = now() - timedelta(seconds=1)
    assert not is_signed_in(browser)


@pytest.mark.hostile
def test_tokens_expire_after_the_configured_lifetime(settings: Settings, db: Database) -> None:
    api = Api(start(settings.with_(token_days=2), queue=RecordingQueue()).app, db)
    api.account("alice")
    answer = api.client.post(
        "/api/v1/tokens", json={"username": "alice", "password": "alice-password"}
    )
    assert answer.status_code == 201
    body = answer.get_json()
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert api.client.get("/api/v1/me", headers=headers).status_code == 200
    with db.session() as session:
        row = session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).first()
        assert row is not None
        assert abs(row.expires_at - row.created_at - timedelta(days=2)) < timedelta(minutes=1)
        assert body["expires_at"] == row.expires_at.isoformat().replace("+00:00", "Z")
        row.expires_at = now() - timedelta(seconds=1)
    expired = api.client.get("/api/v1/me", headers=headers)
    assert error(expired, 401) == "the API token expired: sign in again (aigc login)"
    assert expired.headers["WWW-Authenticate"] == "Bearer"


def test_a_new_token_clears_the_users_expired_ones(api: Api, db: Database) -> None:
    api.account("alice")
    with db.session() as session:
        session.execute(update(ApiToken).values(expires_at=now() - timedelta(days=1)))
        user = session.scalars(select(User)).one()
        auth.issue_token(session, user)
    with db.session() as session:
        left = session.scalars(select(ApiToken)).all()
        assert len(left) == 1 and left[0].expires_at > now()


def test_tokens_from_before_the_upgrade_get_the_default_lifetime(database_url: str) -> None:
    database = Database(database_url)
    config = database.alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO user_account (username, password_hash, role, created_at)"
            " VALUES ('old', 'x', 'participant', '2026-01-01 00:00:00+00')"
        )
        connection.exec_driver_sql(
            "INSERT INTO api_token (user_id, token_hash, name, created_at)"
            " SELECT id, 'abc', 'old laptop', '2026-01-01 00:00:00+00' FROM user_account"
        )
    database.migrate()
    assert database.is_current()
    with database.session() as session:
        token = session.scalars(select(ApiToken)).one()
        left = token.expires_at - now()
        assert timedelta(days=29) < left <= timedelta(days=30)
    # And back: the schema before 0004 has no expiry, no web sessions, no attempts.
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
        tables = sa.inspect(connection).get_table_names()
        assert "web_session" not in tables and "attempt" not in tables
        columns = {c["name"] for c in sa.inspect(connection).get_columns("api_token")}
        assert "expires_at" not in columns
    database.migrate()
    assert database.is_current()
    database.dispose()
