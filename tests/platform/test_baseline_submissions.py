"""Baseline packages become unranked, flagged rows on every phase's board, once."""

from __future__ import annotations

import shutil

from sqlalchemy import select

from aigc.platform import worker_run as ev
from aigc.platform.baseline_submissions import pack, seed_baselines
from aigc.platform.models import BASELINE_USER, Submission, User
from aigc.submissions.sandbox import LocalSandbox

from .conftest import AGENTS, zip_agent


def baselines_folder(tmp_path):
    folder = tmp_path / "baselines"
    package = folder / "cartpole" / "heuristic"
    shutil.copytree(AGENTS / "good", package)
    (package / "aigc.toml").write_text('name = "heuristic"\nentry_point = "agent:Agent"\n')
    (folder / "no-such-challenge" / "x").mkdir(parents=True)  # ignored
    return folder


def test_baselines_are_submitted_to_every_phase_once(api, tmp_path):
    platform = api.app.extensions["aigc"]
    folder = baselines_folder(tmp_path)
    with api.db.session() as session:
        created = seed_baselines(session, platform.store, folder)
    assert len(created) == 2  # dev and test
    with api.db.session() as session:
        assert seed_baselines(session, platform.store, folder) == []  # a restart adds nothing
        rows = session.scalars(select(Submission)).all()
        assert {(s.phase, s.baseline, s.package_name) for s in rows} == {
            ("dev", True, "heuristic"),
            ("test", True, "heuristic"),
        }
        owner = session.scalar(select(User).where(User.username == BASELINE_USER))
        assert all(s.user_id == owner.id for s in rows)
    signing_in = api.client.post(
        "/api/v1/tokens", json={"username": BASELINE_USER, "password": "!"}
    )
    assert signing_in.status_code == 401


def test_a_scored_baseline_is_a_flagged_unranked_row(api, tmp_path):
    platform = api.app.extensions["aigc"]
    with api.db.session() as session:
        created = seed_baselines(session, platform.store, baselines_folder(tmp_path))
    for submission_id in created:
        assert (
            ev.run_submission(
                platform.db, platform.settings, platform.store, submission_id, LocalSandbox
            )
            == ev.DONE
        )
    alice = api.account("alice")
    mine = api.upload(alice, zip_agent("random")).json["id"]
    ev.run_submission(platform.db, platform.settings, platform.store, mine, LocalSandbox)
    rows = api.client.get("/api/v1/challenges/cartpole/leaderboard").json["rows"]
    assert [(r["rank"], r["name"], r["baseline"]) for r in rows] == [
        (None, "heuristic", True),
        (1, "alice", False),
    ]


def test_the_baselines_account_is_no_participant(api, tmp_path):
    platform = api.app.extensions["aigc"]
    with api.db.session() as session:
        assert len(seed_baselines(session, platform.store, baselines_folder(tmp_path))) == 2

    def counted() -> tuple[int, str]:
        listed = api.client.get("/api/v1/challenges").json["challenges"]
        page = api.client.get("/challenges/cartpole").get_data(as_text=True)
        return next(c["participants"] for c in listed if c["id"] == "cartpole"), page

    count, page = counted()
    assert count == 0 and "0 participants" in page
    assert api.upload(api.account("alice"), zip_agent("good")).status_code == 201
    count, page = counted()
    assert count == 1 and "1 participant<" in page


def test_packing_is_reproducible(tmp_path):
    folder = baselines_folder(tmp_path) / "cartpole" / "heuristic"
    first = pack(folder)
    (folder / "agent.py").touch()  # a new modification time changes nothing
    assert pack(folder) == first


def test_a_broken_baseline_package_is_skipped_with_the_reason(api, tmp_path, caplog):
    folder = baselines_folder(tmp_path)
    broken = folder / "cartpole" / "broken"
    broken.mkdir()
    (broken / "aigc.toml").write_text('name = "broken"\nentry_point = "missing:Agent"\n')
    platform = api.app.extensions["aigc"]
    with caplog.at_level("WARNING"), api.db.session() as session:
        created = seed_baselines(session, platform.store, folder)
        names = {session.get(Submission, i).package_name for i in created}
    assert names == {"heuristic"}  # the good one still goes on the board
    assert "broken is skipped: entry point module 'missing' not found" in caplog.text
    assert "no-such-challenge names no challenge" in caplog.text
