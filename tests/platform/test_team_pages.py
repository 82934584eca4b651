"""The team pages: make a team, join it by code, see its members, leave it (with CSRF)."""

from __future__ import annotations

import re

from .conftest import Api
from .forms import post, signed_in, text

CODE = re.compile(r'<code class="join-code">([^<]+)</code>')


def test_make_join_list_and_leave_a_team(api: Api) -> None:
    alice, bob = signed_in(api, api.account("alice")), signed_in(api, api.account("bob"))
    page = text(alice.get("/"))
    assert 'href="/team"' in page  # the header links to it
    empty = text(alice.get("/team"))
    assert "You are in no team" in empty and 'action="/team/create"' in empty

    made = post(alice, "/team/create", {"name": "<b>Pole vaulters</b>"})
    assert made.status_code == 302 and made.headers["Location"] == "/team"
    mine = text(alice.get("/team"))
    assert "Team &lt;b&gt;Pole vaulters&lt;/b&gt; is made" in mine  # escaped, flashed
    assert "<h1>Team &lt;b&gt;Pole vaulters&lt;/b&gt;</h1>" in mine
    code = CODE.search(mine)
    assert code is not None

    wrong = post(bob, "/team/join", {"code": "not-the-code"})
    assert "no team has this join code" in text(bob.get(wrong.headers["Location"]))
    post(bob, "/team/join", {"code": code[1]})
    members = text(bob.get("/team"))
    assert "You are in team &lt;b&gt;Pole vaulters&lt;/b&gt; now." in members
    assert re.search(r"<li>alice</li>\s*<li>bob</li>", members)
    shown = api.client.get("/api/v1/me/team", headers=api.account("carol").headers)
    assert shown.status_code == 404  # carol is in no team

    again = post(alice, "/team/create", {"name": "another"})
    assert "you are in team" in text(alice.get(again.headers["Location"]))
    post(bob, "/team/leave")
    left = text(bob.get("/team"))
    assert (
        "You left team &lt;b&gt;Pole vaulters&lt;/b&gt;." in left and "You are in no team" in left
    )
    assert "<li>bob</li>" not in text(alice.get("/team"))


def test_team_forms_need_the_csrf_token_and_a_sign_in(api: Api) -> None:
    alice = signed_in(api, api.account("alice"))
    forged = alice.post("/team/create", data={"name": "forged"})
    assert forged.status_code == 400
    assert "You are in no team" in text(alice.get("/team"))
    anonymous = api.app.test_client().get("/team")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
