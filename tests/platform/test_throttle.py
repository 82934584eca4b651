"""Throttled sign-ins and sign-ups: per username and per client address, in the database.

A refused attempt is a 429 with Retry-After (API and pages) and costs no password hash; an
unknown username costs exactly the hash a known one does, so neither time nor throttle tells
which names exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import select

from aigc.platform import auth
from aigc.platform.db import Database
from aigc.platform.models import Attempt, User
from aigc.platform.settings import Settings
from aigc.platform.startup import start
from aigc.platform.throttle import SIGN_IN_PER_ADDRESS, SIGN_IN_PER_USERNAME
from tests.servers import ServerProcess, create_user, platform_env

from .conftest import QUOTA_CHALLENGE, Api, RecordingQueue, error, zip_agent
from .forms import text, token

PER_USERNAME, PER_ADDRESS = SIGN_IN_PER_USERNAME.count, SIGN_IN_PER_ADDRESS.count
ERROR_LINE = re.compile(r'<p class="error"[^>]*>(.*?)</p>', re.S)


def sign_in(client: FlaskClient, username: str, password: str, address: str = "127.0.0.1") -> Any:
    return client.post(
        "/api/v1/tokens",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def sign_up(client: FlaskClient, username: str, address: str = "127.0.0.1") -> Any:
    return client.post(
        "/api/v1/users",
        json={"username": username, "password": "long-enough"},
        environ_base={"REMOTE_ADDR": address},
    )


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stored hashes each password check was computed against, in order."""
    calls: list[str] = []
    real: Callable[[str, str], bool] = auth.check_password_hash

    def counted(stored: str, password: str) -> bool:
        calls.append(stored)
        return real(stored, password)

    monkeypatch.setattr(auth, "check_password_hash", counted)
    return calls


def time_passes(db: Database, by: timedelta) -> None:
    """Move every counted attempt back in time."""
    with db.session() as session:
        for row in session.scalars(select(Attempt)):
            row.at -= by


def retry_after(response: Any) -> int:
    value = int(response.headers["Retry-After"])
    assert value >= 1
    return value


@pytest.mark.hostile
def test_failed_sign_ins_for_one_username_are_refused_before_any_hash(
    api: Api, hashes: list[str]
) -> None:
    alice, bob = api.account("alice"), api.account("bob")
    # From a different address each time: the username's own count stops them.
    for n in range(PER_USERNAME):
        assert sign_in(api.client, "alice", f"guess-{n}", f"127.0.1.{n}").status_code == 401
    assert len(hashes) == PER_USERNAME
    hashes.clear()

    refused = sign_in(api.client, "alice", alice.password, "127.0.2.1")
    message = error(refused, 429)
    assert message.startswith("too many failed sign-ins for this username: try again in ")
    assert 0 < retry_after(refused) <= 15 * 60
    assert refused.get_json()["error"]["retry_at"].endswith("Z")
    assert hashes == []  # refused before any password was hashed
    # Another name from the same addresses is not held up.
    assert sign_in(api.client, "bob", bob.password, "127.0.1.0").status_code == 201

    time_passes(api.db, timedelta(minutes=15))
    assert sign_in(api.client, "alice", alice.password, "127.0.2.1").status_code == 201


@pytest.mark.hostile
def test_failed_sign_ins_from_one_address_are_refused_before_any_hash(
    api: Api, hashes: list[str]
) -> None:
    mallory = api.account("mallory")
    for n in range(PER_ADDRESS):
        assert sign_in(api.client, f"user-{n}", "guess", "127.0.0.9").status_code == 401
    hashes.clear()
    refused = sign_in(api.client, "mallory", mallory.password, "127.0.0.9")
    assert error(refused, 429).startswith("too many failed sign-ins from your address: ")
    retry_after(refused)
    assert hashes == []
    assert sign_in(api.client, "mallory", mallory.password, "127.0.0.10").status_code == 201


def test_signing_in_to_an_own_account_between_guesses_resets_no_count(api: Api) -> None:
    mallory = api.account("mallory")
    api.account("bob")
    guesses = 0
    # Guesses at bob's password, each followed by a sign-in mallory knows to succeed.
    for n in range(PER_USERNAME):
        assert sign_in(api.client, "bob", f"guess-{n}", "127.0.0.9").status_code == 401
        assert sign_in(api.client, "mallory", mallory.password, "127.0.0.9").status_code == 201
        guesses += 1
    error(sign_in(api.client, "bob", "guess-again", "127.0.0.9"), 429)
    # The same for the address: guesses at many names, mallory's sign-ins between them.
    while guesses < PER_ADDRESS:
        assert sign_in(api.client, "mallory", mallory.password, "127.0.0.9").status_code == 201
        assert sign_in(api.client, f"user-{guesses}", "guess", "127.0.0.9").status_code == 401
        guesses += 1
    assert "from your address" in error(sign_in(api.client, "carol", "guess", "127.0.0.9"), 429)
    assert "from your address" in error(
        sign_in(api.client, "mallory", mallory.password, "127.0.0.9"), 429
    )


@pytest.mark.hostile
def test_known_and_unknown_usernames_cost_one_hash_each(api: Api, hashes: list[str]) -> None:
    alice = api.account("alice")
    with api.db.session() as session:
        session.add(User(username="no-password", password_hash="!", role="participant"))
    answers = {}
    for username in ("alice", "nobody", "x", "no-password"):
        hashes.clear()
        answers[username] = error(sign_in(api.client, username, "wrong-password"), 401)
        assert len(hashes) == 1, username
    assert set(answers.values()) == {"wrong username or password"}
    hashes.clear()
    assert sign_in(api.client, "alice", alice.password).status_code == 201
    assert len(hashes) == 1


