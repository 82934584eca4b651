"""What participants download of a challenge: its public spec (never a hidden phase's seeds,
never the organizer's comments) and, unless the organizer keeps it private, the bundle."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import yaml

from aigc.submissions.challenge import parse_challenge_yaml

from .conftest import Api, error
from .test_challenge_bundles import send_bundle, zipped

CORRIDOR = Path(__file__).parents[1] / "submissions" / "environments" / "corridor"
# A hidden phase whose seeds the organizer listed, and a comment that repeats them.
HIDDEN_SEEDS = [913_337, 424_242, 777_001]
SPEC = (
    (CORRIDOR / "challenge.yaml")
    .read_text()
    .replace(
        "  - {id: test, visibility: hidden, episodes: 6, seeds: secret}\n",
        "  - {id: test, visibility: hidden, episodes: 3, seeds: [913337, 424242, 777001]}\n"
        "# test seeds: 913337 424242 777001\n",
    )
)


def bundle(spec: str = SPEC) -> bytes:
    return zipped({"challenge.yaml": spec, "corridor.py": (CORRIDOR / "corridor.py").read_text()})


def no_hidden_seed(text: str) -> None:
    for seed in HIDDEN_SEEDS:
        assert str(seed) not in text


def test_the_spec_and_bundle_are_served_without_hidden_seeds(api: Api) -> None:
    assert SPEC.count("913337") == 2
    created = send_bundle(api, api.organizer(), bundle())
    assert created.status_code == 201, created.get_json()
    about = api.client.get("/api/v1/challenges/corridor").get_json()
    assert about["bundle"] is True and about["environment_private"] is False

    served = api.client.get("/api/v1/challenges/corridor/spec")
    assert served.status_code == 200 and served.mimetype == "application/yaml"
    text = served.get_data(as_text=True)
    no_hidden_seed(text)
    assert yaml.safe_load(text)["phases"][1]["seeds"] == "secret"

    archive = api.client.get("/api/v1/challenges/corridor/bundle")
    assert archive.status_code == 200 and archive.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.data)) as zf:
        assert sorted(zf.namelist()) == ["challenge.yaml", "corridor.py"]
        assert zf.read("corridor.py").decode() == (CORRIDOR / "corridor.py").read_text()
        inside = zf.read("challenge.yaml").decode()
    no_hidden_seed(archive.data.decode("latin-1"))
    assert inside == text
    spec = parse_challenge_yaml(text, build_environment=False)
    assert spec.phase("test").seeds_hidden and spec.phase("dev").seeds("corridor", 2) == [10, 11]


def test_a_private_environment_is_never_served(api: Api) -> None:
    private = SPEC.replace(
        "  max_episode_steps: 50\n", "  max_episode_steps: 50\n  private: true\n"
    )
    assert private != SPEC
    created = send_bundle(api, api.organizer(), bundle(private))
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["environment_private"] is True
    for who in ({}, api.account("alice").headers, api.organizer("olga").headers):
        refused = api.client.get("/api/v1/challenges/corridor/bundle", headers=who)
        assert "private: only the platform evaluates it" in error(refused, 403)
        assert b"class Corridor" not in refused.data
    spec = api.client.get("/api/v1/challenges/corridor/spec").get_data(as_text=True)
    assert "private: true" in spec and "class Corridor" not in spec
    no_hidden_seed(spec)


def test_a_registered_environment_has_no_bundle_and_a_bad_id_is_named(api: Api) -> None:
    spec = api.client.get("/api/v1/challenges/cartpole/spec")
    assert spec.status_code == 200
    assert parse_challenge_yaml(spec.get_data(as_text=True)).environment.id == "CartPole-v1"
    assert "installed with the platform" in error(
        api.client.get("/api/v1/challenges/cartpole/bundle"), 404
    )
    assert "there is no challenge" in error(api.client.get("/api/v1/challenges/nope/spec"), 404)


def test_get_started_prints_the_download_for_challenges_not_built_in(api: Api) -> None:
    assert send_bundle(api, api.organizer(), bundle()).status_code == 201
    corridor = api.client.get("/challenges/corridor").get_data(as_text=True)
    assert (
        "aigc login --server http://localhost\naigc challenge get corridor\n"
        "aigc init-agent my-agent --challenge corridor\naigc submit my-agent --wait"
    ) in corridor
    cartpole = api.client.get("/challenges/cartpole").get_data(as_text=True)
    assert "aigc init-agent my-agent --challenge cartpole" in cartpole
    assert "challenge get" not in cartpole
