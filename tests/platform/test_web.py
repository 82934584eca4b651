"""The web pages: who sees what, forms with CSRF tokens, escaping, boards and charts."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from aigc.platform import challenges
from aigc.platform.board_cache import bump_board
from aigc.platform.models import PhaseReveal, Submission, User
from aigc.platform.startup import start
from aigc.submissions.results import Failure

from .conftest import Api, RecordingQueue, scored, zip_agent
from .forms import post, signed_in, text, token, upload_form

CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'"
QUOTA_CHALLENGE = """
id: tight
title: Tight quota
description: One a day.
environment: {id: CartPole-v1}
phases: [{id: dev, episodes: 3, seeds: {first: 0}}]
quotas: {per_day: 1}
"""


def count_submissions(api: Api) -> int:
    with api.db.session() as session:
        return session.scalar(select(func.count()).select_from(Submission)) or 0


def make_baseline(api: Api, returns: list[float]) -> int:
    submission_id = scored(api, api.account("baselines"), returns)
    with api.db.session() as session:
        session.execute(
            update(Submission).where(Submission.id == submission_id).values(baseline=True)
        )
        bump_board(session, submission_id=submission_id)
    return submission_id


def test_public_pages_render_offline_with_a_strict_policy(api):
    scored(api, api.account("alice"), [100, 120])
    client = api.client
    home = client.get("/")
    assert home.status_code == 200
    assert "CartPole — balance the pole" in text(home) and "CartPole-v1" in text(home)
    assert "1 participant" in text(home) and "state-open" in text(home)
    challenge = client.get("/challenges/cartpole")
    page = text(challenge)
    assert "Discrete(2)" in page and "Box(shape (4,)" in page
    assert "500 steps" in page and "Reward threshold</dt><dd>475<" in page
    assert (
        "aigc login --server http://localhost\naigc init-agent my-agent --challenge cartpole"
        in page
    )
    assert "aigc submit my-agent --wait" in page and 'href="/submit?challenge=cartpole"' in page
    assert "mean_return</code>, higher is better" in page and "std_return" in page
    assert "10 submissions per phase" in page and 'href="/challenges/cartpole/leaderboard' in page
    paths = ["/", "/challenges/cartpole", "/challenges/cartpole/leaderboard", "/login", "/signup"]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Content-Security-Policy"].startswith(CSP)
        # The one address a page names is its own, in the command that signs in to it.
        body = text(response).replace("aigc login --server http://localhost\n", "")
        assert "http://" not in body and "https://" not in body and "//cdn" not in body, path
        assert "<script>" not in body and " style=" not in body, path  # nothing inline
    for asset in ("/assets/aigc.css", "/assets/aigc.js"):
        response = client.get(asset)
        assert response.status_code == 200
        body = text(response)
        assert "http://" not in body and "https://" not in body and "//cdn" not in body
        assert "@import" not in body and "url(" not in body
    assert client.get("/challenges/nope").status_code == 404


def test_signed_in_pages_send_anonymous_visitors_to_log_in(api):
    submission_id = scored(api, api.account("alice"), [1, 2])
    for path in (
        "/submit?challenge=cartpole",
        "/my/submissions",
        f"/my/submissions/{submission_id}",
        "/organize/challenges/new",
        "/organize/challenges/cartpole/edit",
        "/organize/submissions",
    ):
        response = api.client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next=/"), path
    assert api.client.get("/my/submissions.json").status_code == 401


def test_organizer_pages_are_forbidden_to_participants(api):
    submission_id = scored(api, api.account("alice"), [1, 2])
    bob = signed_in(api, api.account("bob"))
    for path in (
        "/organize/challenges/new",
        "/organize/challenges/cartpole/edit",
        "/organize/submissions",
    ):
        response = bob.get(path)
        assert response.status_code == 403, path
        assert "only organizers" in text(response) and "<html" in text(response)
    for path in (
        f"/organize/submissions/{submission_id}/rerun",
        f"/organize/submissions/{submission_id}/disqualify",
        "/organize/challenges/cartpole/phases/test/reveal",
    ):
        assert post(bob, path, {"reason": "x"}).status_code == 403, path
    with api.db.session() as session:
        assert session.get_one(Submission, submission_id).disqualified is False


def test_someone_elses_submission_is_not_found(api):
    alice, bob = api.account("alice"), api.account("bob")
    submission_id = scored(api, alice, [1, 2])
    response = signed_in(api, bob).get(f"/my/submissions/{submission_id}")
    assert response.status_code == 404 and "you have no submission" in text(response)
    assert signed_in(api, alice).get(f"/my/submissions/{submission_id}").status_code == 200
    assert (
        signed_in(api, api.organizer()).get(f"/my/submissions/{submission_id}").status_code == 200
    )
    assert post(signed_in(api, bob), f"/my/submissions/{submission_id}/cancel").status_code == 404


def test_sign_up_log_in_and_out(api):
    client = api.client
    response = client.post(
        "/signup",
        data={
            "username": "newbie",
            "password": "long-enough",
            "confirm": "long-enough",
            "csrf_token": token(client, "/signup"),
        },
    )
    assert response.status_code == 302
    home = text(client.get("/"))
    assert "newbie" in home and "Log out" in home and "My submissions" in home
    assert "Organize" not in home
    taken = post(client, "/signup", {"username": "newbie", "password": "x" * 8, "confirm": "x" * 8})
    assert taken.status_code == 400 and "is taken: choose another" in text(taken)

    assert post(client, "/logout").status_code == 302
    assert "Log in" in text(client.get("/")) and "newbie" not in text(client.get("/"))

    wrong = client.post(
        "/login",
        data={"username": "newbie", "password": "wrong-password", "csrf_token": token(client)},
    )
    assert wrong.status_code == 400 and "wrong username or password" in text(wrong)
    short = client.post(
        "/signup",
        data={
            "username": "other",
            "password": "short",
            "confirm": "short",
            "csrf_token": token(client),
        },
    )
    assert "at least 8 characters" in text(short)
    for target, landing in (
        ("/my/submissions", "/my/submissions"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
    ):
        response = client.post(
            "/login",
            data={
                "username": "newbie",
                "password": "long-enough",
                "next": target,
                "csrf_token": token(client),
            },
        )
        assert response.headers["Location"] == landing, target
        post(client, "/logout")


def test_sign_up_can_be_closed(settings, db):
    app = start(settings.with_(open_signup=False), queue=RecordingQueue()).app
    client = app.test_client()
    response = client.get("/signup")
    assert response.status_code == 403 and "sign-up is closed" in text(response)
    response = client.post(
        "/signup",
        data={"username": "x" * 4, "password": "y" * 8, "confirm": "y" * 8, "csrf_token": "t"},
    )
    assert response.status_code == 400  # no valid form: refused before anything else
    assert "Sign up" not in text(client.get("/"))
    with db.session() as session:
        assert session.scalar(select(User).where(User.username == "xxxx")) is None


def test_posts_without_the_csrf_token_change_nothing(api):
    alice = signed_in(api, api.account("alice"))
    orga = signed_in(api, api.organizer())
    refused = [
        alice.post("/logout"),
        alice.post("/logout", data={"csrf_token": "forged"}),
        alice.post(
            "/submit",
            data={
                "challenge": "cartpole",
                "phase": "dev",
                "file": (io.BytesIO(zip_agent("good")), "agent.zip"),
                "csrf_token": "forged",
            },
            content_type="multipart/form-data",
        ),
        orga.post("/organize/challenges/cartpole/phases/test/reveal"),
        api.client.post("/login", data={"username": "alice", "password": "alice-password"}),
    ]
    for response in refused:
        assert response.status_code == 400
        assert "the form expired: reload the page and try again" in text(response)
    assert "alice" in text(alice.get("/"))  # still signed in
    assert count_submissions(api) == 0
    with api.db.session() as session:
        assert session.scalar(select(PhaseReveal)) is None
    # The API takes bearer tokens and needs no form token.
    assert api.upload(api.account("bob"), zip_agent("good")).status_code == 201


def test_the_submit_form_says_what_is_left_of_each_phase_quota(api):
    with api.db.session() as session:
        challenges.create(session, QUOTA_CHALLENGE, by=None)
    client = signed_in(api, api.account("alice"))
    assert '<option value="dev">dev (dev) — 1 left today</option>' in text(client.get("/submit"))
    assert upload_form(client, zip_agent("good"), challenge="tight").status_code == 302
    assert '<option value="dev">dev (dev) — 0 left today</option>' in text(client.get("/submit"))
    # cartpole: 10 a day, no total.
    assert "Development (dev) — 10 left today</option>" in text(
        client.get("/submit?challenge=cartpole")
    )


TOTAL_QUOTA_CHALLENGE = """
id: capped
title: Capped quota
environment: {id: CartPole-v1}
phases:
  - {id: dev, episodes: 3, seeds: {first: 0}}
  - {id: final, episodes: 3, seeds: {first: 100}}
