"""An episode's actions, kept compactly so that the episode can be replayed.

The evaluator records every action it passed to ``env.step`` (after its check, so in the
space's own dtype). An episode's actions become one small array packed for the action
space, compressed, and carried as base64 text in the result:

================  ==============================================
action space      packed as
================  ==============================================
Discrete(n)       ``action - start`` in the smallest unsigned dtype that holds ``n - 1``
MultiDiscrete     ``action - start`` in the smallest unsigned dtype that holds the largest ``nvec``
MultiBinary       one bit per element (``np.packbits``)
Box               the space's dtype
================  ==============================================

The dtype and shape follow from the action space and the episode's length, so a
recording holds nothing but the actions. A recording is bounded: an episode whose actions
take more than ``MAX_EPISODE_BYTES`` packed is not recorded (its replay says so), nor are
the episodes that finish once an evaluation's recordings hold ``MAX_EVALUATION_CHARS``.
"""

from __future__ import annotations

import base64
import binascii
import math
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

MAX_EPISODE_BYTES = 256 * 1024  # packed actions of one episode, before compression
MAX_EVALUATION_CHARS = 16 * 2**20  # the recordings of one evaluation, as stored
MAX_TEXT_CHARS = 2000  # a text episode's prompt and completion, each


class RecordingError(ValueError):
    """A recording that does not fit its action space or episode; the message says why."""


def _unsigned(largest: int) -> np.dtype:
    for dtype in (np.uint8, np.uint16, np.uint32):
        if largest <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.uint64)


def packed_dtype(space: spaces.Space) -> np.dtype:
    """The dtype an action of ``space`` is packed in (MultiBinary: bits, given as uint8)."""
    if isinstance(space, spaces.Discrete):
        return _unsigned(int(space.n) - 1)
    if isinstance(space, spaces.MultiDiscrete):
        return _unsigned(int(np.max(space.nvec)) - 1)
    if isinstance(space, spaces.MultiBinary):
        return np.dtype(np.uint8)
    if isinstance(space, spaces.Box):
        return np.dtype(space.dtype)
    raise RecordingError(f"{type(space).__name__} action spaces cannot be recorded")


def bytes_per_step(space: spaces.Space) -> float:
    """How many packed bytes one action of ``space`` takes."""
    size = math.prod(space.shape) if space.shape else 1
    if isinstance(space, spaces.MultiBinary):
        return size / 8
    return size * packed_dtype(space).itemsize


def max_recorded_steps(space: spaces.Space) -> int:
    """The longest episode whose actions a recording keeps."""
    return int(MAX_EPISODE_BYTES // max(bytes_per_step(space), 1 / 8))


def encode_actions(actions: Sequence[Any], space: spaces.Space) -> str:
    """Pack an episode's checked actions for ``space`` into compact text."""
    shape = (len(actions), *(space.shape or ()))
    if isinstance(space, spaces.Discrete):
        raw = (np.asarray(actions, dtype=np.int64) - int(space.start)).astype(packed_dtype(space))
    elif isinstance(space, spaces.MultiDiscrete):
        stacked = np.asarray(actions, dtype=np.int64).reshape(shape) - space.start
        raw = stacked.astype(packed_dtype(space))
    elif isinstance(space, spaces.MultiBinary):
        raw = np.packbits(np.asarray(actions, dtype=np.uint8).reshape(-1))
    elif isinstance(space, spaces.Box):
        raw = np.asarray(actions, dtype=space.dtype).reshape(shape)
    else:
        raise RecordingError(f"{type(space).__name__} action spaces cannot be recorded")
    return base64.b64encode(zlib.compress(raw.tobytes(), 6)).decode("ascii")


def decode_actions(text: str, space: spaces.Space, length: int) -> list[Any]:
    """Unpack ``length`` actions of ``space`` from :func:`encode_actions`'s text.

    Raises RecordingError when the text is not a recording of that many actions.
    """
    size = math.prod(space.shape) if space.shape else 1
    if isinstance(space, spaces.MultiBinary):
        expected = math.ceil(length * size / 8)
    else:
        expected = length * size * packed_dtype(space).itemsize
    if expected > MAX_EPISODE_BYTES:
        raise RecordingError(f"a recording of {length} actions is larger than any kept")
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(base64.b64decode(text, validate=True), expected + 1)
    except (binascii.Error, zlib.error, ValueError) as exc:
        raise RecordingError(f"the recording is damaged: {exc}") from None
    if len(raw) != expected or not inflater.eof:
        raise RecordingError(
            f"the recording holds {len(raw)} bytes, not the {expected} of {length} actions"
        )
    shape = (length, *(space.shape or ()))
    if isinstance(space, spaces.Discrete):
        values = np.frombuffer(raw, dtype=packed_dtype(space)).astype(np.int64)
        return (values + int(space.start)).tolist()
    if isinstance(space, spaces.MultiDiscrete):
        values = np.frombuffer(raw, dtype=packed_dtype(space)).astype(np.int64).reshape(shape)
        return list((values + space.start).astype(space.dtype))
    if isinstance(space, spaces.MultiBinary):
        bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), count=length * size)
        return list(bits.reshape(shape).astype(space.dtype))
    assert isinstance(space, spaces.Box)
    return list(np.frombuffer(raw, dtype=space.dtype).reshape(shape).copy())


def episode_text(info: dict[str, Any]) -> tuple[str | None, str | None]:
    """The prompt and completion a text environment puts in its last step's info, bounded."""
    prompt, completion = info.get("prompt"), info.get("completion")
    if not isinstance(prompt, str) or not isinstance(completion, str):
        return None, None
    return prompt[:MAX_TEXT_CHARS], completion[:MAX_TEXT_CHARS]
