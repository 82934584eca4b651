"""Challenges over the API: list and show for everyone; create and update for organizers."""

from __future__ import annotations

from typing import Any

from aigc.platform.worker_run import DONE, claim, record_result, run_submission
from aigc.submissions.challenge import builtin_challenge_ids
from aigc.submissions.results import EvaluationResult
from aigc.submissions.sandbox import LocalSandbox

from .conftest import Account, Api, error, zip_agent


def spec(
    challenge_id: str = "mini-pole", title: str = "Mini pole", episodes: int = 2, more: str = ""
) -> str:
    return f"""\
id: {challenge_id}
title: {title}
description: Keep it up.
environment: {{id: CartPole-v1}}
phases:
  - {{id: dev, episodes: {episodes}, seeds: [1, 2, 3]}}
{more}"""


def post_spec(api: Api, who: Account, text: str) -> Any:
    return api.client.post(
        "/api/v1/challenges", data=text, content_type="application/yaml", headers=who.headers
    )


def put_spec(api: Api, who: Account, slug: str, text: str) -> Any:
    return api.client.put(
        f"/api/v1/challenges/{slug}", json={"spec_yaml": text}, headers=who.headers
    )


def listed(api: Api) -> dict[str, dict[str, Any]]:
    response = api.client.get("/api/v1/challenges")
    assert response.status_code == 200
    return {c["id"]: c for c in response.get_json()["challenges"]}


# --- list and show ----------------------------------------------------------------------


def test_list_shows_the_eight_builtins_and_counts_participants(api: Api) -> None:
    challenges = listed(api)
    assert sorted(challenges) == builtin_challenge_ids()
    assert len(challenges) == 8
    for challenge in challenges.values():
        assert challenge["builtin"] is True
        assert challenge["version"] == 1
        assert challenge["participants"] == 0
        assert "description" not in challenge  # the list is a summary
    alice, bob = api.account("alice"), api.account("bob")
    package = zip_agent("good")
    for who in (alice, alice, bob):
        assert api.upload(who, package).status_code == 201
    counts = {slug: c["participants"] for slug, c in listed(api).items()}
    # Two people, not three submissions.
    assert counts == {slug: 2 if slug == "cartpole" else 0 for slug in counts}


def test_show_gives_rules_and_the_seeds_of_public_phases_only(api: Api) -> None:
    response = api.client.get("/api/v1/challenges/cartpole")
    assert response.status_code == 200
    cartpole = response.get_json()
    assert cartpole["title"].startswith("CartPole")
    assert "CartPole-v1" in cartpole["description"]
    assert cartpole["environment"] == "CartPole-v1"
    assert cartpole["limits"] == {
        "step_timeout": 1.0,
        "startup_timeout": 60.0,
        "episode_timeout": 120.0,
        "evaluation_timeout": 1800.0,
        "memory_bytes": 2**30,
        "cpus": 1.0,
    }
    assert cartpole["metrics"]["primary"] == "mean_return"
    assert cartpole["metrics"]["higher_is_better"] is True
    assert cartpole["metrics"]["report"] == [
        "mean_return",
        "std_return",
        "success_rate",
        "mean_length",
    ]
    assert cartpole["quotas"] == {"per_day": 10, "total": None}
    assert cartpole["starter"] == "aigc init-agent my-agent --challenge cartpole"
    dev, test = cartpole["phases"]
    assert (dev["id"], dev["visibility"], dev["state"]) == ("dev", "public", "open")
    assert dev["seeds"] == list(range(1000, 1100))
    assert (test["id"], test["visibility"], test["episodes"]) == ("test", "hidden", 500)
    assert test["seeds"] is None


def test_hidden_phase_seeds_are_never_shown_however_they_are_declared(api: Api) -> None:
    more = (
        "  - {id: final, visibility: hidden, episodes: 3, seeds: [11, 22, 33]}\n"
        "  - {id: last, visibility: hidden, episodes: 2, seeds: {first: 5000}}\n"
    )
    assert post_spec(api, api.organizer(), spec(more=more)).status_code == 201
    shown = api.client.get("/api/v1/challenges/mini-pole").get_json()["phases"]
    summary = listed(api)["mini-pole"]["phases"]
    for phases in (shown, summary):
        assert [p["seeds"] for p in phases] == [[1, 2], None, None]


def test_show_unknown_challenge_is_404(api: Api) -> None:
    message = error(api.client.get("/api/v1/challenges/no-such-thing"), 404)
    assert "'no-such-thing'" in message


