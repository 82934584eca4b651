"""Accounts over the API: sign-up, sign-in and out, API tokens, /me, teams and their quota."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from aigc.platform.db import Database
from aigc.platform.models import ApiToken
from aigc.platform.settings import Settings
from aigc.platform.startup import start

from .conftest import BAD_SIGN_UPS, QUOTA_CHALLENGE, Account, Api, RecordingQueue, error, zip_agent


def sign_in(api: Api, username: str, password: str, name: str = "") -> Any:
    return api.client.post(
        "/api/v1/tokens", json={"username": username, "password": password, "name": name}
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- sign-up ----------------------------------------------------------------------------


def test_sign_up_creates_a_participant_who_can_sign_in(api: Api) -> None:
    response = api.client.post(
        "/api/v1/users", json={"username": "alice", "password": "correct-horse"}
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body == {"id": body["id"], "username": "alice", "role": "participant", "team": None}
    assert sign_in(api, "alice", "correct-horse").status_code == 201


def test_sign_up_with_a_taken_username_is_409(api: Api) -> None:
    api.account("alice")
    response = api.client.post(
        "/api/v1/users", json={"username": "alice", "password": "another-password"}
    )
    assert "taken" in error(response, 409)


def test_sign_up_with_bad_input_is_400_saying_what_to_fix(api: Api) -> None:
    for body, says in BAD_SIGN_UPS:
        assert says in error(api.client.post("/api/v1/users", json=body), 400), body
    with api.db.session() as session:
        assert session.scalar(sa.text("select count(*) from user_account")) == 0


def test_sign_up_is_403_when_closed_but_existing_accounts_still_sign_in(
    api: Api, settings: Settings, db: Database
) -> None:
    api.account("alice")
    closed = start(settings.with_(open_signup=False), queue=RecordingQueue()).app.test_client()
    response = closed.post("/api/v1/users", json={"username": "mallory", "password": "m-password"})
    assert "sign-up is closed" in error(response, 403)
    with db.session() as session:
        assert session.scalar(sa.text("select count(*) from user_account")) == 1
    signed_in = closed.post(
        "/api/v1/tokens", json={"username": "alice", "password": "alice-password"}
    )
    assert signed_in.status_code == 201


# --- tokens -----------------------------------------------------------------------------


def test_sign_in_returns_a_token_that_identifies_the_user(api: Api) -> None:
    api.account("alice")
    response = sign_in(api, "alice", "alice-password", name="laptop")
    assert response.status_code == 201
    body = response.get_json()
    assert body["token"].startswith("aigc_")
    assert body["user"]["username"] == "alice"
    me = api.client.get("/api/v1/me", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.get_json() == body["user"]


def test_sign_in_refuses_a_wrong_password_and_an_unknown_user_alike(api: Api) -> None:
    api.account("alice")
    wrong = sign_in(api, "alice", "not-her-password")
    unknown = sign_in(api, "nobody", "alice-password")
    # The same answer for both: sign-in does not tell which usernames exist.
    assert error(wrong, 401) == error(unknown, 401) == "wrong username or password"
    assert wrong.headers["WWW-Authenticate"] == "Bearer"


def test_me_shows_role_and_team(api: Api) -> None:
    alice, orga = api.account("alice"), api.organizer()
    assert api.client.get("/api/v1/me", headers=orga.headers).get_json()["role"] == "organizer"
    api.client.post("/api/v1/teams", json={"name": "pole-vaulters"}, headers=alice.headers)
    me = api.client.get("/api/v1/me", headers=alice.headers).get_json()
    assert (me["username"], me["role"], me["team"]) == ("alice", "participant", "pole-vaulters")


def test_sign_out_revokes_that_token_only(api: Api) -> None:
    api.account("alice")
    laptop = sign_in(api, "alice", "alice-password").get_json()["token"]
    desktop = sign_in(api, "alice", "alice-password").get_json()["token"]
    assert api.client.delete("/api/v1/tokens/current", headers=bearer(laptop)).status_code == 204
    assert "revoked" in error(api.client.get("/api/v1/me", headers=bearer(laptop)), 401)
    assert api.client.get("/api/v1/me", headers=bearer(desktop)).status_code == 200


def test_tokens_are_stored_only_as_their_sha256(api: Api, db: Database) -> None:
    api.account("alice")
    token = sign_in(api, "alice", "alice-password", name="laptop").get_json()["token"]
    with db.session() as session:
        rows = session.execute(sa.text("select * from api_token")).mappings().all()
    assert len(rows) == 2  # the fixture's token and this one
    for row in rows:
        assert all(token not in str(value) for value in row.values())
        assert token[len("aigc_") :] not in " ".join(str(value) for value in row.values())
    hashes = {row["token_hash"]: row["name"] for row in rows}
    assert hashes[hashlib.sha256(token.encode()).hexdigest()] == "laptop"


def test_a_token_keeps_its_last_use_to_the_minute_without_a_write_per_request(
    api: Api, db: Database
) -> None:
    """Reading with a token writes its last use once a minute at most: on SQLite a write
    waits its turn behind the workers' writes."""
    alice = api.account("alice")
    digest = hashlib.sha256(alice.token.encode()).hexdigest()

    def last_used() -> datetime | None:
        with db.session() as session:
            return session.scalar(
                sa.select(ApiToken.last_used_at).where(ApiToken.token_hash == digest)
            )

    assert api.client.get("/api/v1/me", headers=alice.headers).status_code == 200
    first = last_used()
    assert first is not None
    assert api.client.get("/api/v1/me", headers=alice.headers).status_code == 200
    assert last_used() == first  # within the minute: left as it was
    with db.session() as session:  # a minute and more ago
        session.execute(
            sa.update(ApiToken)
            .where(ApiToken.token_hash == digest)
            .values(last_used_at=first - timedelta(minutes=2))
        )
    assert api.client.get("/api/v1/me", headers=alice.headers).status_code == 200
    assert last_used() > first - timedelta(minutes=1)


