"""A browser of the test client: signed in through the form, posting with its CSRF token."""

from __future__ import annotations

import io
import re

from flask.testing import FlaskClient

from .conftest import Account, Api

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def text(response) -> str:
    return response.get_data(as_text=True)


def token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the client's session, as a page's form carries it."""
    found = TOKEN.search(text(client.get(path)))
    assert found, f"no CSRF field on {path}"
    return found.group(1)


def signed_in(api: Api, who: Account) -> FlaskClient:
    """A browser of its own, logged in through the form."""
    client = api.app.test_client()
    response = client.post(
        "/login",
        data={"username": who.username, "password": who.password, "csrf_token": token(client)},
    )
    assert response.status_code == 302, text(response)
    return client


def post(client: FlaskClient, path: str, data: dict | None = None, **kwargs):
    """Post a form the way a page would: with the session's CSRF token."""
    with client.session_transaction() as session:
        csrf = session["csrf_token"]
    return client.post(path, data={**(data or {}), "csrf_token": csrf}, **kwargs)


def upload_form(client: FlaskClient, data: bytes, filename: str = "agent.zip", **fields):
    form = {"challenge": "cartpole", "phase": "dev", **fields}
    form["file"] = (io.BytesIO(data), filename)
    return post(client, "/submit", form, content_type="multipart/form-data")
