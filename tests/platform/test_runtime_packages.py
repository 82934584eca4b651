"""A challenge's runtime packages: resolved at create, built into an image, used by evaluations.

The wheels come from a folder (AIGC_RUNTIME_WHEELS) holding Stable-Baselines3's wheel made
from its installation here, so nothing reaches a package index. The image is built by the
real Docker engine and every evaluation runs in it.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from aigc.platform import challenges
from aigc.platform.context import platform
from aigc.platform.settings import Settings
from aigc.platform.worker_run import DONE, run_submission
from aigc.submissions.docker_sandbox import DockerSandbox
from tests.installed_wheels import wheel_of_installed

from .conftest import Api, error

SPEC = """\
id: sb3-cartpole
title: CartPole with Stable-Baselines3
environment: {id: CartPole-v1, max_episode_steps: 60}
phases: [{id: dev, episodes: 3, seeds: {first: 3}}]
limits: {startup_timeout: 120s, memory: 2GiB}
runtime:
  packages: [%s]
"""
# The ten lines a participant writes around a model saved with model.save (docs/agents.md).
AGENT = (Path(__file__).parents[2] / "docs" / "examples" / "sb3-runtime" / "agent.py").read_text()
MANIFEST = 'name = "sb3-ppo"\nentry_point = "agent:Agent"\nframework = "torch"\n'


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheels")
    wheel_of_installed("stable_baselines3", folder)
    return folder


@pytest.fixture
def settings(settings: Settings, wheels: Path, docker_sandbox: DockerSandbox) -> Settings:
    return settings.with_(sandbox="docker", runtime_wheels=wheels, max_upload_bytes=8 * 2**20)


@pytest.fixture(scope="session")
def ppo_zip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A PPO trained a few hundred steps on CartPole, saved as SB3 saves it."""
    import gymnasium as gym
    from stable_baselines3 import PPO

    model = PPO("MlpPolicy", gym.make("CartPole-v1"), n_steps=128, batch_size=64, seed=0)
    model.learn(256)
    path = tmp_path_factory.mktemp("ppo") / "model.zip"
    model.save(path)
    return path.read_bytes()