def test_at_most_the_limit_gets_through_when_attempts_arrive_at_once(
    api: Api, hashes: list[str]
) -> None:
    api.account("alice")

    def attempt(n: int) -> int:
        client = api.app.test_client()
        return int(sign_in(client, "alice", f"guess-{n}", f"127.0.3.{n}").status_code)

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(attempt, range(3 * PER_USERNAME)))
    assert set(statuses) == {401, 429}
    assert statuses.count(401) <= PER_USERNAME
    assert len(hashes) == statuses.count(401)


def test_the_login_page_is_throttled_with_a_one_line_message(api: Api, hashes: list[str]) -> None:
    alice = api.account("alice")
    browser = api.app.test_client()

    def log_in(password: str) -> Any:
        form = {"username": "alice", "password": password, "csrf_token": token(browser)}
        return browser.post("/login", data=form)

    for n in range(PER_USERNAME):
        assert log_in(f"guess-{n}").status_code == 400
    hashes.clear()
    refused = log_in(alice.password)
    assert refused.status_code == 429 and refused.mimetype == "text/html"
    assert 0 < retry_after(refused) <= 15 * 60
    shown = ERROR_LINE.findall(text(refused))
    assert len(shown) == 1 and "\n" not in shown[0].strip(), shown
    assert re.fullmatch(
        r"too many failed sign-ins for this username: try again in \d+ (minutes|seconds?)",
        shown[0].strip(),
    )
    assert hashes == []
    assert browser.get("/my/submissions").status_code == 302  # not signed in
    # The API counts the same attempts.
    error(sign_in(api.client, "alice", alice.password), 429)


@pytest.mark.hostile
def test_sign_ups_are_limited_per_address(settings: Settings, db: Database) -> None:
    app = start(settings.with_(signups_per_hour=3), queue=RecordingQueue()).app
    client = app.test_client()
    assert sign_up(client, "first", "127.0.0.5").status_code == 201
    assert sign_up(client, "first", "127.0.0.5").status_code == 409  # tries count too
    assert sign_up(client, "second", "127.0.0.5").status_code == 201
    refused = sign_up(client, "third", "127.0.0.5")
    assert error(refused, 429).startswith("too many sign-ups from your address: try again in ")
    assert 0 < retry_after(refused) <= 3600
    assert sign_up(client, "third", "127.0.0.6").status_code == 201

    browser = app.test_client()
    form = {"username": "fourth", "password": "long-enough", "confirm": "long-enough"}
    page = browser.post(
        "/signup",
        data={**form, "csrf_token": token(browser, "/signup")},
        environ_base={"REMOTE_ADDR": "127.0.0.5"},
    )
    assert page.status_code == 429 and retry_after(page) > 0
    assert "too many sign-ups from your address" in text(page)
    with db.session() as session:
        names = set(session.scalars(select(User.username)))
    assert names == {"first", "second", "third"}


def test_forwarded_addresses_count_only_behind_trusted_proxies(
    settings: Settings, db: Database
) -> None:
    def guesses(app_settings: Settings) -> Any:
        client = start(app_settings, queue=RecordingQueue()).app.test_client()
        for n in range(PER_ADDRESS):
            forged = {"X-Forwarded-For": f"127.0.4.{n}"}
            answer = client.post(
                "/api/v1/tokens", json={"username": f"u{n}", "password": "p"}, headers=forged
            )
            assert answer.status_code == 401
        return client.post(
            "/api/v1/tokens",
            json={"username": "last", "password": "p"},
            headers={"X-Forwarded-For": "127.0.4.250"},
        )

    # Without a trusted proxy the header is anyone's to write: it changes nothing.
    assert "from your address" in error(guesses(settings), 429)
    with db.session() as session:
        for row in session.scalars(select(Attempt)):
            session.delete(row)
    # Behind one trusted proxy, each forwarded address is counted on its own.
    assert guesses(settings.with_(trusted_proxies=1)).status_code == 401


def test_a_used_up_quota_says_when_to_retry_in_its_headers(api: Api) -> None:
    orga, alice = api.organizer(), api.account("alice")
    api.client.post(
        "/api/v1/challenges",
        data=QUOTA_CHALLENGE,
        content_type="application/yaml",
        headers=orga.headers,
    )
    for _ in range(2):
        assert api.upload(alice, zip_agent("good"), "quota-pole").status_code == 201
    refused = api.upload(alice, zip_agent("good"), "quota-pole")
    error(refused, 429)
    assert 23 * 3600 < retry_after(refused) <= 24 * 3600


@pytest.mark.slow
def test_every_server_process_shares_the_counts(
    database_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    short_tmp = tmp_path_factory.mktemp("s")  # agents' socket paths stay short
    env = platform_env(tmp_path / "data", database_url, TMPDIR=str(short_tmp))
    create_user(env, "alice", "alice-password")  # migrates the database
    first = ServerProcess(env, tmp_path / "first").wait_ready()
    second = ServerProcess(env, tmp_path / "second").wait_ready()
    try:
        for n in range(PER_USERNAME):
            server = (first, second)[n % 2]
            guess = {"username": "alice", "password": f"guess-{n}"}
            assert requests.post(server.api("/tokens"), json=guess, timeout=30).status_code == 401
        right = {"username": "alice", "password": "alice-password"}
        for server in (first, second):
            refused = requests.post(server.api("/tokens"), json=right, timeout=30)
            assert refused.status_code == 429, refused.text
            assert int(refused.headers["Retry-After"]) > 0
    finally:
        first.stop()
        second.stop()
