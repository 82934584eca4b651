"""An organizer's own environment end to end: ``aigc challenge check``, ``create`` from a
bundle archive, a participant's ``aigc submit --wait`` and the leaderboard, against a real
``aigc serve`` whose agents and organizer environments run in the Docker sandbox.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import imageio.v3 as iio
import pytest
import requests

from aigc.submissions.bundle import pack_bundle
from aigc.submissions.challenge import parse_challenge_yaml
from aigc.submissions.evaluator import evaluate
from tests.servers import ServerProcess, create_user, platform_env, sign_in
from tests.submissions.conftest import AGENTS

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("docker_sandbox")]

ENVIRONMENTS = Path(__file__).parents[1] / "submissions" / "environments"
CORRIDOR = ENVIRONMENTS / "corridor"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real aigc serve on SQLite with the Docker sandbox, an organizer and a participant."""
    workdir = tmp_path_factory.mktemp("srv")
    (workdir / "tmp").mkdir()
    env = platform_env(
        workdir / "data",
        f"sqlite:///{workdir / 'aigc.db'}",
        TMPDIR=str(workdir / "tmp"),
        AIGC_SANDBOX="docker",
    )
    process = ServerProcess(env, workdir).wait_ready(timeout=300)
    try:
        create_user(env, "olga", "olga-password", organizer=True)
        create_user(env, "alice", "alice-password")
        yield process
    finally:
        print(process.stop())


