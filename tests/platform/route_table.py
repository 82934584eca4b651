"""The world and the table the access tests use: every API route, four callers, a status each.

The world: alice (the owner) has a finished submission on the public phase cartpole/dev, a
failed one on the hidden phase cartpole/test and a running one on dev; bob is another
participant; orga is an organizer. ``CASES`` lists every route in
``aigc.platform.api.route_docs()`` with the status each caller gets.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aigc.platform import challenges
from aigc.platform.models import Submission
from aigc.platform.worker_run import claim, record_result
from aigc.submissions import results
from aigc.submissions.results import EpisodeResult, EvaluationResult, Failure

from .conftest import Account, Api, zip_agent

ANONYMOUS, OTHER, OWNER, ORGANIZER = "anonymous", "other", "owner", "organizer"
CALLERS = (ANONYMOUS, OTHER, OWNER, ORGANIZER)  # also the order requests are made in

# What only alice's own submissions carry: none of it may reach bob.
DEV_LOGS = "alice-dev-log: the pole leans 0.0137 rad"
HIDDEN_LOGS = "alice-hidden-log: observation [0.031, -0.2, 0.044, 0.91] at seed 918273645"
SECRET_FAILURE = "ValueError: the agent saw observation [0.031, -0.2, 0.044, 0.91]"
ALICE_FILENAME = "alice-agent.zip"


@dataclass
class World:
    api: Api
    alice: Account
    bob: Account
    orga: Account
    alice_package: bytes
    ids: dict[str, int]  # dev (finished), hidden (failed, hidden phase), running (claimed)
    sha256: str = ""
    join_code: str = ""

    def account(self, caller: str) -> Account | None:
        return {ANONYMOUS: None, OTHER: self.bob, OWNER: self.alice, ORGANIZER: self.orga}[caller]

    def headers(self, caller: str) -> dict[str, str]:
        account = self.account(caller)
        return account.headers if account else {}


def _finish(api: Api, submission_id: int, result: EvaluationResult) -> None:
    p = api.app.extensions["aigc"]
    held = claim(p.db, submission_id, 60, "test-worker")
    assert held is not None
    assert record_result(p.db, held, result)


def build_world(api: Api) -> World:
    alice, bob, orga = api.account("alice"), api.account("bob"), api.organizer("orga")
    package = zip_agent("good", top_folder="alice-agent")  # bytes (and sha256) unlike bob's
    ids = {}
    for key, phase in (("dev", "dev"), ("hidden", "test"), ("running", "dev")):
        response = api.upload(alice, package, "cartpole", phase, filename=ALICE_FILENAME)
        assert response.status_code == 201, response.get_json()
        ids[key] = response.get_json()["id"]
    episode = EpisodeResult(0, 918273645, 42.0, 42, 0.1, True, False, False)
    _finish(
        api,
        ids["dev"],
        EvaluationResult(
            "cartpole", "dev", "good", 1, [episode], {"mean_return": 42.0}, logs=DEV_LOGS
        ),
    )
    _finish(
        api,
        ids["hidden"],
        EvaluationResult(
            "cartpole",
            "test",
            "good",
            500,
            [episode],
            {"mean_return": 42.0},
            failure=Failure(results.AGENT_ERROR, SECRET_FAILURE, 1, 3),
            logs=HIDDEN_LOGS,
        ),
    )
    p = api.app.extensions["aigc"]
    assert claim(p.db, ids["running"], 60, "test-worker") is not None
    with p.db.session() as session:
        sha256 = session.get_one(Submission, ids["dev"]).package_sha256
    return World(api, alice, bob, orga, package, ids, sha256)


# What each route is called with: (world, caller) -> keyword arguments of client.open.
Kwargs = Callable[[World, str], dict[str, Any]]


def _none(world: World, caller: str) -> dict[str, Any]:
    return {}


def _signup(world: World, caller: str) -> dict[str, Any]:
    return {"json": {"username": f"new-{caller}", "password": "a-long-password"}}


def _signin(world: World, caller: str) -> dict[str, Any]:
    account = world.account(caller) or world.alice
    return {"json": {"username": account.username, "password": account.password}}


def _team(world: World, caller: str) -> dict[str, Any]:
    return {"json": {"name": f"team-{caller}"}}


def _join(world: World, caller: str) -> dict[str, Any]:
    return {"json": {"code": world.join_code or "no-team-has-this-code"}}


NEW_CHALLENGE = """\
id: new-pole
title: A new pole
environment: {id: CartPole-v1}
phases:
  - {id: dev, episodes: 1, seeds: [7]}
