"""Text from outside is storable on every database: NUL bytes and lone surrogates included.

PostgreSQL refuses NUL in text. Before text was made storable at the storage boundary, an
agent that printed one byte 0 left its submission running, evaluated again and again until
it failed as the platform's fault, and a NUL in a team name, a filename or a query filter
answered 500. Every test here runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import io

from sqlalchemy import select

from aigc.platform import worker_run as ev
from aigc.platform.models import Evaluation, Submission, Team
from aigc.platform.statuses import SubmissionStatus as Status
from aigc.safe_text import REPLACEMENT
from aigc.submissions.results import AGENT_ERROR, EvaluationResult, Failure
from aigc.submissions.sandbox import LocalSandbox

from .conftest import zip_agent, zip_hostile

HOSTILE_TEXT = "nul:\x00 surrogate:\udc80 every byte:" + "".join(map(chr, range(256)))


def state(db, submission_id: int) -> Submission:
    with db.session() as session:
        return session.get_one(Submission, submission_id)


def test_an_agent_that_prints_every_byte_is_scored_once(api):
    platform = api.app.extensions["aigc"]
    response = api.upload(api.account("alice"), zip_hostile("binary_output"))
    assert response.status_code == 201, response.json
    submission_id = response.json["id"]
    outcome = ev.run_submission(
        platform.db, platform.settings, platform.store, submission_id, LocalSandbox
    )
    assert outcome == ev.DONE
    row = state(platform.db, submission_id)
    # Scored on its first attempt, as the agent's own run: not a platform failure.
    assert row.status == Status.FINISHED and row.attempts == 1 and not row.platform_failure
    assert "\x00" not in row.logs and REPLACEMENT in row.logs
    assert "PASSED all checks" in row.logs and "stderr:" in row.logs


def test_a_result_with_unstorable_text_is_recorded(api):
    platform = api.app.extensions["aigc"]
    submission_id = api.upload(api.account("bob"), zip_agent("good")).json["id"]
    held = ev.claim(platform.db, submission_id, 60, "worker")
    assert held is not None
    result = EvaluationResult("cartpole", "dev", "good", 100, logs=HOSTILE_TEXT)
    result.failure = Failure(AGENT_ERROR, HOSTILE_TEXT)
    assert ev.record_result(platform.db, held, result)
    row = state(platform.db, submission_id)
    assert row.status == Status.FAILED and row.failure_code == AGENT_ERROR
    for text in (row.logs, row.failure_message):
        assert text.startswith(f"nul:{REPLACEMENT} surrogate:{REPLACEMENT} every byte:")
        assert "\x00" not in text and "\x01" in text  # only what cannot be stored changes
    with platform.db.session() as session:
        stored = session.scalar(select(Evaluation).where(Evaluation.submission_id == submission_id))
        assert stored is not None


def test_a_team_name_with_a_nul_byte_is_stored(api):
    carol = api.account("carol")
    response = api.client.post("/api/v1/teams", json={"name": "a\x00team"}, headers=carol.headers)
    assert response.status_code == 201, response.json
    with api.db.session() as session:
        assert session.scalar(select(Team.name)) == f"a{REPLACEMENT}team"
    # The same name again is the same team name: taken.
    dave = api.account("dave")
    again = api.client.post("/api/v1/teams", json={"name": "a\x00team"}, headers=dave.headers)
    assert again.status_code == 409
    shown = api.client.get("/api/v1/me/team", headers=carol.headers)
    assert shown.json["name"] == f"a{REPLACEMENT}team"


def test_an_upload_filename_with_a_nul_byte_is_stored(api):
    response = api.upload(api.account("erin"), zip_agent("good"), filename="ag\x00ent.zip")
    assert response.status_code == 201, response.json
    with api.db.session() as session:
        filename = session.scalar(select(Submission.filename))
    assert filename is not None and "\x00" not in filename and filename.endswith("ent.zip")


def test_query_filters_with_a_nul_byte_find_nothing(api):
    frank = api.account("frank")
    api.upload(frank, zip_agent("good"))
    for query in ("phase=d%00ev", "challenge=cart%00pole", "phase=%ED%A0%80"):
        response = api.client.get(f"/api/v1/submissions?{query}", headers=frank.headers)
        assert response.status_code == 200, (query, response.json)
        assert response.json["submissions"] == []
    board = api.client.get("/api/v1/challenges/cartpole/leaderboard?phase=d%00ev")
    assert board.status_code < 500


def test_web_pages_take_a_nul_byte_in_their_parameters(api):
    for path in ("/challenges/cart%00pole", "/challenges/cartpole/leaderboard?phase=d%00ev"):
        assert api.client.get(path).status_code < 500, path
    form = {"username": "gr\x00ace", "password": "a-long-password"}
    assert api.client.post("/login", data=form).status_code < 500
    signup = {"username": "he\x00nry", "password": "a-long-password", "confirm": "a-long-password"}
    assert api.client.post("/signup", data=signup).status_code < 500
    # A multipart upload whose filename holds a NUL byte.
    data = {"file": (io.BytesIO(zip_agent("good")), "a\x00.zip")}
    assert api.client.post("/submit", data=data).status_code < 500
