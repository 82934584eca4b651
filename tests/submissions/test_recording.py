"""Recordings: every action space packs and unpacks exactly, bounded, and refuses damage."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from aigc.submissions import recording
from aigc.submissions.evaluator import evaluate
from aigc.submissions.recording import RecordingError, decode_actions, encode_actions

from .conftest import agent, make_challenge

SPACES = [
    spaces.Discrete(2),
    spaces.Discrete(4096),
    spaces.Discrete(5, start=-2),
    spaces.Discrete(70_000),
    spaces.MultiDiscrete([3, 300]),
    spaces.MultiBinary(5),
    spaces.MultiBinary([2, 3]),
    spaces.Box(-2.0, 2.0, (1,), np.float32),
    spaces.Box(-1.0, 1.0, (2, 3), np.float64),
    spaces.Box(0, 255, (4,), np.uint8),
]


@pytest.mark.parametrize("space", SPACES, ids=str)
def test_actions_of_every_space_come_back_exactly(space):
    space.seed(3)
    actions = [space.sample() for _ in range(37)]
    if isinstance(space, spaces.Discrete):
        actions = [int(a) for a in actions]
    text = encode_actions(actions, space)
    back = decode_actions(text, space, len(actions))
    assert len(back) == len(actions)
    for got, sent in zip(back, actions, strict=True):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(sent))
        assert space.contains(got if not isinstance(space, spaces.Discrete) else np.int64(got))


def test_a_discrete_episode_takes_a_few_bytes():
    # 500 CartPole actions: one byte each before compression, far less after.
    actions = [i % 2 for i in range(500)]
    assert len(encode_actions(actions, spaces.Discrete(2))) < 100


def test_a_recording_of_another_length_or_damaged_is_refused():
    space = spaces.Discrete(4)
    text = encode_actions([1, 2, 3], space)
    with pytest.raises(RecordingError, match="holds 3 bytes, not the 4"):
        decode_actions(text, space, 4)
    with pytest.raises(RecordingError, match="damaged"):
        decode_actions("not base64!", space, 3)
    bomb = encode_actions([0] * recording.MAX_EPISODE_BYTES, spaces.Discrete(2))
    with pytest.raises(RecordingError, match="larger than any kept"):
        decode_actions(bomb, space, recording.MAX_EPISODE_BYTES + 1)


def test_the_evaluator_records_every_episodes_actions_and_replays_agree(cartpole):
    result = evaluate(agent("good"), cartpole, parallel=3)
    assert result.ok
    space = cartpole.environment.make().action_space
    for episode in result.episodes:
        assert episode.actions is not None
        assert len(decode_actions(episode.actions, space, episode.length)) == episode.length
    again = type(result).from_json(result.to_json())
    assert [e.actions for e in again.episodes] == [e.actions for e in result.episodes]


def test_without_recording_no_actions_are_kept(cartpole):
    result = evaluate(agent("good"), cartpole, parallel=3, record=False)
    assert result.ok and all(e.actions is None for e in result.episodes)


def test_an_episode_longer_than_a_recording_keeps_is_left_unrecorded(monkeypatch):
    monkeypatch.setattr(recording, "MAX_EPISODE_BYTES", 40)
    challenge = make_challenge("CartPole-v1", episodes=2)
    result = evaluate(agent("good"), challenge)
    assert result.ok
    assert all((e.actions is None) == (e.length > 40) for e in result.episodes)
    assert any(e.actions is None for e in result.episodes)


def test_once_an_evaluations_recordings_are_full_later_episodes_go_unrecorded(monkeypatch):
    challenge = make_challenge("CartPole-v1", episodes=6)
    full = evaluate(agent("good"), challenge, parallel=1)
    sizes = [len(e.actions or "") for e in full.episodes]
    monkeypatch.setattr(recording, "MAX_EVALUATION_CHARS", sum(sizes[:3]))
    result = evaluate(agent("good"), challenge, parallel=1)
    assert [e.actions is not None for e in result.episodes] == [True] * 3 + [False] * 3
