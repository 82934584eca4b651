"""The OpenAPI document at /api/v1/openapi.json says what the routes really do."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema  # with openapi-spec-validator, in the dev extra
import openapi_spec_validator
import pytest
from flask import Flask

from aigc.platform.api import route_docs
from aigc.platform.api.routes import API_PREFIX
from aigc.platform.app import create_app
from aigc.platform.ids import MAX_ID
from aigc.platform.settings import Settings

from .conftest import BAD_SIGN_UPS, Api, RecordingQueue, zip_agent
from .route_table import CASES, build_world

SKIPPED_METHODS = {"HEAD", "OPTIONS"}
ROUTES = route_docs()


@pytest.fixture(scope="module")
def doc_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """An app whose database is never touched: the document needs none."""
    folder: Path = tmp_path_factory.mktemp("openapi")
    settings = Settings(
        data_dir=folder,
        database_url=f"sqlite:///{folder / 'unused.db'}",
        broker_url=None,
        storage_dir=folder / "storage",
        sandbox="local",
        secret_key="test-secret-key",
    )
    return create_app(settings, queue=RecordingQueue())


@pytest.fixture(scope="module")
def doc(doc_app: Flask) -> dict[str, Any]:
    response = doc_app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def openapi_path(flask_rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", flask_rule)


def operation(doc: dict[str, Any], method: str, rule: str) -> dict[str, Any]:
    return doc["paths"][openapi_path(API_PREFIX + rule)][method.lower()]


def test_every_api_url_rule_is_documented_with_the_same_methods_and_nothing_else(
    doc_app: Flask, doc: dict[str, Any]
) -> None:
    served: dict[str, set[str]] = {}
    for rule in doc_app.url_map.iter_rules():
        if rule.rule.startswith(API_PREFIX):
            methods = set(rule.methods or ()) - SKIPPED_METHODS
            served.setdefault(openapi_path(rule.rule), set()).update(methods)
    documented = {
        path: {method.upper() for method in item if method != "parameters"}
        for path, item in doc["paths"].items()
    }
    assert documented == served


def test_documented_path_parameters_are_exactly_those_in_the_path(doc: dict[str, Any]) -> None:
    for path, item in doc["paths"].items():
        in_path = set(re.findall(r"{([^}]+)}", path))
        for method, op in item.items():
            params = [p for p in op.get("parameters", []) if p["in"] == "path"]
            assert {p["name"] for p in params} == in_path, (method, path)
            assert all(p["required"] is True for p in params), (method, path)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_every_ref_resolves(doc: dict[str, Any]) -> None:
    refs = _refs(doc)
    assert refs, "the document has no $ref at all: the walk is broken"
    for ref in refs:
        assert ref.startswith("#/"), ref
        target: Any = doc
        for part in ref[2:].split("/"):
            assert isinstance(target, dict) and part in target, f"{ref} does not resolve"
            target = target[part]


def test_each_operation_documents_one_success_status_and_its_declared_errors(
    doc: dict[str, Any],
) -> None:
    ids = []
    for route in ROUTES:
        op = operation(doc, route.method, route.rule)
        ids.append(op["operationId"])
        successes = [code for code in op["responses"] if code.startswith("2")]
        assert successes == [str(route.success)], route.rule
        assert {code for code in op["responses"] if not code.startswith("2")} == {
            str(code) for code in route.errors
        }, route.rule
        assert op["x-access"] == route.access
        assert ("security" in op) == (route.access != "anyone"), route.rule
    assert len(ids) == len(set(ids)), "operationIds are not unique"


def test_every_error_status_the_permission_table_expects_is_documented(
    doc: dict[str, Any],
) -> None:
    # test_permissions proves each cell of CASES against the running app.
    missing = set()
    for case in CASES:
        responses = operation(doc, case.method, case.rule)["responses"]
        for caller in ("anonymous", "other", "owner", "organizer"):
            status = case.expected(caller)
            if str(status) not in responses:
                missing.add(f"{case.id}: {status}")
    assert missing == set()


def test_documented_success_status_is_what_each_route_returns(api: Api, doc: dict) -> None:
    client = api.client

    def documented(method: str, rule: str, response: Any) -> None:
        op = operation(doc, method, rule)
        success = next(code for code in op["responses"] if code.startswith("2"))
        assert str(response.status_code) == success, (method, rule, response.get_json())

    credentials = {"username": "dora", "password": "dora-password"}
    documented("POST", "/users", client.post("/api/v1/users", json=credentials))
    signed_in = client.post("/api/v1/tokens", json=credentials)
    documented("POST", "/tokens", signed_in)
    dora = {"Authorization": f"Bearer {signed_in.get_json()['token']}"}
    documented("GET", "/challenges", client.get("/api/v1/challenges"))
    documented("GET", "/me", client.get("/api/v1/me", headers=dora))
    documented("POST", "/teams", client.post("/api/v1/teams", json={"name": "doras"}, headers=dora))
    documented("DELETE", "/me/team", client.delete("/api/v1/me/team", headers=dora))
    account = api.account("erin")
    documented("POST", "/submissions", api.upload(account, zip_agent("good")))
    documented("DELETE", "/tokens/current", client.delete("/api/v1/tokens/current", headers=dora))


def test_error_statuses_the_routes_return_are_documented(api: Api, doc: dict) -> None:
    world = build_world(api)
    client = world.api.client

    def documented(method: str, rule: str, response: Any, status: int) -> None:
        assert response.status_code == status, (method, rule)
        assert str(status) in operation(doc, method, rule)["responses"], (method, rule)

    for route in ROUTES:
        if route.access == "anyone":
            continue
        case = next(c for c in CASES if (c.method, c.rule) == (route.method, route.rule))
        documented(route.method, route.rule, case.call(world, "anonymous"), 401)
        if route.access == "organizer":
            documented(route.method, route.rule, case.call(world, "other"), 403)
        elif "<id:submission_id>" in route.rule:
            documented(route.method, route.rule, case.call(world, "other"), 404)
    documented("GET", "/challenges/<slug>", client.get("/api/v1/challenges/nope"), 404)


def test_document_is_valid_openapi(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1")
    openapi_spec_validator.validate(doc)


def test_path_parameters_declare_what_the_routes_accept(doc: dict[str, Any]) -> None:
    seen = set()
    for path, item in doc["paths"].items():
        for op in item.values():
            for param in op.get("parameters", []):
                if param["in"] != "path":
                    continue
                seen.add(param["name"])
                if param["name"].endswith("_id"):
                    # Ids past the databases' integer range are 404 before any query.
                    assert param["schema"] == {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_ID,
                    }, path
                else:
                    assert param["schema"] == {"type": "string", "minLength": 1}, path
    assert seen == {"submission_id", "slug", "phase", "index"}


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        target: Any = doc
        for part in schema["$ref"][2:].split("/"):
            target = target[part]
        return dict(target)
    return schema


def test_required_text_in_request_bodies_may_not_be_empty(doc: dict[str, Any]) -> None:
    checked = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for media, content in op.get("requestBody", {}).get("content", {}).items():
                schema = _resolve(doc, content["schema"])
                if schema.get("type") == "string" and "format" not in schema:
                    assert schema.get("minLength", 0) >= 1, (method, path, media)
                    checked.append((method, path, media))
                for name in schema.get("required", []):
                    field = schema["properties"][name]
                    if field.get("type") == "string" and "format" not in field:
                        assert field.get("minLength", 0) >= 1, (method, path, name)
                        checked.append((method, path, name))
    # username and password twice, team name, join code, challenge, two specs, reason
    assert len(checked) >= 10, checked


def test_the_leaderboard_declares_its_csv_answer(api: Api, doc: dict[str, Any]) -> None:
    content = operation(doc, "GET", "/challenges/<slug>/leaderboard")["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/csv"}
    for form, media in (("json", "application/json"), ("csv", "text/csv")):
        answer = api.client.get(f"/api/v1/challenges/cartpole/leaderboard?format={form}")
        assert answer.status_code == 200 and answer.mimetype == media


def test_refusals_that_say_when_to_retry_declare_retry_after(doc: dict[str, Any]) -> None:
    for method, rule in (("POST", "/tokens"), ("POST", "/users"), ("POST", "/submissions")):
        refused = operation(doc, method, rule)["responses"]["429"]
        assert refused["headers"]["Retry-After"]["schema"]["type"] == "integer", rule
    token = doc["components"]["schemas"]["Token"]["properties"]
    assert token["expires_at"] == {"type": "string", "format": "date-time"}


def test_sign_up_documents_what_a_username_and_password_must_be(
    api: Api, doc: dict[str, Any]
) -> None:
    body = operation(doc, "POST", "/users")["requestBody"]["content"]["application/json"]
    schema = _resolve(doc, body["schema"])
    for case, _says in BAD_SIGN_UPS:
        if isinstance(case, dict) and all(isinstance(v, str) for v in case.values()):
            refused = api.client.post("/api/v1/users", json=case)
            assert refused.status_code == 400, case
            assert not jsonschema.Draft202012Validator(schema).is_valid(case), case
    good = {"username": "alice.b-c_d", "password": "long-enough"}
    jsonschema.validate(good, schema)
    assert api.client.post("/api/v1/users", json=good).status_code == 201