quotas: {per_day: 2, total: 3}
"""


def test_the_submit_form_says_what_is_left_in_total(api):
    with api.db.session() as session:
        challenges.create(session, TOTAL_QUOTA_CHALLENGE, by=None)
    client = signed_in(api, api.account("alice"))
    form = text(client.get("/submit?challenge=capped"))
    assert '<option value="dev">dev (dev) — 2 left today, 3 of 3 in total</option>' in form
    assert upload_form(client, zip_agent("good"), challenge="capped").status_code == 302
    form = text(client.get("/submit?challenge=capped"))
    assert '<option value="dev">dev (dev) — 1 left today, 2 of 3 in total</option>' in form
    assert '<option value="final">final (final) — 2 left today, 3 of 3 in total</option>' in form


def test_submitting_through_the_form_stores_and_queues(api, monkeypatch):
    client = signed_in(api, api.account("alice"))
    form = text(client.get("/submit?challenge=cartpole"))
    assert 'accept=".zip,.tar.gz,.tgz"' in form and f'data-max-bytes="{2 * 2**20}"' in form
    assert '<option value="cartpole" selected>' in form
    response = upload_form(client, zip_agent("good"))
    assert response.status_code == 302
    submission_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert api.queue.enqueued == [submission_id]
    page = text(client.get(response.headers["Location"]))
    assert f"Submission {submission_id}" in page and "is queued for evaluation" in page

    def broken(_submission_id: int) -> None:
        raise ConnectionError("the broker is down")

    monkeypatch.setattr(api.queue, "enqueue", broken)
    kept = upload_form(client, zip_agent("good"))
    assert kept.status_code == 302 and count_submissions(api) == 2  # stored; the sweep sends it


def test_refused_uploads_show_their_reason(api):
    client = signed_in(api, api.account("alice"))
    garbage = upload_form(client, b"not an archive at all")
    assert garbage.status_code == 400
    # The page's own form mentions .zip: the reason is the alert's text.
    alert = re.search(r'<p class="error" role="alert">([^<]*)', text(garbage))
    assert alert is not None and ".zip" in alert[1] and ".tar.gz" in alert[1], alert
    missing = post(client, "/submit", {"challenge": "cartpole", "phase": "dev"})
    assert missing.status_code == 400 and "choose an agent package" in text(missing)
    no_phase = upload_form(client, zip_agent("good"), phase="final")
    assert no_phase.status_code == 404 and "no phase" in text(no_phase)
    with api.db.session() as session:
        challenges.create(session, QUOTA_CHALLENGE, by=None)
    assert upload_form(client, zip_agent("good"), challenge="tight").status_code == 302
    quota = upload_form(client, zip_agent("good"), challenge="tight")
    assert quota.status_code == 429
    assert "daily quota" in text(quota) and "next possible at <time" in text(quota)
    assert count_submissions(api) == 1 and len(api.queue.enqueued) == 1
    too_big = upload_form(client, b"x" * (3 * 2**20))  # beyond what the server reads at all
    assert too_big.status_code == 413
    assert re.search(
        r"the upload has \d+ bytes \(\d+\.\d MiB\), more than the 2097152 allowed \(2\.0 MiB\)",
        text(too_big),
    )
    assert count_submissions(api) == 1


def test_my_submissions_show_own_rows_with_live_json(api):
    alice, bob = api.account("alice"), api.account("bob")
    done = scored(api, alice, [10, 20])
    queued = api.upload(alice, zip_agent("good")).json["id"]
    other = scored(api, bob, [30, 40])
    client = signed_in(api, alice)
    page = text(client.get("/my/submissions"))
    assert f'data-id="{done}"' in page and f'data-id="{queued}"' in page
    assert f'data-id="{other}"' not in page
    assert 'data-live="/my/submissions.json"' in page and "15.00" in page
    rows = client.get("/my/submissions.json").json["submissions"]
    assert [r["id"] for r in rows] == [queued, done]
    assert rows[0]["status"] == "queued" and rows[0]["active"] is True
    assert rows[1]["score"] == 15 and rows[1]["episodes_total"] == 100


def test_a_failed_submission_shows_its_failure_and_no_none(api):
    alice = api.account("alice")
    failure = Failure("agent_error", "act raised RuntimeError: boom", 0, 0)
    submission_id = scored(api, alice, [], failure=failure)
    page = text(signed_in(api, alice).get(f"/my/submissions/{submission_id}"))
    assert "None" not in page
    failed = 'Failed with <a href="#failure"><code>agent_error</code></a> before any episode'
    assert failed in page
    assert "— no score" in page and 'id="failure"' in page and "RuntimeError: boom" in page


def test_one_submission_shows_result_histogram_and_logs(api):
    alice = api.account("alice")
    public = scored(api, alice, [10, 20, 30])
    hidden = scored(api, alice, [50, 60], phase="test")
    with api.db.session() as session:
        for submission_id in (public, hidden):
            session.get_one(
                Submission, submission_id
            ).logs = (
                "out| agent says <hello>\nerr| a warning\n[... 9 bytes of output skipped ...]\n"
            )
    client = signed_in(api, alice)
    page = text(client.get(f"/my/submissions/{public}"))
    assert "Episode returns" in page and "<svg" in page and "mean_return" in page
    # In the order written, each line marked with its stream; the note has no mark.
    assert (
        '<span class="line out"><span class="stream">out</span>agent says &lt;hello&gt;</span>'
        '<span class="line err"><span class="stream">err</span>a warning</span>'
        '<span class="line note"><span class="stream"></span>[... 9 bytes' in page
    )
    assert ">hidden</td>" in text(client.get("/my/submissions"))  # scored, not yet revealed
    secret = text(client.get(f"/my/submissions/{hidden}"))
    assert "agent says" not in secret and "details are hidden in hidden phases" in secret
    assert "55.00" not in secret and "<svg" not in secret
    organizer = text(signed_in(api, api.organizer()).get(f"/my/submissions/{hidden}"))
    assert "agent says &lt;hello&gt;" in organizer and "<svg" in organizer


def test_organizers_create_and_edit_challenges_from_yaml(api):
    client = signed_in(api, api.organizer())
    assert "environment:" in text(client.get("/organize/challenges/new"))
    bad = post(client, "/organize/challenges/new", {"spec_yaml": "id: x\ntitle: [unclosed"})
    assert bad.status_code == 400 and "not valid YAML at line" in text(bad)
    wrong = QUOTA_CHALLENGE.replace("episodes: 3", "episodes: 0")
    field = post(client, "/organize/challenges/new", {"spec_yaml": wrong})
    assert field.status_code == 400 and "phases[0].episodes" in text(field)
    created = post(
        client,
        "/organize/challenges/new",
        {"spec_file": (io.BytesIO(QUOTA_CHALLENGE.encode()), "tight.yaml")},
        content_type="multipart/form-data",
    )
    assert created.status_code == 302 and created.headers["Location"] == "/challenges/tight"
    again = post(client, "/organize/challenges/new", {"spec_yaml": QUOTA_CHALLENGE})
    assert again.status_code == 400 and "exists" in text(again)

    edit = text(client.get("/organize/challenges/tight/edit"))
    assert "current version 1" in edit and "quotas: {per_day: 1}" in edit
    changed = QUOTA_CHALLENGE.replace("Tight quota", "Tight quota, renamed")
    saved = post(client, "/organize/challenges/tight/edit", {"spec_yaml": changed})
    assert saved.status_code == 302
    assert "Saved as version 2" in text(client.get("/challenges/tight"))
    assert "current version 2" in text(client.get("/organize/challenges/tight/edit"))
    other = post(client, "/organize/challenges/tight/edit", {"spec_yaml": wrong})
    assert other.status_code == 400 and "phases[0].episodes" in text(other)


def test_organizers_create_and_update_challenges_from_a_bundle_on_the_page(api):
    from aigc.submissions.bundle import pack_bundle

    corridor = Path(__file__).parents[1] / "submissions" / "environments" / "corridor"
    client = signed_in(api, api.organizer())
    assert 'name="bundle_file"' in text(client.get("/organize/challenges/new"))
    bad = post(
        client,
        "/organize/challenges/new",
        {"bundle_file": (io.BytesIO(b"not an archive"), "bundle.zip")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 400 and "is not a .zip or .tar.gz archive" in text(bad)
    created = post(
        client,
        "/organize/challenges/new",
        {"bundle_file": (io.BytesIO(pack_bundle(corridor)), "corridor.zip")},
        content_type="multipart/form-data",
    )
    assert created.status_code == 302 and created.headers["Location"] == "/challenges/corridor"
    with api.db.session() as session:
        record = challenges.version_of(challenges.find(session, "corridor"))
        assert record.bundle_sha256 is not None and record.version == 1
    spec = (corridor / "challenge.yaml").read_text().replace("length: 8", "length: 6")
    changed = io.BytesIO()
    with zipfile.ZipFile(changed, "w") as zf:
        zf.writestr("challenge.yaml", spec)
        zf.writestr("corridor.py", (corridor / "corridor.py").read_text())
    saved = post(
        client,
        "/organize/challenges/corridor/edit",
        {"bundle_file": (io.BytesIO(changed.getvalue()), "corridor.zip")},
        content_type="multipart/form-data",
    )
    assert saved.status_code == 302
    assert "Saved as version 2" in text(client.get("/challenges/corridor"))
    with api.db.session() as session:
        assert challenges.find(session, "corridor").current_version == 2


def test_organizers_rerun_cancel_and_disqualify_through_forms(api):
    alice = api.account("alice")
    finished = scored(api, alice, [10, 20])
    queued = api.upload(alice, zip_agent("good")).json["id"]
    client = signed_in(api, api.organizer())
    page = text(client.get("/organize/submissions?challenge=cartpole"))
    assert f'data-id="{finished}"' in page and "Rerun" in page and "Disqualify" in page
    only_queued = text(client.get("/organize/submissions?status=queued"))
    assert f'data-id="{queued}"' in only_queued and f'data-id="{finished}"' not in only_queued

    api.queue.enqueued.clear()
    back = "/organize/submissions?status=queued"
    response = post(client, f"/organize/submissions/{finished}/rerun", {"next": back})
    assert response.status_code == 302 and response.headers["Location"] == back
    assert api.queue.enqueued == [finished]
    assert post(client, f"/organize/submissions/{queued}/cancel").status_code == 302
    empty = post(client, f"/organize/submissions/{queued}/disqualify", {"reason": "  "})
    assert empty.status_code == 302
    assert "give a reason" in text(client.get("/organize/submissions"))
    post(client, f"/organize/submissions/{queued}/disqualify", {"reason": "copied <code>"})
    refused = post(client, f"/organize/submissions/{queued}/cancel")
    assert "nothing to cancel" in text(client.get(refused.headers["Location"]))
    with api.db.session() as session:
        assert session.get_one(Submission, finished).status == "queued"
        cancelled = session.get_one(Submission, queued)
        assert cancelled.status == "cancelled" and cancelled.disqualified_reason == "copied <code>"
    mine = text(signed_in(api, alice).get("/my/submissions"))
    assert "disqualified: copied &lt;code&gt;" in mine


def test_hidden_phase_boards_wait_for_the_reveal(api):
    alice = api.account("alice")
    scored(api, alice, [42, 44], phase="test")
    for client in (api.client, signed_in(api, alice)):
        response = client.get("/challenges/cartpole/leaderboard?phase=test")
        assert response.status_code == 200  # a normal page that says why it shows no rows
        page = text(response)
        assert "hidden until the organizers reveal it" in page and "43.00" not in page
    orga = signed_in(api, api.organizer())
    page = text(orga.get("/challenges/cartpole/leaderboard?phase=test"))
    assert "43.00" in page and "Hidden phase." in page and ">Reveal</button>" in page
    response = post(orga, "/organize/challenges/cartpole/phases/test/reveal")
    assert response.headers["Location"] == "/challenges/cartpole/leaderboard?phase=test"
    assert "is revealed" in text(orga.get(response.headers["Location"]))
    shown = api.client.get("/challenges/cartpole/leaderboard?phase=test")
    assert (
        shown.status_code == 200 and "43.00" in text(shown) and "Reveal</button>" not in text(shown)
    )
    again = post(orga, "/organize/challenges/cartpole/phases/test/reveal")
    assert "revealed already" in text(orga.get(again.headers["Location"]))


def test_user_supplied_text_is_escaped(api):
    orga = signed_in(api, api.organizer())
    spec = QUOTA_CHALLENGE.replace(
        "description: One a day.",
        "description: |\n  Hi <script>alert(1)</script> [x](javascript:alert(2)) **bold**",
    )
    assert post(orga, "/organize/challenges/new", {"spec_yaml": spec}).status_code == 302
    page = text(api.client.get("/challenges/tight"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<strong>bold</strong>" in page
    assert "<script>alert" not in page and 'href="javascript' not in page

    alice = api.account("alice")
    team = api.client.post("/api/v1/teams", json={"name": "<b>x</b>"}, headers=alice.headers)
    assert team.status_code == 201
    scored(api, alice, [5, 6])
    for response in (
        api.client.get("/challenges/cartpole/leaderboard"),
        orga.get("/organize/submissions"),
    ):
        body = text(response)
        assert "&lt;b&gt;x&lt;/b&gt;" in body and "<b>x</b>" not in body


def test_the_leaderboard_shows_rows_intervals_badges_and_charts(api):
    alice, bob = api.account("alice"), api.account("bob")
    scored(api, alice, [100, 110, 120])
    best = scored(api, alice, [300, 310, 305])
    close = scored(api, bob, [298, 312, 304])
    make_baseline(api, [200, 210, 190])
    response = api.client.get("/challenges/cartpole/leaderboard?phase=dev")
    assert response.status_code == 200
    page = text(response)
    assert page.index("alice") < page.index("bob")
    assert re.search(r"305\.0 \[\d+\.\d, \d+\.\d\]", page)
    assert 'class="overlap" title="the 95% interval overlaps' in page and "≈" in page
    assert '<span class="badge baseline">baseline</span>' in page
    assert "<td>—</td>" in page  # the baseline takes no rank
    assert page.count("<svg") == 4 and "Best over time: Mean return" in page  # wide and narrow
    assert f"alice (submission {best})" in page  # the default histogram: the first row
    assert "/api/v1/challenges/cartpole/leaderboard?phase=dev&amp;format=csv" in page
    assert "/api/v1/challenges/cartpole/leaderboard?phase=dev&amp;format=json" in page
    chosen = text(api.client.get(f"/challenges/cartpole/leaderboard?phase=dev&submission={close}"))
    assert f"bob (submission {close})" in chosen
    stranger = text(api.client.get("/challenges/cartpole/leaderboard?submission=999999"))
    assert f"alice (submission {best})" in stranger
    assert api.client.get("/challenges/cartpole/leaderboard?phase=final").status_code == 404
    cache = api.app.extensions["aigc"].fragments
    assert any(key[0] == "progress" for key in cache.entries)  # charts are drawn once


@pytest.mark.parametrize("path", ["/nope", "/challenges/nope/leaderboard"])
def test_errors_are_pages_for_browsers_and_json_for_the_api(api, path):
    page = api.client.get(path)
    assert page.status_code == 404 and page.mimetype == "text/html" and "<nav" in text(page)
    api_error = api.client.get("/api/v1" + path)
    assert api_error.status_code == 404 and api_error.json["error"]["status"] == 404
    assert api.client.post("/api/v1/tokens", json={}).status_code == 400  # no CSRF on the API


@pytest.mark.parametrize("https", [False, True])
def test_the_session_cookie_is_http_only_lax_and_secure_over_https(settings, db, https):
    app = start(settings.with_(https=https), queue=RecordingQueue()).app
    cookie = app.test_client().get("/login").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ("Secure" in cookie) is https
