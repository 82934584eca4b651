"""Leaderboards on the platform: who is ranked, who may look, caching, reveal, export."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select, update

from aigc.platform import challenges
from aigc.platform import worker_run as ev
from aigc.platform.models import Submission
from aigc.submissions.metrics import compute_metrics
from aigc.submissions.results import (
    AGENT_ERROR,
    EpisodeResult,
    EvaluationResult,
    Failure,
)

from ..submissions.conftest import InfoEnv  # noqa: F401  (registers aigc-test/Info-v0)
from .conftest import error, scored, zip_agent
from .forms import post, signed_in, text


def board(api, who=None, phase: str = "dev"):
    headers = who.headers if who else {}
    return api.client.get(f"/api/v1/challenges/cartpole/leaderboard?phase={phase}", headers=headers)


def test_each_participant_ranks_with_their_best_submission(api):
    alice, bob = api.account("alice"), api.account("bob")
    scored(api, alice, [100, 120])
    best = scored(api, alice, [300, 310])
    bobs = scored(api, bob, [200, 220])
    rows = board(api).json["rows"]
    assert [(r["rank"], r["name"], r["submission_id"]) for r in rows] == [
        (1, "alice", best),
        (2, "bob", bobs),
    ]
    assert rows[0]["score"] == 305 and rows[0]["episodes"] == 2
    assert rows[0]["ci_low"] <= 305 <= rows[0]["ci_high"]


def test_failed_submissions_rank_last_and_disqualified_or_platform_failures_not_at_all(api):
    alice, bob, carol, dave = (api.account(n) for n in ("alice", "bob", "carol", "dave"))
    scored(api, alice, [10, 12])
    scored(api, bob, [5], failure=Failure(AGENT_ERROR, "boom"))
    cheat = scored(api, carol, [500, 500])
    broken = scored(api, dave, [400, 400])
    with api.db.session() as session:
        session.execute(
            update(Submission).where(Submission.id == broken).values(platform_failure=True)
        )
    orga = api.organizer()
    response = api.client.post(
        f"/api/v1/submissions/{cheat}/disqualify",
        json={"reason": "read the seeds"},
        headers=orga.headers,
    )
    assert response.status_code == 200
    rows = board(api).json["rows"]
    assert [(r["name"], r["score"]) for r in rows] == [("alice", 11.0), ("bob", None)]


def test_team_members_share_one_row(api):
    alice, bob = api.account("alice"), api.account("bob")
    team = api.client.post("/api/v1/teams", json={"name": "ab"}, headers=alice.headers).json
    api.client.post("/api/v1/teams/join", json={"code": team["join_code"]}, headers=bob.headers)
    scored(api, alice, [100, 100])
    scored(api, bob, [150, 150])
    rows = board(api).json["rows"]
    assert [(r["name"], r["team"], r["score"]) for r in rows] == [("ab", True, 150.0)]


def test_baselines_are_flagged_and_unranked(api):
    alice = api.account("alice")
    scored(api, alice, [100, 100])
    baseline = scored(api, api.account("baselines"), [200, 200])
    with api.db.session() as session:
        session.execute(update(Submission).where(Submission.id == baseline).values(baseline=True))
        from aigc.platform.board_cache import bump_board

        bump_board(session, submission_id=baseline)
    rows = board(api).json["rows"]
    assert [(r["rank"], r["name"], r["baseline"]) for r in rows] == [
        (None, "good", True),
        (1, "alice", False),
    ]


def test_boards_are_rebuilt_only_when_something_changed(api):
    alice = api.account("alice")
    scored(api, alice, [100, 100])
    boards = api.app.extensions["aigc"].boards
    first = board(api).json
    assert board(api).json == first and len(boards.boards) == 1  # served from the cache
    scored(api, alice, [200, 200])
    second = board(api).json
    assert second["version"] > first["version"] and second["rows"][0]["score"] == 200


def test_hidden_phase_board_is_for_organizers_until_revealed(api):
    alice, orga = api.account("alice"), api.organizer()
    submission_id = scored(api, alice, [42, 44], phase="test")
    assert "hidden until the organizers reveal it" in error(board(api, phase="test"), 403)
    assert board(api, alice, phase="test").status_code == 403
    assert board(api, orga, phase="test").json["rows"][0]["score"] == 43
    mine = api.client.get(f"/api/v1/submissions/{submission_id}", headers=alice.headers).json
    assert mine["result"] is None

    reveal = api.client.post("/api/v1/challenges/cartpole/phases/test/reveal", headers=orga.headers)
    assert reveal.status_code == 200
    assert board(api, phase="test").json["rows"][0]["score"] == 43
    mine = api.client.get(f"/api/v1/submissions/{submission_id}", headers=alice.headers).json
    assert mine["result"]["score"] == 43
    assert [e["seed"] for e in mine["result"]["episodes"]] == [None, None]  # seeds stay hidden
    logs = api.client.get(f"/api/v1/submissions/{submission_id}/logs", headers=alice.headers).json
    assert logs["hidden"] is True
    again = api.client.post("/api/v1/challenges/cartpole/phases/test/reveal", headers=orga.headers)
    assert "revealed already" in error(again, 409)
    public = api.client.post("/api/v1/challenges/cartpole/phases/dev/reveal", headers=orga.headers)
    assert "nothing to reveal" in error(public, 409)


def test_csv_export_and_bad_queries(api):
    scored(api, api.account("alice"), [1, 3])
    response = api.client.get("/api/v1/challenges/cartpole/leaderboard?format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="cartpole-dev.csv"' in response.headers["Content-Disposition"]
    [row] = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert row["name"] == "alice" and float(row["score"]) == 2.0
    assert "json or csv" in error(
        api.client.get("/api/v1/challenges/cartpole/leaderboard?format=xml"), 400
    )
    assert "no phase 'final'" in error(
        api.client.get("/api/v1/challenges/cartpole/leaderboard?phase=final"), 404
    )
    assert error(api.client.get("/api/v1/challenges/nope/leaderboard"), 404)


def test_a_real_evaluation_stores_its_interval_and_tie_breaker(api):
    from aigc.submissions.sandbox import LocalSandbox

    p = api.app.extensions["aigc"]
    response = api.upload(api.account("erin"), zip_agent("random"))
    ev.run_submission(p.db, p.settings, p.store, response.json["id"], LocalSandbox)
    [row] = board(api).json["rows"]
    assert row["ci_low"] < row["score"] < row["ci_high"]
    with p.db.session() as session:
        stored = session.get_one(Submission, row["submission_id"]).evaluation
        assert stored.tie_breaker == pytest.approx(stored.metrics["std_return"])


INFO_CHALLENGE = """\
id: info-count
title: Info count
environment: {id: aigc-test/Info-v0}
phases:
  - {id: dev, episodes: 6, seeds: {first: 0}}