def agent_zip(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def create(api: Api, packages: str) -> Any:
    return api.client.post(
        "/api/v1/challenges",
        data=SPEC % packages,
        content_type="application/yaml",
        headers=api.organizer().headers,
    )


def stored_files(settings: Settings) -> set[Path]:
    return {p for p in settings.storage_dir.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_a_stable_baselines3_ppo_scores_on_a_challenge_whose_runtime_lists_it(
    api: Api, settings: Settings, docker_sandbox: DockerSandbox, ppo_zip: bytes
) -> None:
    created = create(api, "stable-baselines3==2.9.2")
    assert created.status_code == 201, created.get_json()
    runtime = created.get_json()["runtime"]
    assert runtime["packages"] == ["stable-baselines3==2.9.2"]
    assert runtime["installed"] == ["stable_baselines3==2.9.2"]
    image = runtime["image"]
    # Participants read it too: the API and the challenge's page.
    shown = api.client.get("/api/v1/challenges/sb3-cartpole").get_json()["runtime"]
    assert shown == runtime
    assert "stable_baselines3==2.9.2" in api.client.get("/challenges/sb3-cartpole").get_data(
        as_text=True
    )
    # A worker whose engine lacks the image builds it from the stored wheelhouse.
    docker_sandbox.client.images.remove(image)
    alice = api.account("alice")
    package = agent_zip({"aigc.toml": MANIFEST, "agent.py": AGENT, "model.zip": ppo_zip})
    response = api.upload(alice, package, challenge="sb3-cartpole")
    assert response.status_code == 201, response.get_json()
    submission_id = response.get_json()["id"]
    store = platform(api.app).store
    done = run_submission(api.db, settings, store, submission_id, lambda: docker_sandbox)
    assert done == DONE
    body = api.client.get(f"/api/v1/submissions/{submission_id}", headers=alice.headers)
    submission = body.get_json()
    assert submission["status"] == "finished", submission
    assert submission["result"]["score"] is not None
    assert len(submission["result"]["episodes"]) == 3
    assert docker_sandbox.client.images.get(image).tags == [image]

    # A module the runtime lacks: the failure names the challenge's runtime packages.
    missing = agent_zip({"aigc.toml": MANIFEST, "agent.py": "import pandas\n" + AGENT})
    response = api.upload(alice, missing, challenge="sb3-cartpole")
    submission_id = response.get_json()["id"]
    assert run_submission(api.db, settings, store, submission_id, lambda: docker_sandbox) == DONE
    failed = api.client.get(f"/api/v1/submissions/{submission_id}", headers=alice.headers)
    message = failed.get_json()["failure"]["message"]
    assert "ModuleNotFoundError" in message, message
    assert "the challenge's runtime packages stable_baselines3==2.9.2" in message


@pytest.mark.slow
@pytest.mark.parametrize(
    ("packages", "pip_says"),
    [
        (
            "no-such-package-aigc==1.0",
            "Could not find a version that satisfies the requirement no-such-package-aigc",
        ),
        ("stable-baselines3, numpy==1.26.4", "Cannot install numpy==1.26.4"),
    ],
)
def test_packages_that_do_not_resolve_are_refused_with_pip_s_line_and_nothing_is_stored(
    api: Api, settings: Settings, packages: str, pip_says: str
) -> None:
    before = stored_files(settings)
    message = error(create(api, packages), 400)
    assert message.startswith("runtime.packages: ") and pip_says in message, message
    assert "\n" not in message
    assert api.client.get("/api/v1/challenges/sb3-cartpole").status_code == 404
    assert stored_files(settings) == before


def test_a_challenge_without_runtime_packages_lists_none(api: Api) -> None:
    runtime = api.client.get("/api/v1/challenges/cartpole").get_json()["runtime"]
    assert runtime == {"packages": [], "installed": [], "image": None}


def test_the_image_tag_is_a_hash_of_its_base_and_its_wheelhouse() -> None:
    from aigc.submissions.runtime_packages import derived_tag

    tag = derived_tag("aigc-agent-runtime:abc", "1" * 64)
    assert tag == derived_tag("aigc-agent-runtime:abc", "1" * 64)
    assert tag.startswith("aigc-agent-runtime:abc-")
    assert tag != derived_tag("aigc-agent-runtime:abd", "1" * 64)
    assert tag != derived_tag("aigc-agent-runtime:abc", "2" * 64)


def put(api: Api, who: Any, text: str) -> Any:
    return api.client.put(
        "/api/v1/challenges/sb3-cartpole",
        data=text,
        content_type="application/yaml",
        headers=who.headers,
    )


@pytest.mark.slow
def test_an_update_resolves_again_and_each_version_keeps_its_runtime(
    api: Api, settings: Settings
) -> None:
    organizer = api.organizer("olga")
    spec = SPEC % "stable-baselines3==2.9.2"
    created = api.client.post(
        "/api/v1/challenges", data=spec, content_type="application/yaml", headers=organizer.headers
    )
    assert created.status_code == 201, created.get_json()
    same = put(api, organizer, spec)
    assert same.status_code == 200 and same.get_json()["changed"] is False
    before = stored_files(settings)
    refused = error(put(api, organizer, SPEC % "no-such-package-aigc"), 400)
    assert "Could not find a version that satisfies the requirement no-such-package-aigc" in refused
    assert stored_files(settings) == before
    assert api.client.get("/api/v1/challenges/sb3-cartpole").get_json()["version"] == 1
    without = put(api, organizer, spec.split("runtime:")[0])
    assert without.status_code == 200 and without.get_json()["version"] == 2
    assert without.get_json()["runtime"] == {"packages": [], "installed": [], "image": None}
    with api.db.session() as session:
        challenge = challenges.find(session, "sb3-cartpole")
        first, second = (challenges.version_of(challenge, v) for v in (1, 2))
        assert first.runtime_sha256 is not None and first.runtime_pins == "stable_baselines3==2.9.2"
        assert second.runtime_sha256 is None and second.runtime_image is None
        # The stored wheelhouse is the one the image was built from.
        with platform(api.app).store.unpacked_wheelhouse(first.runtime_sha256) as folder:
            assert sorted(p.name for p in folder.iterdir()) == [
                "requirements.txt",
                "stable_baselines3-2.9.2-py3-none-any.whl",
            ]


@pytest.mark.slow
def test_a_bundle_s_environment_runs_in_the_challenge_s_image_too(
    api: Api, settings: Settings, docker_sandbox: DockerSandbox
) -> None:
    corridor = Path(__file__).parents[1] / "submissions" / "environments" / "corridor"
    spec = (corridor / "challenge.yaml").read_text().replace("id: corridor", "id: sb3-corridor")
    spec += "runtime:\n  packages: [stable-baselines3==2.9.2]\n"
    # The organizer's code needs the package: in the base image it could not even import.
    code = (corridor / "corridor.py").read_text() + "\nimport stable_baselines3  # noqa: E402\n"
    data = agent_zip({"challenge.yaml": spec, "corridor.py": code})
    organizer, alice = api.organizer(), api.account("alice")
    created = api.client.post(
        "/api/v1/challenges",
        data={"file": (io.BytesIO(data), "bundle.zip")},
        headers=organizer.headers,
        content_type="multipart/form-data",
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["runtime"]["installed"] == ["stable_baselines3==2.9.2"]
    walker = Path(__file__).parents[1] / "submissions" / "agents" / "corridor_walker"
    package = agent_zip({p.name: p.read_bytes() for p in walker.iterdir() if p.is_file()})
    response = api.upload(alice, package, challenge="sb3-corridor")
    assert response.status_code == 201, response.get_json()
    submission_id = response.get_json()["id"]
    store = platform(api.app).store
    assert run_submission(api.db, settings, store, submission_id, lambda: docker_sandbox) == DONE
    body = api.client.get(f"/api/v1/submissions/{submission_id}", headers=alice.headers)
    assert body.get_json()["status"] == "finished", body.get_json()["failure"]