"""


def _new_challenge(world: World, caller: str) -> dict[str, Any]:
    return {"data": NEW_CHALLENGE, "content_type": "application/yaml"}


def _cartpole_unchanged(world: World, caller: str) -> dict[str, Any]:
    """The spec cartpole has now: an update that changes nothing."""
    with world.api.db.session() as session:
        challenge = challenges.find(session, "cartpole")
        assert challenge is not None
        current = challenge.current_version
        text = next(v.spec_yaml for v in challenge.versions if v.version == current)
    return {"json": {"spec_yaml": text}}


def _upload(world: World, caller: str) -> dict[str, Any]:
    form = {
        "challenge": "cartpole",
        "phase": "dev",
        "file": (io.BytesIO(zip_agent("good")), "a.zip"),
    }
    return {"data": form, "content_type": "multipart/form-data"}


def _reason(world: World, caller: str) -> dict[str, Any]:
    return {"json": {"reason": "copied another entrant's agent"}}


def _teams_for_everyone(world: World) -> None:
    for caller in (OTHER, OWNER, ORGANIZER):
        response = world.api.client.post(
            "/api/v1/teams",
            json={"name": f"{caller}-{secrets.token_hex(4)}"},
            headers=world.headers(caller),
        )
        assert response.status_code == 201


def _carol_team(world: World) -> None:
    carol = world.api.account("carol")
    response = world.api.client.post(
        "/api/v1/teams", json={"name": "carols"}, headers=carol.headers
    )
    world.join_code = response.get_json()["join_code"]


def _cartpole_archived(world: World) -> None:
    """Archived by the archive case before, or now (the organizer's unarchive restores it)."""
    response = world.api.client.post(
        "/api/v1/challenges/cartpole/archive", headers=world.orga.headers
    )
    assert response.status_code in (200, 409), response.get_json()


def _corridor(world: World) -> None:
    """A challenge whose environment is its organizer's code, in its bundle."""
    from aigc.submissions.bundle import pack_bundle

    folder = Path(__file__).parents[1] / "submissions" / "environments" / "corridor"
    response = world.api.client.post(
        "/api/v1/challenges",
        data={"file": (io.BytesIO(pack_bundle(folder)), "corridor.zip")},
        headers=world.orga.headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()


@dataclass(frozen=True)
class Case:
    method: str
    rule: str  # exactly as declared in the API's route tables
    anonymous: int
    other: int
    owner: int
    organizer: int
    kwargs: Kwargs = _none
    prepare: Callable[[World], None] | None = None
    slug: str = "cartpole"

    @property
    def id(self) -> str:
        return f"{self.method} {self.rule}"

    def expected(self, caller: str) -> int:
        return int(getattr(self, caller))

    def path(self, world: World) -> str:
        concrete = self.rule.replace("<slug>", self.slug).replace("<phase>", "test")
        # Submission routes target alice's dev submission; cancel targets her running one.
        target = world.ids["running"] if self.rule.endswith("/cancel") else world.ids["dev"]
        concrete = concrete.replace("<index>", "0")
        return "/api/v1" + concrete.replace("<id:submission_id>", str(target))

    def call(self, world: World, caller: str) -> Any:
        return world.api.client.open(
            self.path(world),
            method=self.method,
            headers=world.headers(caller),
            **self.kwargs(world, caller),
        )


S = "/submissions/<id:submission_id>"
# fmt: off
CASES = [
    #     method    rule                 anonymous other owner organizer
    Case("POST",   "/users",                 201,  201,  201,  201, _signup),
    Case("POST",   "/tokens",                201,  201,  201,  201, _signin),
    Case("DELETE", "/tokens/current",        401,  204,  204,  204),
    Case("GET",    "/me",                    401,  200,  200,  200),
    Case("POST",   "/teams",                 401,  201,  201,  201, _team),
    Case("POST",   "/teams/join",            401,  200,  200,  200, _join, _carol_team),
    Case("GET",    "/me/team",               401,  200,  200,  200, _none, _teams_for_everyone),
    Case("DELETE", "/me/team",               401,  204,  204,  204, _none, _teams_for_everyone),
    Case("GET",    "/challenges",            200,  200,  200,  200),
    Case("GET",    "/challenges/<slug>",     200,  200,  200,  200),
    Case("POST",   "/challenges",            401,  403,  403,  201, _new_challenge),
    Case("PUT",    "/challenges/<slug>",     401,  403,  403,  200, _cartpole_unchanged),
    Case("GET",    "/challenges/<slug>/leaderboard", 200, 200, 200, 200),
    Case("GET",    "/challenges/<slug>/spec", 200,  200,  200,  200),
    Case("GET",    "/challenges/<slug>/bundle", 200, 200, 200,  200, _none, _corridor,
         slug="corridor"),
    Case("POST",   "/challenges/<slug>/phases/<phase>/reveal", 401, 403, 403, 200),
    Case("GET",    "/challenges/<slug>/quota", 401, 200, 200, 200),
    Case("POST",   "/challenges/<slug>/phases/<phase>/rerun", 401, 403, 403, 200),
    Case("POST",   "/challenges/<slug>/archive", 401, 403, 403, 200),
    Case("POST",   "/challenges/<slug>/unarchive", 401, 403, 403, 200, _none, _cartpole_archived),
    Case("POST",   "/submissions",           401,  201,  201,  201, _upload),
    Case("GET",    "/submissions",           401,  200,  200,  200),
    Case("GET",    S,                        401,  404,  200,  200),
    Case("GET",    S + "/logs",              401,  404,  200,  200),
    Case("GET",    S + "/package",           401,  404,  200,  200),
    Case("GET",    S + "/episodes",          401,  404,  200,  200),
    Case("GET",    S + "/episodes/<index>",  401,  404,  200,  200),
    Case("GET",    S + "/samples",           401,  404,  200,  200),
    Case("POST",   S + "/cancel",            401,  404,  200,  200),
    Case("POST",   S + "/rerun",             401,  403,  403,  200),
    Case("POST",   S + "/disqualify",        401,  403,  403,  200, _reason),
    Case("GET",    "/openapi.json",          200,  200,  200,  200),
]
# fmt: on
CASE_BY_ROUTE = {(case.method, case.rule): case for case in CASES}