def aigc(
    *args: object, config: Path, timeout: float = 600, **extra: str
) -> subprocess.CompletedProcess:
    """Run ``python -m aigc`` as a user would, with its own sign-in file."""
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("AIGC_")}
    env["AIGC_CONFIG"] = str(config)
    env.update(extra)
    return subprocess.run(
        [sys.executable, "-m", "aigc", *map(str, args)],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_an_organizer_environment_from_check_to_the_leaderboard(
    server: ServerProcess, tmp_path: Path
) -> None:
    bundle = tmp_path / "corridor.zip"
    bundle.write_bytes(pack_bundle(CORRIDOR))
    organizer, participant = tmp_path / "olga.json", tmp_path / "alice.json"

    checked = ok(aigc("challenge", "check", bundle, "--sandbox", "docker", config=organizer))
    for step in ("✓ spec: corridor", "✓ environment: corridor:Corridor starts in its sandbox",
                 "✓ check_env", "✓ random agent: 3 episodes of phase dev"):  # fmt: skip
        assert step in checked, checked

    ok(aigc("login", "--server", server.url, "-u", "olga", "--password", "olga-password",
            config=organizer))  # fmt: skip
    assert "created challenge corridor (version 1)" in ok(
        aigc("challenge", "create", bundle, config=organizer)
    )

    walker = tmp_path / "walker"
    shutil.copytree(AGENTS / "corridor_walker", walker)
    ok(aigc("login", "--server", server.url, "-u", "alice", "--password", "alice-password",
            config=participant))  # fmt: skip
    submitted = ok(aigc("submit", walker, "-c", "corridor", "--wait", config=participant))
    assert "finished" in submitted, submitted

    board = json.loads(ok(aigc("leaderboard", "corridor", "--format", "json", config=participant)))
    (row,) = [r for r in board["rows"] if r["name"] == "alice"]
    headers = sign_in(server, "alice", "alice-password")
    result = requests.get(
        server.api(f"/submissions/{row['submission_id']}"), headers=headers, timeout=30
    ).json()["result"]
    spec = parse_challenge_yaml((CORRIDOR / "challenge.yaml").read_text(), bundle=CORRIDOR)
    here = evaluate(
        walker, spec, "dev", seeds=[e["seed"] for e in result["episodes"]],
        make_env=lambda: spec.environment.make(CORRIDOR),
    )  # fmt: skip
    assert here.score is not None and row["score"] == here.score == result["score"]

    # Its episodes replay in the environment's own sandbox, from the server or a result file.
    gif = tmp_path / "episode.gif"
    sid = row["submission_id"]
    refused = aigc("replay", sid, "-e", "0", "-o", gif, config=participant)
    assert refused.returncode == 1
    assert "give the challenge's bundle folder or archive with --challenge PATH" in refused.stderr
    replayed = ok(aigc("replay", sid, "-e", "0", "-o", gif, "-c", bundle, config=participant))
    assert "as recorded" in replayed and gif.stat().st_size > 0
    frames = iio.imread(gif, index=None)
    assert frames.shape[1:3] == (8, 72) and len(frames) == result["episodes"][0]["length"] + 1
    result_file = tmp_path / "result.json"
    result_file.write_text(here.to_json())
    text = ok(aigc("replay", result_file, "-e", "1", "-o", gif, "-c", CORRIDOR, config=organizer))
    assert f"return {here.episodes[1].total_return:.6g}" in text and "as recorded" in text


def test_a_hanging_environment_fails_as_the_organizers_and_the_platform_serves(
    server: ServerProcess, tmp_path: Path
) -> None:
    folder = tmp_path / "hang"
    folder.mkdir()
    shutil.copy(ENVIRONMENTS / "hang_step" / "env.py", folder)
    (folder / "challenge.yaml").write_text(
        "id: hang\ntitle: Hang\n"
        'environment: {entry_point: "env:Env", max_episode_steps: 5}\n'
        "phases: [{id: dev, episodes: 1, seeds: [1]}]\n"
        "limits: {step_timeout: 2s}\n"
    )
    organizer, participant = tmp_path / "olga.json", tmp_path / "alice.json"
    ok(aigc("login", "--server", server.url, "-u", "olga", "--password", "olga-password",
            config=organizer))  # fmt: skip
    assert "created challenge hang" in ok(aigc("challenge", "create", folder, config=organizer))
    ok(aigc("login", "--server", server.url, "-u", "alice", "--password", "alice-password",
            config=participant))  # fmt: skip
    random_agent = tmp_path / "random"
    shutil.copytree(AGENTS / "random", random_agent)
    done = aigc("submit", random_agent, "-c", "hang", "--wait", config=participant)
    assert "environment" in done.stdout + done.stderr, done.stdout + done.stderr
    headers = sign_in(server, "alice", "alice-password")
    mine = requests.get(
        server.api("/submissions"), params={"challenge": "hang"}, headers=headers, timeout=30
    ).json()
    (submission,) = mine["submissions"]
    assert submission["status"] == "failed" and submission["platform_failure"] is True
    assert submission["failure"]["code"] == "environment_error"
    assert "did not answer step within the 2 s a step" in submission["failure"]["message"]
    for path in ("/", "/challenges/hang", "/api/v1/challenges", "/challenges/corridor"):
        assert requests.get(server.url + path, timeout=30).status_code == 200, path


def test_check_names_what_is_wrong_and_fails(tmp_path: Path) -> None:
    import click.testing

    import aigc.cli

    spec = tmp_path / "challenge.yaml"
    spec.write_text((CORRIDOR / "challenge.yaml").read_text())
    runner = click.testing.CliRunner()
    alone = runner.invoke(aigc.cli.main, ["challenge", "check", str(spec)])
    assert alone.exit_code == 1, alone.output
    assert "✗ spec: environment.entry_point" in alone.output and "bundle" in alone.output
    not_an_env = "class Corridor:\n    def __init__(self, length):\n        pass\n"
    (tmp_path / "corridor.py").write_text(not_an_env)
    broken = runner.invoke(
        aigc.cli.main, ["challenge", "check", str(tmp_path), "--sandbox", "docker"]
    )
    assert broken.exit_code == 1, broken.output
    assert "✓ spec: corridor" in broken.output
    assert "✗ environment: corridor:Corridor made a Corridor, not a gymnasium.Env" in broken.output


HIDDEN_SEEDS = ("913337", "424242", "777001")


def walkway(folder: Path, private: bool = False) -> Path:
    """The corridor as another challenge, its hidden phase listing seeds (and a comment too)."""
    folder.mkdir()
    shutil.copy(CORRIDOR / "corridor.py", folder)
    spec = (CORRIDOR / "challenge.yaml").read_text().replace("id: corridor", "id: walkway")
    spec = spec.replace(
        "  - {id: test, visibility: hidden, episodes: 6, seeds: secret}\n",
        f"  - {{id: test, visibility: hidden, episodes: 3, seeds: [{', '.join(HIDDEN_SEEDS)}]}}\n"
        f"# the test seeds: {' '.join(HIDDEN_SEEDS)}\n",
    )
    if private:
        spec = spec.replace("id: walkway", "id: vault").replace(
            "  max_episode_steps: 50\n", "  max_episode_steps: 50\n  private: true\n"
        )
    (folder / "challenge.yaml").write_text(spec)
    return folder


def test_a_participant_gets_a_bundle_challenge_and_works_on_it_here(
    server: ServerProcess, tmp_path: Path
) -> None:
    organizer, participant = tmp_path / "olga.json", tmp_path / "alice.json"
    data = tmp_path / "data"  # the participant's data folder, as platformdirs finds it
    ok(aigc("login", "--server", server.url, "-u", "olga", "--password", "olga-password",
            config=organizer))  # fmt: skip
    ok(aigc("challenge", "create", walkway(tmp_path / "walkway"), config=organizer))
    ok(aigc("login", "--server", server.url, "-u", "alice", "--password", "alice-password",
            config=participant))  # fmt: skip

    unknown = aigc("init-agent", tmp_path / "a", "-c", "walkway", config=participant,
                   XDG_DATA_HOME=str(data))  # fmt: skip
    assert unknown.returncode == 1
    assert "neither built in nor downloaded; run aigc challenge get walkway" in unknown.stderr

    got = ok(aigc("challenge", "get", "walkway", config=participant, XDG_DATA_HOME=str(data)))
    kept = data / "aigc" / "challenges" / "walkway"
    assert f"downloaded challenge walkway (version 1) to {kept}" in got, got
    assert (kept / "bundle" / "corridor.py").read_text() == (CORRIDOR / "corridor.py").read_text()
    for path in kept.rglob("*"):
        if path.is_file():
            assert not any(seed in path.read_text() for seed in HIDDEN_SEEDS), path

    agent = tmp_path / "my-agent"
    made = ok(aigc("init-agent", agent, "-c", "walkway", config=participant,
                   XDG_DATA_HOME=str(data)))  # fmt: skip
    assert "Wrote a random agent for walkway" in made
    assert "Dict(" in (agent / "agent.py").read_text()
    checked = ok(aigc("check", agent, "--sandbox", "docker", config=participant,
                      XDG_DATA_HOME=str(data)))  # fmt: skip
    assert "✓ challenge: walkway (corridor:Corridor)" in checked
    assert "The package is ready to submit." in checked

    walker = tmp_path / "walker"
    shutil.copytree(AGENTS / "corridor_walker", walker)
    scores = []
    for trust in ([], ["--trust-environment"]):
        result = tmp_path / f"result{len(scores)}.json"
        ok(aigc("evaluate", walker, "-c", "walkway", "-n", "4", "--sandbox", "docker", *trust,
                "--json", result, config=participant, XDG_DATA_HOME=str(data)))  # fmt: skip
        body = json.loads(result.read_text())
        assert body["failure"] is None and len(body["episodes"]) == 4
        scores.append((body["metrics"], [e["total_return"] for e in body["episodes"]]))
    assert scores[0][0]["mean_return"] is not None and scores[0] == scores[1]
    elsewhere = tmp_path / "elsewhere"
    assert f"--challenge {elsewhere}" in ok(aigc("challenge", "get", "walkway", "--out", elsewhere,
                                                 config=participant))  # fmt: skip
    result = tmp_path / "elsewhere.json"
    ok(aigc("evaluate", walker, "-c", elsewhere, "-n", "4", "--trust-environment", "--json",
            result, config=participant))  # fmt: skip
    assert json.loads(result.read_text())["metrics"] == scores[0][0]
    hidden = aigc("evaluate", walker, "-c", "walkway", "-p", "test", config=participant,
                  XDG_DATA_HOME=str(data))  # fmt: skip
    assert hidden.returncode == 1 and "hidden seeds that only the platform knows" in hidden.stderr


def test_a_private_environment_is_described_and_never_downloaded(
    server: ServerProcess, tmp_path: Path
) -> None:
    organizer, participant = tmp_path / "olga.json", tmp_path / "alice.json"
    data = tmp_path / "data"
    ok(aigc("login", "--server", server.url, "-u", "olga", "--password", "olga-password",
            config=organizer))  # fmt: skip
    ok(aigc("challenge", "create", walkway(tmp_path / "vault", private=True), config=organizer))
    got = ok(aigc("challenge", "get", "vault", "--server", server.url, config=participant,
                  XDG_DATA_HOME=str(data)))  # fmt: skip
    assert "the environment of 'vault' is private" in got and "only the platform can" in got
    kept = data / "aigc" / "challenges" / "vault"
    assert not (kept / "bundle").exists()
    assert "class Corridor" not in "".join(p.read_text() for p in kept.rglob("*") if p.is_file())
    agent = tmp_path / "my-agent"
    assert "private" in ok(aigc("init-agent", agent, "-c", "vault", config=participant,
                                XDG_DATA_HOME=str(data)))  # fmt: skip
    done = aigc("evaluate", agent, config=participant, XDG_DATA_HOME=str(data))
    assert done.returncode == 1 and "only the platform can evaluate it" in done.stderr
