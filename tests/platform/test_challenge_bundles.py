"""Challenge bundles over the API: checked like packages, stored by sha256, versioned, evaluated.

The organizer's environment runs in the platform's sandbox (the local one here; the Docker
one in tests/submissions/test_environment_sandbox.py and tests/cli/test_challenge_cli.py).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import pytest

from aigc.platform.context import platform
from aigc.platform.replay_cache import cache_for, render_replay
from aigc.platform.worker_run import DONE, run_submission
from aigc.submissions.bundle import pack_bundle
from aigc.submissions.challenge import parse_challenge_yaml
from aigc.submissions.docker_sandbox import DockerSandbox
from aigc.submissions.evaluator import evaluate
from aigc.submissions.sandbox import LocalSandbox

from .conftest import AGENTS, Account, Api, error, zip_agent

ENVIRONMENTS = Path(__file__).parents[1] / "submissions" / "environments"
CORRIDOR = ENVIRONMENTS / "corridor"


def send_bundle(api: Api, who: Account, data: bytes, slug: str | None = None) -> Any:
    form = {"file": (io.BytesIO(data), "bundle.zip")}
    if slug is None:
        return api.client.post(
            "/api/v1/challenges", data=form, headers=who.headers, content_type="multipart/form-data"
        )
    return api.client.put(
        f"/api/v1/challenges/{slug}",
        data=form,
        headers=who.headers,
        content_type="multipart/form-data",
    )


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buffer.getvalue()


def test_a_bundle_creates_a_challenge_and_an_update_is_a_new_version(api: Api) -> None:
    organizer = api.organizer()
    data = pack_bundle(CORRIDOR)
    created = send_bundle(api, organizer, data)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["id"] == "corridor" and body["version"] == 1
    assert body["environment"] == "corridor:Corridor" and body["available"] is True
    unchanged = send_bundle(api, organizer, data, "corridor")
    assert unchanged.status_code == 200 and unchanged.get_json()["changed"] is False
    files = {
        "challenge.yaml": (CORRIDOR / "challenge.yaml")
        .read_text()
        .replace("length: 8", "length: 6"),
        "corridor.py": (CORRIDOR / "corridor.py").read_text(),
    }
    updated = send_bundle(api, organizer, zipped(files), "corridor")
    assert updated.status_code == 200, updated.get_json()
    assert updated.get_json()["version"] == 2 and updated.get_json()["changed"] is True
    assert updated.get_json()["environment_kwargs"] == {"length": 6}
    page = api.client.get("/challenges/corridor")
    assert page.status_code == 200
    assert "could not be built" not in page.get_data(as_text=True)


def test_bad_bundles_are_refused_with_the_fix(api: Api) -> None:
    organizer = api.organizer()
    spec = (CORRIDOR / "challenge.yaml").read_text()
    yaml_only = api.client.post(
        "/api/v1/challenges", data=spec, content_type="application/yaml", headers=organizer.headers
    )
    assert "bundle" in error(yaml_only, 400)
    no_module = send_bundle(api, organizer, zipped({"challenge.yaml": spec}))
    assert "the bundle has no corridor.py" in error(no_module, 400)
    escaping = send_bundle(
        api, organizer, zipped({"challenge.yaml": spec, "../corridor.py": "x = 1"})
    )
    assert ".." in error(escaping, 400)
    no_spec = send_bundle(api, organizer, zipped({"corridor.py": "x = 1"}))
    assert "no challenge.yaml at the top" in error(no_spec, 400)
    participant = api.account("alice")
    assert send_bundle(api, participant, pack_bundle(CORRIDOR)).status_code == 403


def test_a_submission_plays_the_bundle_s_environment_with_the_in_process_score(
    api: Api, settings: Any
) -> None:
    organizer, alice = api.organizer(), api.account("alice")
    assert send_bundle(api, organizer, pack_bundle(CORRIDOR)).status_code == 201
    response = api.upload(alice, zip_agent("corridor_walker"), challenge="corridor")
    assert response.status_code == 201, response.get_json()
    submission_id = response.get_json()["id"]
    store = platform(api.app).store
    assert run_submission(api.db, settings, store, submission_id, LocalSandbox) == DONE
    body = api.client.get(f"/api/v1/submissions/{submission_id}", headers=alice.headers)
    submission = body.get_json()
    assert submission["status"] == "finished", submission
    spec = parse_challenge_yaml((CORRIDOR / "challenge.yaml").read_text(), bundle=CORRIDOR)
    seeds = [e["seed"] for e in submission["result"]["episodes"]]
    here = evaluate(
        AGENTS / "corridor_walker",
        spec,
        "dev",
        seeds=seeds,
        make_env=lambda: spec.environment.make(CORRIDOR),
    )
    assert here.score is not None and submission["result"]["score"] == here.score
    board = api.client.get("/api/v1/challenges/corridor/leaderboard?phase=dev").get_json()
    assert [row["score"] for row in board["rows"] if row["name"] == "alice"] == [here.score]


def test_a_failing_environment_is_the_organizer_s_failure_and_the_platform_serves(
    api: Api, settings: Any
) -> None:
    organizer, alice = api.organizer(), api.account("alice")
    spec = """\