metrics:
  primary: mean_steps
  higher_is_better: false
  info: [steps, odd]
  report: [mean_steps, mean_return, mean_odd]
  tie_breaker: {metric: mean_odd, higher_is_better: false}
"""


def test_a_challenge_ranks_by_an_info_metric_with_intervals_and_tie_breaker(api):
    from aigc.platform import challenges
    from aigc.platform.models import EpisodeRow
    from aigc.submissions.sandbox import LocalSandbox

    # aigc-test/Info-v0 (tests/submissions/conftest.py): seeds 0..5 last 3, 4, 5, 6, 3, 4
    # steps and report that length as `steps` in their last info, except seed 4.
    orga, alice, bob = api.organizer(), api.account("alice"), api.account("bob")
    created = api.client.post(
        "/api/v1/challenges",
        data=INFO_CHALLENGE,
        content_type="application/yaml",
        headers=orga.headers,
    )
    assert created.status_code == 201, created.json
    assert created.json["metrics"]["info"] == ["steps", "odd"]
    p = api.app.extensions["aigc"]
    evaluated = api.upload(alice, zip_agent("random"), challenge="info-count").json["id"]
    assert ev.run_submission(p.db, p.settings, p.store, evaluated, LocalSandbox) == ev.DONE

    with p.db.session() as session:
        stored = session.get_one(Submission, evaluated).evaluation
        assert stored is not None
        assert stored.metrics == {
            "mean_steps": pytest.approx(22 / 5),  # seed 4 has no value and does not count
            "mean_return": pytest.approx(25 / 6),
            "mean_odd": pytest.approx(2 / 5),
        }
        assert stored.score == pytest.approx(22 / 5)
        assert stored.ci_low is not None and stored.ci_high is not None
        assert 3 <= stored.ci_low < 22 / 5 < stored.ci_high <= 6  # over the five values
        assert stored.tie_breaker == pytest.approx(2 / 5)
        # By seed: the platform plays a phase's seeds in an order of each submission's own.
        assert [e.values for e in sorted(stored.episodes, key=lambda e: e.seed)] == [
            {"steps": 3.0, "odd": 1.0},
            {"steps": 4.0, "odd": 0.0},
            {"steps": 5.0, "odd": 1.0},
            {"steps": 6.0, "odd": 0.0},
            {"steps": None, "odd": None},
            {"steps": 4.0, "odd": 0.0},
        ]
        spec = challenges.spec_of(session.get_one(Submission, evaluated).challenge)
        count = session.scalar(select(func.count()).select_from(EpisodeRow))
        assert count == 6
    shown = api.client.get(f"/api/v1/submissions/{evaluated}", headers=alice.headers).json
    assert shown["result"]["metrics"]["mean_steps"] == pytest.approx(22 / 5)
    seed_four = [e for e in shown["result"]["episodes"] if e["seed"] == 4]
    assert [e["values"] for e in seed_four] == [{"steps": None, "odd": None}]

    # Bob has the same mean_steps but never an odd length: the tie-breaker puts him first.
    bobs = api.upload(bob, zip_agent("random"), challenge="info-count").json["id"]
    episodes = [
        EpisodeResult(i, i, 4.0, 4, 0.01, True, False, None, {"steps": 4.4, "odd": 0.0})
        for i in range(2)
    ]
    result = EvaluationResult(
        "info-count",
        "dev",
        "random",
        2,
        episodes=episodes,
        metrics=compute_metrics(episodes, spec.metrics),
        primary_metric="mean_steps",
    )
    assert ev.record_result(p.db, ev.claim(p.db, bobs, 60, "test"), result, spec.metrics)
    document = api.client.get("/api/v1/challenges/info-count/leaderboard").json
    assert document["metric"] == "mean_steps" and document["higher_is_better"] is False
    rows = document["rows"]
    assert [(r["name"], r["rank"]) for r in rows] == [("bob", 1), ("alice", 2)]
    assert rows[0]["score"] == rows[1]["score"] == pytest.approx(4.4)
    assert rows[0]["ci_low"] == rows[0]["ci_high"] == pytest.approx(4.4)
    page = api.client.get("/challenges/info-count").get_data(as_text=True)
    assert "<code>mean_steps</code> (<code>steps</code>)" in page
    board_page = api.client.get("/challenges/info-count/leaderboard").get_data(as_text=True)
    assert "ranked by Mean steps (<code>mean_steps</code>), lower is better" in board_page
    # The other reported metrics stand beside the score: in the JSON, the CSV and the page.
    assert document["columns"] == ["mean_return", "mean_odd"]
    assert rows[0]["metrics"] == {"mean_return": 4.0, "mean_odd": 0.0}
    assert rows[1]["metrics"] == {
        "mean_return": pytest.approx(25 / 6),
        "mean_odd": pytest.approx(2 / 5),
    }
    exported = api.client.get("/api/v1/challenges/info-count/leaderboard?format=csv")
    table = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [(r["name"], float(r["mean_odd"])) for r in table] == [("bob", 0.0), ("alice", 0.4)]
    # Each headed by its title and the arrow of its better way (the tie-breaker's: lower).
    assert (
        '<th class="num metric" title="mean_return, higher is better">Mean return&nbsp;'
        '<span class="arrow" aria-label="higher is better">↑</span></th>'
        '<th class="num metric" title="mean_odd, lower is better">Mean odd&nbsp;'
        '<span class="arrow" aria-label="lower is better">↓</span></th>'
    ) in board_page
    assert "<td>4.17</td><td>0.400</td>" in board_page  # alice's, beside her score


OUTDATED_SPEC = """\
id: cartpole
title: CartPole, second edition
environment: {id: CartPole-v1}
phases:
  - {id: dev, visibility: public, episodes: 2, seeds: {first: 0}}
  - {id: test, visibility: hidden, episodes: 2, seeds: secret}
