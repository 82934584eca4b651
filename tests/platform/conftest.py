"""Fixtures for the platform: settings and a migrated database, an app, accounts, packages.

The databases of each kind and Redis come from the fixtures in tests/conftest.py.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from aigc.platform import auth
from aigc.platform import worker_run as ev
from aigc.platform.db import Database
from aigc.platform.models import ORGANIZER, PARTICIPANT
from aigc.platform.settings import Settings
from aigc.platform.startup import prepare_database, start
from aigc.submissions.metrics import MetricsSpec
from aigc.submissions.results import EpisodeResult, EvaluationResult, Failure
from tests.servers import free_port  # noqa: F401 (the tests of this folder take it from here)

AGENTS = Path(__file__).parents[1] / "submissions" / "agents"
HOSTILE = Path(__file__).parents[1] / "submissions" / "hostile"


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """One hashing round instead of scrypt: accounts cost a millisecond, not a tenth of a second.

    Only in this test process: servers the tests start keep the real hashing.
    """
    monkeypatch.setattr(
        auth, "generate_password_hash", partial(generate_password_hash, method="pbkdf2:sha256:1")
    )


def error(response: Any, status: int) -> str:
    """Check a JSON error response of this status and return its message."""
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["error"]["status"] == status
    return str(body["error"]["message"])


@pytest.fixture
def short_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a short path: Unix socket paths in it stay under their 108-byte limit."""
    return tmp_path_factory.mktemp("s")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        broker_url=None,
        storage_dir=tmp_path / "storage",
        sandbox="local",
        secret_key="test-secret-key",
        workers=2,
        max_upload_bytes=2 * 2**20,
        max_package_bytes=2 * 2**20,
        max_attempts=3,
        max_evaluation_seconds=600,
        lease_seconds=5,
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    """The migrated database with the built-in challenges loaded, as start-up leaves it."""
    database = prepare_database(settings)
    yield database
    database.dispose()


class RecordingQueue:
    """Keeps the ids it is given; tests run the evaluations they want themselves."""

    def __init__(self) -> None:
        self.enqueued: list[int] = []
        self.renders: list[tuple[int, int]] = []

    def enqueue(self, submission_id: int) -> None:
        self.enqueued.append(submission_id)

    def render(self, submission_id: int, index: int) -> None:
        self.renders.append((submission_id, index))

    def close(self) -> None:
        pass


@dataclass
class Account:
    username: str
    password: str
    token: str
    role: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Api:
    """A test client with helpers to make accounts and upload packages."""

    def __init__(self, app: Flask, db: Database):
        self.app, self.db = app, db
        self.client: FlaskClient = app.test_client()
        self.queue: RecordingQueue = app.extensions["aigc"].queue

    def account(self, username: str, role: str = PARTICIPANT) -> Account:
        password = f"{username}-password"
        with self.db.session() as session:
            user = auth.create_user(session, username, password, role)
            token = auth.issue_token(session, user)
        return Account(username, password, token, role)

    def organizer(self, username: str = "orga") -> Account:
        return self.account(username, ORGANIZER)

    def upload(
        self,
        who: Account | None,
        data: bytes,
        challenge: str = "cartpole",
        phase: str = "dev",
        filename: str = "agent.zip",
    ):
        return self.client.post(
            "/api/v1/submissions",
            data={"challenge": challenge, "phase": phase, "file": (io.BytesIO(data), filename)},
            headers=who.headers if who else {},
            content_type="multipart/form-data",
        )


@pytest.fixture
def app(settings: Settings, db: Database) -> Flask:
    return start(settings, queue=RecordingQueue()).app


@pytest.fixture
def api(app: Flask, db: Database) -> Api:
    return Api(app, db)


def zip_agent(name: str, top_folder: str | None = None) -> bytes:
    """Zip a test agent package from tests/submissions/agents."""
    return zip_folder(AGENTS / name, top_folder)


def zip_hostile(name: str) -> bytes:
    """Zip a hostile agent package from tests/submissions/hostile."""
    return zip_folder(HOSTILE / name)


def zip_folder(folder: Path, top_folder: str | None = None) -> bytes:
    """Zip the files of a package folder."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                zf.write(path, f"{top_folder}/{path.name}" if top_folder else path.name)
    return buffer.getvalue()


CARTPOLE_METRICS = MetricsSpec(
    primary="mean_return", report=("mean_return", "std_return"), tie_breaker="std_return"
)


def scored(
    api: Api, who: Account, returns: list[float], phase: str = "dev", failure: Failure | None = None
) -> int:
    """Upload, then store a result with these episode returns; return the submission id."""
    response = api.upload(who, zip_agent("good"), phase=phase)
    assert response.status_code == 201, response.json
    submission_id = response.json["id"]
    held = ev.claim(api.db, submission_id, 60, "test")
    episodes = [
        EpisodeResult(i, 1000 + i, r, int(r), 0.01, False, True, None)
        for i, r in enumerate(returns)
    ]
    mean = sum(returns) / len(returns) if returns else None
    result = EvaluationResult(
        "cartpole",
        phase,
        "good",
        len(returns),
        episodes=episodes,
        metrics={"mean_return": mean},
        failure=failure,
    )
    assert ev.record_result(api.db, held, result, CARTPOLE_METRICS)
    return submission_id


# Sign-ups the API refuses, each with words of its one-line reason.
BAD_SIGN_UPS = [
    ({"username": "al", "password": "long-enough"}, "3 to 32 letters"),
    ({"username": "bad name!", "password": "long-enough"}, "3 to 32 letters"),
    ({"username": "-dash-first", "password": "long-enough"}, "starting with a letter"),
    ({"username": "a" * 33, "password": "long-enough"}, "3 to 32 letters"),
    ({"username": "alice", "password": "short"}, "at least 8 characters"),
    ({"username": "alice"}, "'password' is missing"),
    ({"password": "long-enough"}, "'username' is missing"),
    ({"username": 42, "password": "long-enough"}, "'username' is missing or not text"),
    (["alice", "long-enough"], "send a JSON object"),
]

# A challenge whose phase takes two submissions a day.
QUOTA_CHALLENGE = """\
id: quota-pole
title: Two a day
environment: {id: CartPole-v1}
phases:
  - {id: dev, episodes: 1, seeds: [7]}
quotas: {per_day: 2}
"""
