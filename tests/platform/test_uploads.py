"""Uploads: checked like evaluation opens them, refused with one line, stored once by hash."""

from __future__ import annotations

import io
import json
import secrets
import tarfile
import zipfile

from werkzeug.test import EnvironBuilder, run_wsgi_app

from aigc.platform.submission_actions import FORM_OVERHEAD

from .conftest import zip_agent


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


MANIFEST = b'name = "agent"\nentry_point = "agent:Agent"\n'
AGENT = b"""class Agent:
    def __init__(self, observation_space, action_space):
        pass

    def act(self, observation):
        return 0
"""


def stored_files(api) -> list:
    root = api.app.extensions["aigc"].store.root
    return sorted(p for p in root.rglob("*") if p.is_file())


def refused(api, data: bytes, filename: str = "agent.zip", status: int = 400) -> str:
    response = api.upload(api.account(f"mallory-{secrets.token_hex(3)}"), data, filename=filename)
    assert response.status_code == status, response.json
    message = response.json["error"]["message"]
    assert "\n" not in message
    assert stored_files(api) == []  # nothing of a refused upload is kept
    assert api.queue.enqueued == []
    return message


def test_good_upload_is_stored_by_its_hash_once(api):
    alice = api.account("alice")
    data = zip_agent("good")
    first = api.upload(alice, data)
    second = api.upload(alice, data)
    assert first.status_code == second.status_code == 201
    assert first.json["package"]["sha256"] == second.json["package"]["sha256"]
    [stored] = stored_files(api)
    assert stored.name == first.json["package"]["sha256"] and stored.read_bytes() == data
    assert stored.stat().st_mode & 0o777 == 0o640


def test_storage_is_not_served(api):
    alice = api.account("alice")
    sha = api.upload(alice, zip_agent("good")).json["package"]["sha256"]
    for path in (f"/{sha}", f"/static/{sha}", f"/storage/{sha[:2]}/{sha}"):
        assert api.client.get(path).status_code == 404


def test_package_inside_a_top_folder_is_accepted(api):
    response = api.upload(api.account("alice"), zip_agent("good", top_folder="my-agent"))
    assert response.status_code == 201, response.json
    assert response.json["package"]["name"] == "good"


def test_tar_gz_is_accepted(api):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (("aigc.toml", MANIFEST), ("agent.py", AGENT)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    response = api.upload(api.account("alice"), buffer.getvalue(), filename="agent.tar.gz")
    assert response.status_code == 201, response.json


def test_not_an_archive(api):
    message = refused(api, b"print('hello')\n", filename="agent.zip")
    assert "not a .zip or .tar.gz archive" in message


def test_traversal(api):
    message = refused(api, zip_of({"aigc.toml": MANIFEST, "../../etc/evil.py": b"x"}))
    assert "'../../etc/evil.py'" in message


def test_zip_bomb(api):
    # 3 MiB of zeros compress to a few KiB; packages may unpack to 2 MiB here.
    archive = zip_of({"aigc.toml": MANIFEST, "agent.py": AGENT, "weights.bin": b"\0" * 3 * 2**20})
    assert len(archive) < 64 * 1024
    message = refused(api, archive)
    assert "weights.bin" in message


def test_missing_manifest(api):
    message = refused(api, zip_of({"agent.py": AGENT}))
    assert "aigc.toml" in message


def test_missing_entry_module(api):
    message = refused(api, zip_of({"aigc.toml": MANIFEST, "other.py": AGENT}))
    assert "entry point module 'agent' not found" in message


def test_too_big_for_the_platform(api):
    cap = api.app.extensions["aigc"].settings.max_upload_bytes
    # Just over the package cap: refused by the upload check.
    message = refused(api, b"x" * (cap + 1), status=413)
    assert f"the upload has {cap + 1} bytes (2.0 MiB), more than the {cap} allowed" in message
    # Far over: refused on its Content-Length before the body is read, naming both sizes.
    message = refused(api, b"x" * (cap + FORM_OVERHEAD + 1), status=413)
    assert message.startswith("the upload has ") and f"more than the {cap} allowed" in message


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(api):
    """Only the headers count: a body that fails when read is never touched."""
    cap = api.app.extensions["aigc"].settings.max_upload_bytes
    who = api.account("big")
    declared = cap + FORM_OVERHEAD + 1
    environ = EnvironBuilder(
        path="/api/v1/submissions",
        method="POST",
        headers=who.headers,
        content_type="multipart/form-data; boundary=x",
    ).get_environ()
    environ.update({"wsgi.input": NeverRead(), "CONTENT_LENGTH": str(declared)})
    body, status, _headers = run_wsgi_app(api.app, environ, buffered=True)
    assert status.startswith("413")
    assert json.loads(b"".join(body))["error"]["message"] == (
        f"the upload has {declared} bytes ({declared / 2**20:.1f} MiB), more than the {cap} "
        f"allowed ({cap / 2**20:.1f} MiB): shrink the package (leave out what the agent does "
        "not load)"
    )


class NeverRead(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        raise AssertionError("the body was read")


def test_unknown_challenge_and_phase(api):
    response = api.upload(api.account("alice"), zip_agent("good"), challenge="nope")
    assert response.status_code == 404
    assert "there is no challenge 'nope'" in response.json["error"]["message"]
    response = api.upload(api.account("bob"), zip_agent("good"), phase="final")
    assert response.status_code == 404
    assert "choose one of dev, test" in response.json["error"]["message"]


def test_anonymous_upload_is_401(api):
    response = api.upload(None, zip_agent("good"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_form_without_file(api):
    alice = api.account("alice")
    response = api.client.post(
        "/api/v1/submissions", data={"challenge": "cartpole"}, headers=alice.headers
    )
    assert response.status_code == 400
    assert "'file'" in response.json["error"]["message"]


def test_control_characters_of_a_filename_reach_no_header_or_listing(api):
    alice = api.account("alice")
    name = "ag\x07\x0bX-Injected: 1\x1b[31m\u202eent.zip"
    response = api.upload(alice, zip_agent("good"), filename=name)
    assert response.status_code == 201, response.json
    stored = response.json["package"]["filename"]
    assert stored == "ag__X-Injected: 1_[31m_ent.zip"
    download = api.client.get(
        f"/api/v1/submissions/{response.json['id']}/package", headers=alice.headers
    )
    assert download.status_code == 200
    disposition = download.headers["Content-Disposition"]
    assert "X-Injected" in disposition
    assert disposition.isprintable() and "\u202e" not in disposition
