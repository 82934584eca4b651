"""Requests no form would send: ids past the database's integer range, wrong methods.

Every one is answered with a 4xx that says what is wrong, never a server error, on SQLite
(whose integers end at 2^63) and PostgreSQL (whose ids end at 2^31).
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from werkzeug.routing.converters import NumberConverter

from aigc.platform.ids import MAX_ID, IndexConverter

from .conftest import Api, zip_agent
from .forms import post, signed_in, text

# Past PostgreSQL's integer, past SQLite's, past 64 bits, and far past anything.
OUT_OF_RANGE = [MAX_ID + 1, 2**63, 2**64, 10**40]
ID_ARGUMENT = re.compile(r"<[^<>]*:submission_id>")
pytestmark = pytest.mark.hostile


def id_routes(app: Flask) -> list[tuple[str, str]]:
    """(rule, method) of every route, API and pages, that takes a submission id."""
    found = []
    for rule in app.url_map.iter_rules():
        if "submission_id" in rule.arguments:
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                found.append((rule.rule, method))
    return found


def test_every_integer_in_a_url_is_bounded_to_the_databases_range(app: Flask) -> None:
    numbers = [
        (rule.rule, converter)
        for rule in app.url_map.iter_rules()
        for converter in rule._converters.values()
        if isinstance(converter, NumberConverter)
    ]
    assert len(numbers) >= 10, numbers  # six API routes and five pages take an id
    for rule, converter in numbers:
        first = 0 if isinstance(converter, IndexConverter) else 1  # positions count from 0
        assert (converter.min, converter.max) == (first, MAX_ID), rule


def test_ids_beyond_the_databases_range_are_404_on_every_route(api: Api) -> None:
    orga = api.organizer()
    submission_id = api.upload(orga, zip_agent("good")).get_json()["id"]
    browser = signed_in(api, orga)
    routes = id_routes(api.app)
    assert len(routes) >= 11, routes
    for rule, method in routes:
        for value in [*OUT_OF_RANGE, 0]:
            path = ID_ARGUMENT.sub(str(value), rule)
            if path.startswith("/api/v1/"):
                response = api.client.open(
                    path, method=method, headers=orga.headers, json={"reason": "cheating"}
                )
                assert response.status_code == 404, (method, path, response.get_data())
                assert response.get_json()["error"]["status"] == 404, (method, path)
            else:
                response = (
                    post(browser, path, {"reason": "cheating"})
                    if method == "POST"
                    else browser.get(path)
                )
                assert response.status_code == 404, (method, path)
                assert response.mimetype == "text/html", (method, path)
    # The largest id the databases hold is still looked up: no such submission, said plainly.
    largest = api.client.get(f"/api/v1/submissions/{MAX_ID}", headers=orga.headers)
    assert largest.get_json()["error"]["message"] == f"you have no submission {MAX_ID}"
    mine = api.client.get(f"/api/v1/submissions/{submission_id}", headers=orga.headers)
    assert mine.status_code == 200


def test_a_wrong_method_is_405_naming_the_allowed_ones(api: Api) -> None:
    alice = api.account("alice")
    refused = api.client.put("/api/v1/me", headers=alice.headers)
    assert refused.status_code == 405
    assert refused.get_json()["error"]["status"] == 405
    assert {"GET", "HEAD", "OPTIONS"} <= set(refused.headers["Allow"].split(", "))
    deleted = api.client.delete("/api/v1/challenges")
    assert deleted.status_code == 405
    assert {"GET", "POST"} <= set(deleted.headers["Allow"].split(", "))
    page = api.client.put("/login")
    assert page.status_code == 405 and "<nav" in text(page)
    assert {"GET", "POST"} <= set(page.headers["Allow"].split(", "))