# --- teams ------------------------------------------------------------------------------


def create_team(api: Api, who: Account, name: str) -> Any:
    return api.client.post("/api/v1/teams", json={"name": name}, headers=who.headers)


def join_team(api: Api, who: Account, code: str) -> Any:
    return api.client.post("/api/v1/teams/join", json={"code": code}, headers=who.headers)


def test_create_team_answers_201_with_a_join_code(api: Api) -> None:
    alice = api.account("alice")
    response = create_team(api, alice, "  pole-vaulters  ")
    assert response.status_code == 201
    team = response.get_json()
    assert team["name"] == "pole-vaulters"
    assert team["members"] == ["alice"]
    assert len(team["join_code"]) >= 12
    shown = api.client.get("/api/v1/me/team", headers=alice.headers)
    assert shown.get_json() == team


def test_team_name_of_wrong_length_is_400(api: Api) -> None:
    alice = api.account("alice")
    for name in ("x", " x ", "y" * 65, "   "):
        assert "2 to 64 characters" in error(create_team(api, alice, name), 400), name
    assert "'name' is missing" in error(create_team(api, alice, ""), 400)


def test_team_name_taken_and_second_team_are_409(api: Api) -> None:
    alice, bob = api.account("alice"), api.account("bob")
    assert create_team(api, alice, "pole-vaulters").status_code == 201
    assert "taken" in error(create_team(api, bob, "pole-vaulters"), 409)
    assert "leave it first" in error(create_team(api, alice, "second-team"), 409)


def test_join_by_code_shows_every_member_and_a_wrong_code_is_404(api: Api) -> None:
    alice, bob, carol = api.account("alice"), api.account("bob"), api.account("carol")
    code = create_team(api, alice, "pole-vaulters").get_json()["join_code"]
    assert "no team has this join code" in error(join_team(api, carol, code + "x"), 404)
    joined = join_team(api, bob, code)
    assert joined.status_code == 200
    assert joined.get_json()["members"] == ["alice", "bob"]
    for who in (alice, bob):
        team = api.client.get("/api/v1/me/team", headers=who.headers).get_json()
        assert (team["members"], team["join_code"]) == (["alice", "bob"], code)
    assert "leave it first" in error(join_team(api, bob, code), 409)


def test_leave_team_answers_204_and_the_team_keeps_its_other_members(api: Api) -> None:
    alice, bob = api.account("alice"), api.account("bob")
    code = create_team(api, alice, "pole-vaulters").get_json()["join_code"]
    join_team(api, bob, code)
    assert api.client.delete("/api/v1/me/team", headers=bob.headers).status_code == 204
    assert "in no team" in error(api.client.get("/api/v1/me/team", headers=bob.headers), 404)
    assert "in no team" in error(api.client.delete("/api/v1/me/team", headers=bob.headers), 404)
    team = api.client.get("/api/v1/me/team", headers=alice.headers).get_json()
    assert team["members"] == ["alice"]
    # Having left, bob may found a team of his own.
    assert create_team(api, bob, "bobs").status_code == 201


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_team_shares_the_daily_quota(api: Api) -> None:
    orga = api.organizer()
    created = api.client.post(
        "/api/v1/challenges",
        data=QUOTA_CHALLENGE,
        content_type="application/yaml",
        headers=orga.headers,
    )
    assert created.status_code == 201, created.get_json()
    alice, bob, carol = api.account("alice"), api.account("bob"), api.account("carol")
    code = create_team(api, alice, "pole-vaulters").get_json()["join_code"]
    join_team(api, bob, code)
    package = zip_agent("good")

    first = api.upload(alice, package, "quota-pole")
    assert first.status_code == 201
    assert first.get_json()["team"] == "pole-vaulters"
    assert api.upload(bob, package, "quota-pole").status_code == 201
    for who in (alice, bob):
        refused = api.upload(who, package, "quota-pole")
        message = error(refused, 429)
        assert "team 'pole-vaulters'" in message
        retry_at = _time(refused.get_json()["error"]["retry_at"])
        assert retry_at == _time(first.get_json()["created_at"]) + timedelta(hours=24)
    # carol is in no team: her quota is her own.
    assert api.upload(carol, package, "quota-pole").status_code == 201


def test_creating_a_team_does_not_reset_the_daily_quota(api: Api) -> None:
    orga, alice = api.organizer(), api.account("alice")
    api.client.post(
        "/api/v1/challenges",
        data=QUOTA_CHALLENGE,
        content_type="application/yaml",
        headers=orga.headers,
    )
    package = zip_agent("good")
    assert [api.upload(alice, package, "quota-pole").status_code for _ in range(3)] == [
        201,
        201,
        429,
    ]
    assert create_team(api, alice, "fresh-start").status_code == 201
    error(api.upload(alice, package, "quota-pole"), 429)
