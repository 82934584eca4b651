"""Who may call what: every API route against four callers, and what each caller sees.

The world and the table of every route with the status each caller gets are in
:mod:`tests.platform.route_table`; a route missing from it fails
``test_every_route_is_in_the_table``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from aigc.platform import auth
from aigc.platform.api import register, route_docs
from aigc.platform.api.routes import documented
from aigc.platform.models import Submission, User
from aigc.platform.visibility import HIDDEN_FAILURES, HIDDEN_NOTE
from aigc.platform.worker_run import run_submission
from aigc.submissions import results
from aigc.submissions.sandbox import LocalSandbox

from .conftest import Account, Api, zip_agent, zip_hostile
from .forms import signed_in
from .route_table import (
    ALICE_FILENAME,
    ANONYMOUS,
    CALLERS,
    CASE_BY_ROUTE,
    CASES,
    DEV_LOGS,
    HIDDEN_LOGS,
    OTHER,
    OWNER,
    SECRET_FAILURE,
    World,
    build_world,
)


@pytest.fixture
def world(api: Api) -> World:
    return build_world(api)


def _declared(method: str, rule: str) -> Any:
    return next(doc for doc in route_docs() if (doc.method, doc.rule) == (method, rule))


def _assert_error_shape(response: Any, status: int) -> None:
    body = response.get_json()
    assert body is not None, f"{status} without a JSON body"
    assert body["error"]["status"] == status
    assert body["error"]["message"]
    if status == 401:
        assert response.headers.get("WWW-Authenticate") == "Bearer"


# --- the table ------------------------------------------------------------------------


def registered_routes() -> list[Any]:
    """Every route the API registers on an app."""
    app = Flask("routes")
    register(app)
    return documented(app)


def test_every_route_is_in_the_table() -> None:
    registered = {(doc.method, doc.rule) for doc in registered_routes()}
    tabled = {(case.method, case.rule) for case in CASES}
    assert registered - tabled == set(), "add a row to CASES for each new route"
    assert tabled - registered == set(), "CASES names routes that no longer exist"
    assert len(CASES) == len(CASE_BY_ROUTE), "a route is in CASES twice"


def test_table_agrees_with_each_routes_declared_access() -> None:
    registered_routes()
    for case in CASES:
        access = _declared(case.method, case.rule).access
        if access == "anyone":
            assert all(case.expected(c) < 400 for c in CALLERS), case.id
        else:
            assert case.anonymous == 401, case.id
            assert case.organizer < 400, case.id
            participants = {case.other, case.owner}
            assert (403 in participants) == (access == "organizer"), case.id


def _fresh_tokens_and_no_teams(world: World) -> None:
    """Undo what earlier rows did to the callers: revoked tokens, teams joined."""
    with world.api.db.session() as session:
        for name in ("alice", "bob", "orga"):
            user = session.scalars(select(User).where(User.username == name)).one()
            user.team = None
            old = getattr(world, name)
            setattr(
                world, name, Account(name, old.password, auth.issue_token(session, user), old.role)
            )


def test_every_route_answers_each_caller_as_the_table_says(world: World) -> None:
    wrong = {}
    for case in CASES:
        _fresh_tokens_and_no_teams(world)
        if case.prepare:
            case.prepare(world)
        for caller in CALLERS:
            response = case.call(world, caller)
            if response.status_code != case.expected(caller):
                wrong[f"{case.id} as {caller}"] = (response.status_code, response.get_json())
            elif response.status_code >= 400:
                _assert_error_shape(response, response.status_code)
    assert wrong == {}, "(status, body) of each cell that differs from CASES"


# --- anonymous, bad and revoked tokens ------------------------------------------------


def test_signed_in_routes_answer_anonymous_and_unknown_tokens_with_401(world: World) -> None:
    bogus = {"Authorization": "Bearer aigc_not-a-token-anyone-was-given"}
    for case in CASES:
        if _declared(case.method, case.rule).access == "anyone":
            continue
        anonymous = case.call(world, ANONYMOUS)
        unknown = world.api.client.open(
            case.path(world), method=case.method, headers=bogus, **case.kwargs(world, OWNER)
        )
        for response, message in ((anonymous, "sign in first"), (unknown, "invalid or revoked")):
            assert response.status_code == 401, case.id
            assert response.headers["WWW-Authenticate"] == "Bearer", case.id
            assert message in response.get_json()["error"]["message"], case.id


def test_token_and_role_are_checked_before_the_request_body(world: World) -> None:
    wrong = {}
    for case in CASES:
        access = _declared(case.method, case.rule).access
        if access == "anyone":
            continue
        anonymous = world.api.client.open(case.path(world), method=case.method)
        if anonymous.status_code != 401:
            wrong[f"{case.id} as anonymous"] = anonymous.status_code
        if access == "organizer":
            participant = world.api.client.open(
                case.path(world), method=case.method, headers=world.bob.headers
            )
            if participant.status_code != 403:
                wrong[f"{case.id} as participant"] = participant.status_code
    assert wrong == {}


def test_a_revoked_token_gets_401_afterwards(world: World) -> None:
    client, alice = world.api.client, world.alice
    second = client.post(
        "/api/v1/tokens", json={"username": "alice", "password": alice.password}
    ).get_json()["token"]
    assert client.delete("/api/v1/tokens/current", headers=alice.headers).status_code == 204
    for path in ("/api/v1/me", f"/api/v1/submissions/{world.ids['dev']}"):
        response = client.get(path, headers=alice.headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "revoked" in response.get_json()["error"]["message"]
    # Revoking a second time is refused too; alice's other token still works.
    assert client.delete("/api/v1/tokens/current", headers=alice.headers).status_code == 401
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {second}"})
    assert me.status_code == 200
    assert me.get_json()["username"] == "alice"


def test_participants_get_403_on_every_organizer_route(world: World) -> None:
    for case in CASES:
        if _declared(case.method, case.rule).access != "organizer":
            continue
        for caller in (OWNER, OTHER):
            response = case.call(world, caller)
            assert response.status_code == 403, (case.id, caller)
            assert response.get_json()["error"]["message"] == "only organizers may do this"


# --- bob never sees alice's submissions -----------------------------------------------


def _alice_marks(world: World) -> list[str]:
    return ["alice", world.sha256, ALICE_FILENAME, DEV_LOGS, HIDDEN_LOGS, SECRET_FAILURE]


def _assert_nothing_of_alice(world: World, response: Any, what: str) -> None:
    text = response.get_data(as_text=True)
    for mark in _alice_marks(world):
        assert mark not in text, f"{what} shows bob {mark!r}"


def test_other_participant_gets_404_for_alices_submission_logs_and_package(
    world: World,
) -> None:
    client, bob = world.api.client, world.bob
    for key, submission_id in world.ids.items():
        for suffix, method in (("", "GET"), ("/logs", "GET"), ("/package", "GET")):
            path = f"/api/v1/submissions/{submission_id}{suffix}"
            response = client.open(path, method=method, headers=bob.headers)
            assert response.status_code == 404, (key, suffix)
            assert response.mimetype == "application/json", (key, suffix)
            _assert_nothing_of_alice(world, response, f"{method} {path}")
        cancel = client.post(f"/api/v1/submissions/{submission_id}/cancel", headers=bob.headers)
        assert cancel.status_code == 404
        _assert_nothing_of_alice(world, cancel, "cancel")
        for action, body in (("rerun", None), ("disqualify", {"reason": "spite"})):
            response = client.post(
                f"/api/v1/submissions/{submission_id}/{action}", json=body, headers=bob.headers
            )
            assert response.status_code == 403
            _assert_nothing_of_alice(world, response, action)
    with world.api.db.session() as session:
        running = session.get_one(Submission, world.ids["running"])
        assert running.cancel_requested is False  # bob's cancel changed nothing
        assert not any(s.disqualified for s in session.query(Submission))
    # The 404 is the one a submission that does not exist gets: it gives away nothing.
    missing = 10_000 + world.ids["running"]
    for suffix in ("", "/logs", "/package"):
        mine = client.get(f"/api/v1/submissions/{world.ids['dev']}{suffix}", headers=bob.headers)
        none = client.get(f"/api/v1/submissions/{missing}{suffix}", headers=bob.headers)
        assert mine.status_code == none.status_code == 404
        assert json.dumps(mine.get_json()).replace(str(world.ids["dev"]), "N") == json.dumps(
            none.get_json()
        ).replace(str(missing), "N")


def test_other_participant_lists_none_of_alices_submissions(world: World) -> None:
    client, bob = world.api.client, world.bob
    assert world.api.upload(bob, zip_agent("good")).status_code == 201
    for query in ("", "?all=1", "?challenge=cartpole", "?phase=test", "?limit=1000"):
        response = client.get(f"/api/v1/submissions{query}", headers=bob.headers)
        assert response.status_code == 200
        users = {s["user"] for s in response.get_json()["submissions"]}
        assert users <= {"bob"}, query
        _assert_nothing_of_alice(world, response, f"GET /submissions{query}")


def test_owner_sees_her_submission_logs_and_package(world: World) -> None:
    client, alice = world.api.client, world.alice
    dev = client.get(f"/api/v1/submissions/{world.ids['dev']}", headers=alice.headers).get_json()
    assert dev["user"] == "alice"
    assert dev["status"] == "finished"
    assert dev["details_hidden"] is False
    assert dev["package"]["sha256"] == world.sha256
    assert dev["result"]["score"] == 42.0
    assert dev["result"]["episodes"][0]["seed"] == 918273645
    logs = client.get(f"/api/v1/submissions/{world.ids['dev']}/logs", headers=alice.headers)
    assert logs.get_json() == {"id": world.ids["dev"], "logs": DEV_LOGS, "hidden": False}
    package = client.get(f"/api/v1/submissions/{world.ids['dev']}/package", headers=alice.headers)
    assert package.status_code == 200
    assert package.data == world.alice_package
    assert ALICE_FILENAME in package.headers["Content-Disposition"]
    listed = client.get("/api/v1/submissions", headers=alice.headers).get_json()["submissions"]
    assert sorted(s["id"] for s in listed) == sorted(world.ids.values())
    # On a public phase the owner reads the agent's own failure message.
    with world.api.db.session() as session:
        submission = session.get_one(Submission, world.ids["dev"])
        submission.failure_code, submission.failure_message = results.AGENT_ERROR, SECRET_FAILURE
    shown = client.get(f"/api/v1/submissions/{world.ids['dev']}", headers=alice.headers)
    assert shown.get_json()["failure"]["message"] == SECRET_FAILURE


def test_organizer_sees_everyones_submissions(world: World) -> None:
    client, orga = world.api.client, world.orga
    bobs = world.api.upload(world.bob, zip_agent("good")).get_json()["id"]
    everyone = client.get("/api/v1/submissions?all=1", headers=orga.headers).get_json()
    assert sorted(s["id"] for s in everyone["submissions"]) == sorted([*world.ids.values(), bobs])
    # Without all=1 an organizer lists only their own (none here).
    assert client.get("/api/v1/submissions", headers=orga.headers).get_json() == {"submissions": []}
    for submission_id, user in ((world.ids["dev"], "alice"), (bobs, "bob")):
        shown = client.get(f"/api/v1/submissions/{submission_id}", headers=orga.headers)
        assert shown.status_code == 200
        assert shown.get_json()["user"] == user
        for suffix in ("/logs", "/package"):
            response = client.get(
                f"/api/v1/submissions/{submission_id}{suffix}", headers=orga.headers
            )
            assert response.status_code == 200, (user, suffix)


# --- hidden phases --------------------------------------------------------------------


def test_owner_sees_hidden_phase_status_but_no_result_logs_or_failure_text(world: World) -> None:
    client, alice, hidden = world.api.client, world.alice, world.ids["hidden"]
    shown = client.get(f"/api/v1/submissions/{hidden}", headers=alice.headers)
    body = shown.get_json()
    assert body["status"] == "failed"
    assert body["phase"] == "test"
    assert body["result"] is None
    assert body["details_hidden"] is True
    assert body["failure"] == {
        "code": results.AGENT_ERROR,
        "message": f"{HIDDEN_FAILURES[results.AGENT_ERROR]} ({HIDDEN_NOTE})",
    }
    logs = client.get(f"/api/v1/submissions/{hidden}/logs", headers=alice.headers).get_json()
    assert logs == {"id": hidden, "logs": "", "hidden": True, "note": HIDDEN_NOTE}
    listed = client.get("/api/v1/submissions?phase=test", headers=alice.headers)
    assert [s["result"] for s in listed.get_json()["submissions"]] == [None]
    for response in (shown, listed):
        text = response.get_data(as_text=True)
        for secret in (SECRET_FAILURE, HIDDEN_LOGS, "918273645"):
            assert secret not in text
    # Whatever the agent did wrong, its owner reads the fixed text and never its own message.
    for code, fixed in HIDDEN_FAILURES.items():
        with world.api.db.session() as session:
            session.get_one(Submission, hidden).failure_code = code
        failure = client.get(f"/api/v1/submissions/{hidden}", headers=alice.headers).get_json()
        assert failure["failure"] == {"code": code, "message": f"{fixed} ({HIDDEN_NOTE})"}


def test_organizer_sees_everything_of_a_hidden_phase_submission(world: World) -> None:
    client, orga, hidden = world.api.client, world.orga, world.ids["hidden"]
    body = client.get(f"/api/v1/submissions/{hidden}", headers=orga.headers).get_json()
    assert body["details_hidden"] is False
    assert body["failure"] == {"code": results.AGENT_ERROR, "message": SECRET_FAILURE}
    assert body["result"]["episodes"][0]["seed"] == 918273645
    logs = client.get(f"/api/v1/submissions/{hidden}/logs", headers=orga.headers).get_json()
    assert logs == {"id": hidden, "logs": HIDDEN_LOGS, "hidden": False}


def test_owner_sees_no_progress_or_fine_timing_of_a_hidden_phase(world: World) -> None:
    """An agent could encode what it observed as how far it got or how long it ran."""
    api, alice, orga, hidden = world.api, world.alice, world.orga, world.ids["hidden"]
    started = datetime(2026, 12, 1, 10, 15, 37, 123456, tzinfo=UTC)
    finished = datetime(2026, 12, 1, 10, 16, 41, 654321, tzinfo=UTC)
    with api.db.session() as session:
        row = session.get_one(Submission, hidden)
        row.episodes_done, row.started_at, row.finished_at = 37, started, finished
    body = api.client.get(f"/api/v1/submissions/{hidden}", headers=alice.headers).get_json()
    assert body["episodes_done"] is None
    assert (body["started_at"], body["finished_at"]) == (
        "2026-12-01T10:15:00Z",
        "2026-12-01T10:16:00Z",
    )
    listed = api.client.get("/api/v1/submissions?phase=test", headers=alice.headers)
    assert [s["episodes_done"] for s in listed.get_json()["submissions"]] == [None]
    browser = signed_in(api, alice)
    live = browser.get("/my/submissions.json").get_json()["submissions"]
    assert [r["episodes_done"] for r in live if r["id"] == hidden] == [None]
    page = browser.get(f"/my/submissions/{hidden}").get_data(as_text=True)
    assert "37 / 500" not in page and ":37" not in page and "10:15 UTC" in page
    # Public phases and organizers keep the counter and the exact times.
    dev = api.client.get(f"/api/v1/submissions/{world.ids['dev']}", headers=alice.headers)
    assert dev.get_json()["episodes_done"] == 1
    seen = api.client.get(f"/api/v1/submissions/{hidden}", headers=orga.headers).get_json()
    assert seen["episodes_done"] == 37 and seen["started_at"] == "2026-12-01T10:15:37.123456Z"


def test_a_hidden_phase_agent_cannot_signal_through_where_it_fails(api: Api) -> None:
    p = api.app.extensions["aigc"]
    alice, orga = api.account("alice"), api.organizer("orga")
    response = api.upload(alice, zip_hostile("hidden_leak"), "cartpole", "test")
    assert response.status_code == 201, response.get_json()
    number = response.get_json()["id"]
    run_submission(p.db, p.settings, p.store, number, LocalSandbox)
    told = api.client.get(f"/api/v1/submissions/{number}", headers=orga.headers).get_json()
    secret = told["episodes_done"]  # what the agent encoded: organizers see it
    assert told["failure"]["code"] == results.AGENT_ERROR and secret >= 1
    assert f"leaving after episode {secret}" in told["failure"]["message"]
    body = api.client.get(f"/api/v1/submissions/{number}", headers=alice.headers).get_json()
    assert body["status"] == "failed" and body["failure"]["code"] == results.AGENT_ERROR
    assert body["episodes_done"] is None and body["result"] is None
    assert body["failure"]["message"] == f"{HIDDEN_FAILURES[results.AGENT_ERROR]} ({HIDDEN_NOTE})"
    for moment in (body["started_at"], body["finished_at"]):
        assert moment.endswith(":00Z"), moment