# --- create -----------------------------------------------------------------------------


def test_organizer_creates_a_challenge_from_yaml_or_from_json(api: Api) -> None:
    orga = api.organizer()
    from_yaml = post_spec(api, orga, spec())
    assert from_yaml.status_code == 201
    body = from_yaml.get_json()
    assert (body["id"], body["title"], body["version"]) == ("mini-pole", "Mini pole", 1)
    assert (body["builtin"], body["participants"]) == (False, 0)
    assert body["phases"][0]["seeds"] == [1, 2]
    from_json = api.client.post(
        "/api/v1/challenges", json={"spec_yaml": spec("json-pole")}, headers=orga.headers
    )
    assert from_json.status_code == 201
    assert from_json.get_json()["id"] == "json-pole"
    assert {"mini-pole", "json-pole"} <= set(listed(api))
    assert api.client.get("/api/v1/challenges/json-pole").get_json()["description"] == (
        "Keep it up."
    )


INVALID_SPECS = [
    (spec(episodes=0), "phases[0].episodes: expected a whole number of at least 1"),
    (spec().replace("title:", "titel:"), "titel is not a known field: did you mean 'title'?"),
    (spec().replace("CartPole-v1", "CartPole-v9"), "environment.id: 'CartPole-v9'"),
    (spec(challenge_id="Bad_Id"), "id: 'Bad_Id' must be 1 to 63 lowercase letters"),
    (spec() + "quotas: {per_day: 0}\n", "quotas.per_day"),
    ("id: x\n  title: [unclosed\n", "not valid YAML at line"),
    ("", "send the challenge spec as YAML"),
]


def test_invalid_spec_is_400_naming_the_field(api: Api) -> None:
    orga = api.organizer()
    for text, says in INVALID_SPECS:
        assert says in error(post_spec(api, orga, text), 400), text
    missing = api.client.post("/api/v1/challenges", json={"yaml": spec()}, headers=orga.headers)
    assert "send the challenge spec" in error(missing, 400)
    assert len(listed(api)) == 8


def test_creating_an_existing_id_is_409(api: Api) -> None:
    orga = api.organizer()
    assert post_spec(api, orga, spec()).status_code == 201
    assert "exists" in error(post_spec(api, orga, spec(title="Again")), 409)
    assert "exists" in error(post_spec(api, orga, spec(challenge_id="cartpole")), 409)
    assert listed(api)["mini-pole"]["title"] == "Mini pole"


def test_participant_may_neither_create_nor_update(api: Api) -> None:
    alice, orga = api.account("alice"), api.organizer()
    assert "only organizers" in error(post_spec(api, alice, spec()), 403)
    assert "mini-pole" not in listed(api)
    post_spec(api, orga, spec())
    assert "only organizers" in error(put_spec(api, alice, "mini-pole", spec(title="Mine")), 403)
    assert listed(api)["mini-pole"]["version"] == 1


# --- update -----------------------------------------------------------------------------


def test_update_adds_a_version_and_an_unchanged_spec_changes_nothing(api: Api) -> None:
    orga = api.organizer()
    post_spec(api, orga, spec())
    updated = put_spec(api, orga, "mini-pole", spec(title="Mini pole, harder", episodes=3))
    assert updated.status_code == 200
    body = updated.get_json()
    assert (body["version"], body["changed"], body["title"]) == (2, True, "Mini pole, harder")
    assert body["phases"][0]["episodes"] == 3
    again = put_spec(api, orga, "mini-pole", spec(title="Mini pole, harder", episodes=3))
    assert again.status_code == 200
    assert (again.get_json()["version"], again.get_json()["changed"]) == (2, False)
    assert listed(api)["mini-pole"]["version"] == 2


def test_update_with_another_id_is_409_an_unknown_slug_404_a_bad_spec_400(api: Api) -> None:
    orga = api.organizer()
    post_spec(api, orga, spec())
    message = error(put_spec(api, orga, "mini-pole", spec(challenge_id="other-pole")), 409)
    assert "'other-pole', not 'mini-pole'" in message
    assert "no challenge 'nope'" in error(put_spec(api, orga, "nope", spec("nope")), 404)
    invalid = error(put_spec(api, orga, "mini-pole", spec() + "scoring: 1\n"), 400)
    assert invalid.startswith("scoring is not a known field")
    assert listed(api)["mini-pole"]["version"] == 1


