"""Archived challenges: off the lists and the home page, closed to submissions, results and
pages kept for organizers and those who submitted."""

from __future__ import annotations

from .conftest import Api, scored, zip_agent
from .forms import signed_in, text


def listed(api: Api, headers: dict[str, str] | None = None, **params: str) -> list[str]:
    answer = api.client.get("/api/v1/challenges", headers=headers or {}, query_string=params)
    return [c["id"] for c in answer.json["challenges"]]


def test_an_archived_challenge_is_hidden_closed_and_kept(api: Api) -> None:
    alice, bob, orga = api.account("alice"), api.account("bob"), api.organizer()
    first = scored(api, alice, [100.0, 110.0])
    assert (
        api.client.post("/api/v1/challenges/cartpole/archive", headers=alice.headers).status_code
        == 403
    )
    archived = api.client.post("/api/v1/challenges/cartpole/archive", headers=orga.headers)
    assert archived.status_code == 200 and archived.json["archived"] is True
    again = api.client.post("/api/v1/challenges/cartpole/archive", headers=orga.headers)
    assert again.status_code == 409 and "archived already" in again.json["error"]["message"]

    # Off the lists and the home page; organizers may ask for it.
    assert "cartpole" not in listed(api) and "cartpole" not in listed(api, orga.headers)
    assert "cartpole" in listed(api, orga.headers, archived="1")
    assert "cartpole" not in listed(api, alice.headers, archived="1")
    assert "/challenges/cartpole" not in text(api.client.get("/"))
    assert 'value="cartpole"' not in text(signed_in(api, bob).get("/submit"))

    # Closed to submissions, in one line.
    refused = api.upload(alice, zip_agent("good"))
    assert refused.status_code == 409
    assert refused.json["error"]["message"] == (
        "challenge 'cartpole' is archived: it takes no more submissions"
    )

    # Reachable by URL for organizers and submitters, with the results kept.
    for who, status in ((None, 404), (bob, 404), (alice, 200), (orga, 200)):
        headers = who.headers if who else {}
        shown = api.client.get("/api/v1/challenges/cartpole", headers=headers)
        board = api.client.get("/api/v1/challenges/cartpole/leaderboard", headers=headers)
        assert (shown.status_code, board.status_code) == (status, status), who
    board = api.client.get("/api/v1/challenges/cartpole/leaderboard", headers=alice.headers)
    assert [r["submission_id"] for r in board.json["rows"]] == [first]
    assert api.client.get("/challenges/cartpole").status_code == 404
    assert signed_in(api, bob).get("/challenges/cartpole/leaderboard").status_code == 404
    mine = signed_in(api, alice)
    assert mine.get("/challenges/cartpole").status_code == 200
    assert mine.get("/challenges/cartpole/leaderboard").status_code == 200
    assert signed_in(api, orga).get("/challenges/cartpole").status_code == 200

    # Unarchived, it is back everywhere.
    back = api.client.post("/api/v1/challenges/cartpole/unarchive", headers=orga.headers)
    assert back.status_code == 200 and back.json["archived"] is False
    assert "cartpole" in listed(api)
    assert api.upload(alice, zip_agent("good")).status_code == 201
    unarchived = api.client.post("/api/v1/challenges/cartpole/unarchive", headers=orga.headers)
    assert (
        unarchived.status_code == 409
        and "not archived already" in unarchived.json["error"]["message"]
    )


def test_the_archive_migration_goes_down_and_up_again(api: Api) -> None:
    from alembic import command
    from sqlalchemy import inspect

    orga = api.organizer()
    assert (
        api.client.post("/api/v1/challenges/taxi/archive", headers=orga.headers).status_code == 200
    )
    config = api.db.alembic_config()
    with api.db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
        columns = {c["name"] for c in inspect(connection).get_columns("challenge")}
        assert "archived_at" not in columns
    api.db.migrate()
    assert api.db.is_current()
    assert "taxi" in listed(api)  # an archive made before the downgrade is gone with it