id: bad-observation
title: Bad observation
environment: {entry_point: "env:Env", max_episode_steps: 20}
phases: [{id: dev, episodes: 2, seeds: [1, 2]}]
"""
    files = {
        "challenge.yaml": spec,
        "env.py": (ENVIRONMENTS / "bad_observation" / "env.py").read_text(),
    }
    assert send_bundle(api, organizer, zipped(files)).status_code == 201
    response = api.upload(alice, zip_agent("random"), challenge="bad-observation")
    submission_id = response.get_json()["id"]
    store = platform(api.app).store
    assert run_submission(api.db, settings, store, submission_id, LocalSandbox) == DONE
    submission = api.client.get(
        f"/api/v1/submissions/{submission_id}", headers=alice.headers
    ).get_json()
    assert submission["status"] == "failed"
    assert submission["platform_failure"] is True
    assert submission["failure"]["code"] == "environment_error"
    assert "not the agent" in submission["failure"]["message"]
    assert "outside its observation space" in submission["failure"]["message"]
    for path in ("/", "/challenges/bad-observation", "/api/v1/challenges"):
        assert api.client.get(path).status_code == 200, path


@pytest.mark.slow
def test_a_bundle_s_replays_render_in_its_sandbox_and_a_bad_frame_fails_alone(
    api: Api, settings: Any, docker_sandbox: DockerSandbox
) -> None:
    organizer, alice = api.organizer(), api.account("alice")
    store = platform(api.app).store
    cache = cache_for(settings.storage_dir)
    assert send_bundle(api, organizer, pack_bundle(CORRIDOR)).status_code == 201
    response = api.upload(alice, zip_agent("corridor_walker"), challenge="corridor")
    walked = response.get_json()["id"]
    assert run_submission(api.db, settings, store, walked, LocalSandbox) == DONE
    assert render_replay(api.db, cache, walked, 0, store, lambda: docker_sandbox) == "ready"
    path = cache.file(walked, 0)
    assert path is not None and path.suffix == ".gif"
    frames = iio.imread(path, index=None)
    assert frames.shape[1:3] == (8, 72) and len(frames) >= 2
    # Without the bundle at hand there is no replay, and the worker says why.
    assert render_replay(api.db, cache, walked, 1) == "failed"
    assert "bundle is not at hand" in (cache.error(walked, 1) or "")

    spec = """\
id: bad-render
title: Bad render
environment: {entry_point: "env:Env", kwargs: {frame: tall}, max_episode_steps: 20}
phases: [{id: dev, episodes: 1, seeds: [1]}]
"""
    files = {"challenge.yaml": spec, "env.py": (ENVIRONMENTS / "bad_render" / "env.py").read_text()}
    assert send_bundle(api, organizer, zipped(files)).status_code == 201
    response = api.upload(alice, zip_agent("random"), challenge="bad-render")
    bad = response.get_json()["id"]
    assert run_submission(api.db, settings, store, bad, LocalSandbox) == DONE
    assert render_replay(api.db, cache, bad, 0, store, lambda: docker_sandbox) == "failed"
    reason = cache.error(bad, 0) or ""
    assert "a frame of shape (5000, 2, 3)" in reason, reason
    assert "return an H x W x 3 uint8 image" in reason
    for path_ in ("/", "/challenges/bad-render", "/challenges/corridor", "/api/v1/challenges"):
        assert api.client.get(path_).status_code == 200, path_
    assert cache.file(walked, 0) is not None  # the other replay is still served
