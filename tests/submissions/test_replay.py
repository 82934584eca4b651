"""Replays of recorded episodes: every built-in challenge with a shipped baseline, checked
against the recorded return, rendered to files; a changed recording is refused."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import imageio.v3 as iio
import numpy as np
import pytest
from click.testing import CliRunner

from aigc.baselines.common import BASELINES, REFERENCE_PACKAGES
from aigc.cli import main
from aigc.platform.settings import SHIPPED_BASELINES
from aigc.submissions.challenge import builtin_challenge_ids, get_challenge
from aigc.submissions.evaluator import evaluate
from aigc.submissions.replay import (
    RenderLimits,
    ReplayError,
    ReplayMismatch,
    make_render_env,
    replay_episode,
)
from aigc.submissions.replay_files import replay_text, write_replay
from aigc.submissions.results import EpisodeResult

from .conftest import agent


def baseline_for(challenge_id: str) -> Path:
    """One shipped package for the challenge: its first trained baseline."""
    names = BASELINES.get(challenge_id) or REFERENCE_PACKAGES[challenge_id]
    return SHIPPED_BASELINES / challenge_id / names[0]


@pytest.mark.slow
@pytest.mark.parametrize("challenge_id", builtin_challenge_ids())
def test_a_shipped_baselines_episode_replays_with_its_recorded_return(challenge_id, tmp_path):
    spec = get_challenge(challenge_id)
    result = evaluate(baseline_for(challenge_id), spec, episodes=2, parallel=2)
    assert result.ok, result.failure
    episode = result.episodes[1]
    replay = replay_episode(spec.environment, episode, RenderLimits(max_frames=60, max_width=200))
    assert replay.total_return == pytest.approx(episode.total_return, rel=1e-6)
    assert replay.length == episode.length
    if challenge_id == "textgen":
        assert replay.kind == "text"
        assert replay.text == episode.prompt + episode.completion
        written = write_replay(replay, tmp_path / "episode.txt").read_text()
        assert episode.completion in written and "score" in written
        return
    assert replay.kind == "rgb"
    assert 2 <= len(replay.frames) <= 60
    frames = iio.imread(write_replay(replay, tmp_path / "episode.gif"), index=None)
    # The GIF merges identical frames that follow each other into one.
    assert 2 <= frames.shape[0] <= len(replay.frames) and frames.shape[2] <= 200


@pytest.mark.slow
def test_text_episodes_scored_in_a_batch_replay_alone() -> None:
    spec = get_challenge("textgen")
    # The reference agent: its scores, spread around 0, come near 0 often.
    reference = SHIPPED_BASELINES / "textgen" / "reference"
    result = evaluate(reference, spec, episodes=150, parallel=64)
    assert result.ok, result.failure
    env = make_render_env(spec.environment)
    # Completions that ended together were scored in one batch, which rounds differently from
    # one alone: a few parts in 10^7 that a return near 0 must not turn into a mismatch.
    for episode in result.episodes:
        replay = replay_episode(spec.environment, episode, env=env)
        assert replay.total_return == pytest.approx(episode.total_return, rel=1e-6, abs=1e-5)


def test_the_platforms_own_environments_are_found_by_a_replay_alone() -> None:
    # aigc replay SUBMISSION_ID builds the environment from the server's answer, with
    # nothing else of the platform imported: the text environment must register itself.
    code = (
        "from aigc.submissions.challenge import EnvironmentSpec\n"
        "from aigc.submissions.replay import render_modes\n"
        "print(render_modes(EnvironmentSpec('aigc/TextGen-v0')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "ansi" in done.stdout


def test_a_changed_recording_is_refused_as_not_deterministic(cartpole):
    result = evaluate(agent("good"), cartpole, episodes=1)
    episode = result.episodes[0]
    other = dataclasses.replace(episode, total_return=episode.total_return + 1)
    with pytest.raises(ReplayMismatch, match="not deterministic"):
        replay_episode(cartpole.environment, other)
    shorter = dataclasses.replace(episode, seed=episode.seed + 1)
    with pytest.raises(ReplayMismatch, match=r"seed \d+\) (ended early|did not end|returned)"):
        replay_episode(cartpole.environment, shorter)
    with pytest.raises(ReplayError, match="no recorded actions"):
        replay_episode(cartpole.environment, dataclasses.replace(episode, actions=None))


def test_long_episodes_keep_every_kth_frame_and_narrow_frames(cartpole):
    result = evaluate(agent("good"), cartpole, episodes=1)
    episode = result.episodes[0]
    replay = replay_episode(cartpole.environment, episode, RenderLimits(10, 150))
    assert len(replay.frames) <= 11 and replay.steps_per_frame == -(-(episode.length + 1) // 10)
    assert all(f.shape[1] <= 150 and f.dtype == np.uint8 for f in replay.frames)


@pytest.mark.parametrize("suffix", [".gif", ".mp4", ".webm"])
def test_replays_are_written_as_gif_mp4_and_webm(cartpole, tmp_path, suffix):
    result = evaluate(agent("good"), cartpole, episodes=1)
    replay = replay_episode(cartpole.environment, result.episodes[0], RenderLimits(20, 120))
    path = write_replay(replay, tmp_path / f"episode{suffix}")
    frames = iio.imread(path, index=None) if suffix == ".gif" else None
    assert path.stat().st_size > 0
    if frames is not None:
        assert 2 <= len(frames) <= len(replay.frames)
    else:
        with path.open("rb") as handle:
            head = handle.read(64)
        assert (b"ftyp" in head) if suffix == ".mp4" else head.startswith(b"\x1a\x45\xdf\xa3")


def test_an_ansi_environment_gives_text_frames(tmp_path):
    from aigc.submissions.challenge import parse_challenge

    spec = parse_challenge(
        {
            "id": "ansi-taxi",
            "title": "t",
            "environment": {"id": "Taxi-v3"},
            "phases": [{"id": "dev", "episodes": 1, "seeds": {"first": 3}}],
        }
    )
    result = evaluate(agent("random"), spec, episodes=1)
    from aigc.submissions import replay as replay_module

    env = replay_module.gym.make("Taxi-v3", render_mode="ansi")
    played = replay_episode(spec.environment, result.episodes[0], RenderLimits(5, 100), env)
    assert played.kind == "text" and all(isinstance(f, str) for f in played.frames)
    text = replay_text(played)
    assert "--- step 0 ---" in text and "+---------+" in text


def test_aigc_replay_renders_an_episode_of_an_evaluate_json_result(tmp_path):
    runner = CliRunner()
    result_file = tmp_path / "result.json"
    evaluated = runner.invoke(
        main,
        [
            "evaluate",
            str(baseline_for("cartpole")),
            "-c",
            "cartpole",
            "-n",
            "2",
            "--sandbox",
            "local",
            "--json",
            str(result_file),
        ],
    )
    assert evaluated.exit_code == 0, evaluated.output
    episodes = json.loads(result_file.read_text())["episodes"]
    assert all(e["seed"] is not None and e["actions"] for e in episodes)
    gif = tmp_path / "one.gif"
    done = runner.invoke(
        main,
        ["replay", str(result_file), "--episode", "1", "--out", str(gif), "--max-frames", "20"],
    )
    assert done.exit_code == 0, done.output
    assert "as recorded" in done.output and gif.stat().st_size > 0
    missing = runner.invoke(main, ["replay", str(result_file), "-e", "7", "-o", str(gif)])
    assert missing.exit_code == 1 and "has no episode 7" in missing.output
    wrong = runner.invoke(
        main, ["replay", str(result_file), "-e", "0", "-o", str(tmp_path / "x.png")]
    )
    assert wrong.exit_code == 1 and "name it .gif, .mp4, .webm or .txt" in wrong.output


def test_an_organizers_environment_is_never_drawn_without_its_sandbox() -> None:
    # Drawn in its own sandbox (tests/submissions/test_environment_sandbox.py), never here.
    from aigc.submissions.challenge import EnvironmentSpec
    from aigc.submissions.recording import encode_actions
    from aigc.submissions.replay import make_render_env, render_env

    spec = EnvironmentSpec(id="corridor:Corridor", entry_point="corridor:Corridor")
    actions = encode_actions([2], gym.spaces.Discrete(3))
    episode = EpisodeResult(0, 1, 1.0, 1, 0.0, True, False, actions=actions)
    hint = "replayed only in its own sandbox: give the challenge's bundle folder or archive"
    with pytest.raises(ReplayError, match=hint):
        replay_episode(spec, episode)
    with pytest.raises(ReplayError, match=hint):
        make_render_env(spec)
    with pytest.raises(ReplayError, match=hint), render_env(spec, Path("corridor"), None):
        pass