def test_a_submission_keeps_the_challenge_version_it_was_made_under(api: Api) -> None:
    orga, alice = api.organizer(), api.account("alice")
    post_spec(api, orga, spec(episodes=2))
    package = zip_agent("good")
    before = api.upload(alice, package, "mini-pole").get_json()
    assert (before["challenge_version"], before["episodes_total"]) == (1, 2)
    assert put_spec(api, orga, "mini-pole", spec(episodes=3)).get_json()["version"] == 2
    after = api.upload(alice, package, "mini-pole").get_json()
    assert (after["challenge_version"], after["episodes_total"]) == (2, 3)
    # Evaluated after the update, the first submission still runs version 1's episodes.
    p = api.app.extensions["aigc"]
    assert run_submission(p.db, p.settings, p.store, before["id"], LocalSandbox) == DONE
    shown = api.client.get(f"/api/v1/submissions/{before['id']}", headers=alice.headers)
    body = shown.get_json()
    assert (body["status"], body["challenge_version"]) == ("finished", 1)
    assert sorted(e["seed"] for e in body["result"]["episodes"]) == [1, 2]


# --- phase dates ------------------------------------------------------------------------

DATED_PHASES = """\
  - {id: soon, episodes: 1, seeds: [7], start: 2999-01-01T00:00:00Z}
  - {id: over, episodes: 1, seeds: [7], end: 2001-01-01T00:00:00Z}
  - {id: window, episodes: 1, seeds: [7], start: 2001-01-01T00:00:00Z, end: 2999-01-01T00:00:00Z}
"""


def test_uploads_are_refused_before_a_phase_opens_and_after_it_closes(api: Api) -> None:
    orga, alice = api.organizer(), api.account("alice")
    assert post_spec(api, orga, spec(more=DATED_PHASES)).status_code == 201
    phases = api.client.get("/api/v1/challenges/mini-pole").get_json()["phases"]
    assert {p["id"]: p["state"] for p in phases} == {
        "dev": "open",
        "soon": "upcoming",
        "over": "closed",
        "window": "open",
    }
    assert phases[1]["start"] == "2999-01-01T00:00:00Z"
    package = zip_agent("good")
    soon = error(api.upload(alice, package, "mini-pole", "soon"), 409)
    assert soon == "phase 'soon' opens at 2999-01-01 00:00 UTC"
    over = error(api.upload(alice, package, "mini-pole", "over"), 409)
    assert over == "phase 'over' closed at 2001-01-01 00:00 UTC"
    assert api.upload(alice, package, "mini-pole", "window").status_code == 201
    assert api.upload(alice, package, "mini-pole", "dev").status_code == 201


def test_rerun_after_its_phase_was_removed_never_breaks_the_submission(api: Api) -> None:
    orga, alice = api.organizer(), api.account("alice")
    post_spec(api, orga, spec(more="  - {id: extra, episodes: 1, seeds: [5]}\n"))
    submission = api.upload(alice, zip_agent("good"), "mini-pole", "extra").get_json()["id"]
    p = api.app.extensions["aigc"]
    held = claim(p.db, submission, 60, "test-worker")
    assert held is not None
    record_result(p.db, held, EvaluationResult("mini-pole", "extra", "good", 1))
    assert put_spec(api, orga, "mini-pole", spec()).get_json()["version"] == 2  # no 'extra'
    rerun = api.client.post(f"/api/v1/submissions/{submission}/rerun", headers=orga.headers)
    assert rerun.status_code in (200, 409)  # 409 (the phase is gone) would be the better answer
    for path in (f"/api/v1/submissions/{submission}", "/api/v1/submissions"):
        assert api.client.get(path, headers=alice.headers).status_code == 200, path


def test_an_organizers_edit_of_a_builtin_survives_a_restart(api):
    from importlib import resources

    from aigc.platform import challenges

    orga = api.organizer("editor")
    shipped = (resources.files("aigc.submissions") / "challenges" / "cartpole.yaml").read_text()
    edited = shipped.replace("title: CartPole — balance the pole", "title: Our course's CartPole")
    response = api.client.put(
        "/api/v1/challenges/cartpole",
        data=edited,
        headers={**orga.headers, "Content-Type": "application/yaml"},
    )
    assert response.status_code == 200 and response.json["changed"], response.json
    with api.db.session() as session:
        assert challenges.seed_builtins(session) == []  # what a restart does
    shown = api.client.get("/api/v1/challenges/cartpole").json
    assert shown["title"] == "Our course's CartPole" and shown["builtin"] is False