quotas: {per_day: 10}
"""


def test_boards_mark_rows_of_an_earlier_version_and_a_phase_reruns_in_one_action(api):
    alice, bob, orga = api.account("alice"), api.account("bob"), api.organizer()
    first = scored(api, alice, [100.0, 120.0])
    with api.db.session() as session:
        challenges.update(session, challenges.find(session, "cartpole"), OUTDATED_SPEC, by=None)
    second = scored(api, bob, [50.0, 60.0])
    board = api.client.get("/api/v1/challenges/cartpole/leaderboard").json
    assert board["challenge_version"] == 2
    marks = {r["submission_id"]: (r["challenge_version"], r["outdated"]) for r in board["rows"]}
    assert marks == {first: (1, True), second: (2, False)}
    csv_text = api.client.get("/api/v1/challenges/cartpole/leaderboard?format=csv").text
    assert ",submitted_at,challenge_version,outdated," in csv_text.splitlines()[0]
    page = text(api.client.get("/challenges/cartpole/leaderboard"))
    assert page.count('<span class="badge outdated"') == 2  # alice's row and the note
    assert "scored under version 1 of the challenge" in page
    assert "Rerun all on the current version" not in page  # organizers only

    quota_before = api.client.get("/api/v1/challenges/cartpole/quota", headers=alice.headers).json
    refused = api.client.post("/api/v1/challenges/cartpole/phases/dev/rerun", headers=alice.headers)
    assert refused.status_code == 403
    missing = api.client.post("/api/v1/challenges/cartpole/phases/nope/rerun", headers=orga.headers)
    assert missing.status_code == 404
    api.queue.enqueued.clear()
    answer = api.client.post("/api/v1/challenges/cartpole/phases/dev/rerun", headers=orga.headers)
    assert answer.status_code == 200
    assert answer.json == {"challenge": "cartpole", "phase": "dev", "version": 2,
                           "queued": [first, second]}  # fmt: skip
    assert api.queue.enqueued == [first, second]
    with api.db.session() as session:
        rows = session.scalars(select(Submission).where(Submission.id.in_([first, second])))
        assert {(s.status, s.challenge_version) for s in rows} == {("queued", 2)}
    assert api.client.get("/api/v1/challenges/cartpole/leaderboard").json["rows"] == []
    quota_after = api.client.get("/api/v1/challenges/cartpole/quota", headers=alice.headers).json
    assert quota_after == quota_before  # reruns use no quota

    # The organizer's button does the same.
    client = signed_in(api, orga)
    assert "Rerun all on the current version" in text(
        client.get("/challenges/cartpole/leaderboard")
    )
    done = post(client, "/organize/challenges/cartpole/phases/dev/rerun")
    assert done.status_code == 302  # nothing is finished now: none queued
    assert "0 submissions of phase &#39;dev&#39; are queued again" in text(
        client.get(done.headers["Location"])
    )
