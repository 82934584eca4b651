"""Gymnasium spaces on the wire, observation batches, and the check of every action.

SPACE (in ``hello``) is a map with a ``"kind"``:
    ``{"kind": "Discrete", "n": int, "start": int}``
    ``{"kind": "Box", "low": ARRAY, "high": ARRAY}`` (shape and dtype from ``low``)
    ``{"kind": "MultiDiscrete", "nvec": ARRAY, "start": ARRAY}``
    ``{"kind": "MultiBinary", "n": [int]}``
    ``{"kind": "Dict", "spaces": {name: SPACE}}`` and ``{"kind": "Tuple", "spaces": [SPACE]}``
    (observations only).

BATCH (in ``act``) mirrors the observation space: an ARRAY with the n observations stacked
on axis 0 for the simple spaces, a map of BATCH for Dict, a list of BATCH for Tuple.

Actions come back as one ARRAY of shape ``(n, *action_space.shape)``. The evaluator checks
them all with :func:`check_actions` before any reaches ``env.step``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import spaces

from aigc.submissions.protocol import ProtocolError, decode_array, encode_array

ACTION_SPACES = (spaces.Discrete, spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary)
MAX_SPACE_DEPTH = 8
MAX_SPACE_ELEMENTS = 2**24


class InvalidAction(Exception):
    """An agent's action is not in the action space; the message says how to fix it."""


def encode_space(space: spaces.Space) -> dict[str, Any]:
    """Describe a space for the ``hello`` message."""
    if isinstance(space, spaces.Discrete):
        return {"kind": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):
        return {"kind": "Box", "low": encode_array(space.low), "high": encode_array(space.high)}
    if isinstance(space, spaces.MultiDiscrete):
        return {
            "kind": "MultiDiscrete",
            "nvec": encode_array(space.nvec),
            "start": encode_array(space.start),
        }
    if isinstance(space, spaces.MultiBinary):
        return {"kind": "MultiBinary", "n": [int(d) for d in np.atleast_1d(space.n)]}
    if isinstance(space, spaces.Dict):
        return {"kind": "Dict", "spaces": {k: encode_space(s) for k, s in space.spaces.items()}}
    if isinstance(space, spaces.Tuple):
        return {"kind": "Tuple", "spaces": [encode_space(s) for s in space.spaces]}
    raise ValueError(
        f"{type(space).__name__} spaces are not supported: use Discrete, Box, MultiDiscrete, "
        "MultiBinary, or a Dict or Tuple of them"
    )


def decode_space(data: object, depth: int = 0) -> spaces.Space:
    """Rebuild a space from :func:`encode_space`'s output, checking every field."""
    if depth > MAX_SPACE_DEPTH:
        raise ProtocolError("a space is nested too deeply")
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        raise ProtocolError("a space must be a map with a 'kind'")
    kind = data["kind"]
    try:
        if kind == "Discrete":
            return spaces.Discrete(_int(data, "n", minimum=1), start=_int(data, "start"))
        if kind == "Box":
            low, high = decode_array(data["low"], "Box.low"), decode_array(data["high"], "Box.high")
            _check_size(low.size)
            if low.shape != high.shape or low.dtype != high.dtype:
                raise ProtocolError("Box.low and Box.high differ in shape or dtype")
            return spaces.Box(low=low, high=high, dtype=low.dtype)  # type: ignore[arg-type]
        if kind == "MultiDiscrete":
            nvec = decode_array(data["nvec"], "MultiDiscrete.nvec")
            _check_size(nvec.size)
            return spaces.MultiDiscrete(nvec, start=decode_array(data["start"], "start"))
        if kind == "MultiBinary":
            n = data["n"]
            if not isinstance(n, list) or not n or not all(_positive_int(d) for d in n):
                raise ProtocolError("MultiBinary.n must be a list of positive integers")
            _check_size(math.prod(n))
            return spaces.MultiBinary(n if len(n) > 1 else n[0])
        if kind == "Dict" and isinstance(data.get("spaces"), dict):
            return spaces.Dict({k: decode_space(s, depth + 1) for k, s in data["spaces"].items()})
        if kind == "Tuple" and isinstance(data.get("spaces"), list):
            return spaces.Tuple([decode_space(s, depth + 1) for s in data["spaces"]])
    except (KeyError, TypeError, ValueError, OverflowError, AssertionError) as exc:
        raise ProtocolError(f"invalid {kind} space: {exc}") from None
    raise ProtocolError(f"unknown space kind {kind!r}")


def _int(data: dict, key: str, minimum: int | None = None) -> int:
    value = data[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"field {key!r} of a space must be an integer")
    if minimum is not None and value < minimum:
        raise ProtocolError(f"field {key!r} of a space must be at least {minimum}")
    return value


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_size(size: int) -> None:
    if size > MAX_SPACE_ELEMENTS:
        raise ProtocolError(f"a space of {size} elements is larger than allowed")


def encode_batch(observations: list[Any], space: spaces.Space) -> Any:
    """Stack n observations of ``space`` into a BATCH."""
    if isinstance(space, spaces.Dict):
        return {k: encode_batch([o[k] for o in observations], s) for k, s in space.spaces.items()}
    if isinstance(space, spaces.Tuple):
        return [encode_batch([o[i] for o in observations], s) for i, s in enumerate(space.spaces)]
    # One array built from the list (what np.stack gives, in a third of its time).
    return encode_array(np.array(observations, dtype=space.dtype))


def decode_batch(value: object, space: spaces.Space, n: int | None = None) -> Any:
    """Rebuild a BATCH of ``space``; every part must hold the same number of observations."""
    if isinstance(space, spaces.Dict):
        if not isinstance(value, dict) or set(value) != set(space.spaces):
            raise ProtocolError("a Dict observation batch must have exactly the space's keys")
        parts = {}
        for key, sub in space.spaces.items():
            parts[key] = decode_batch(value[key], sub, n)
            n = _batch_length(parts[key])
        return parts
    if isinstance(space, spaces.Tuple):
        if not isinstance(value, list) or len(value) != len(space.spaces):
            raise ProtocolError("a Tuple observation batch must have one part per subspace")
        items = []
        for part, sub in zip(value, space.spaces, strict=True):
            items.append(decode_batch(part, sub, n))
            n = _batch_length(items[-1])
        return tuple(items)
    array = decode_array(value, "observation batch")
    if array.ndim == 0 or array.shape[1:] != space.shape or (n is not None and len(array) != n):
        raise ProtocolError(f"an observation batch of shape {array.shape} does not fit {space}")
    return array


def _batch_length(batch: Any) -> int:
    if isinstance(batch, dict):
        return _batch_length(next(iter(batch.values())))
    if isinstance(batch, tuple):
        return _batch_length(batch[0])
    return len(batch)


def unbatch(batch: Any, space: spaces.Space) -> list[Any]:
    """Split a decoded BATCH into single observations."""
    if isinstance(space, spaces.Dict):
        columns = {k: unbatch(batch[k], s) for k, s in space.spaces.items()}
        return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]
    if isinstance(space, spaces.Tuple):
        parts = [unbatch(part, s) for part, s in zip(batch, space.spaces, strict=True)]
        return [tuple(row) for row in zip(*parts, strict=True)]
    return list(batch)


def describe_space(space: spaces.Space) -> str:
    """Name a space the way a participant reads it."""
    if isinstance(space, spaces.Discrete):
        first = int(space.start)
        return f"Discrete({space.n}) (integers {first} to {first + int(space.n) - 1})"
    if isinstance(space, spaces.Box):
        low, high = np.unique(space.low), np.unique(space.high)
        bounds = f"[{low[0]}, {high[0]}]" if len(low) == len(high) == 1 else "per-dimension bounds"
        return f"Box(shape {space.shape}, {space.dtype}, {bounds})"
    return str(space)


def check_actions(actions: np.ndarray, space: spaces.Space, n: int) -> list[Any]:
    """Check a batch of n actions against ``space``; return them ready for ``env.step``.

    Raises InvalidAction naming the first bad action and how to return a valid one.
    """
    if actions.ndim == 0 or len(actions) != n:
        raise InvalidAction(
            f"the agent returned {0 if actions.ndim == 0 else len(actions)} actions "
            f"for {n} observations: return one action per observation"
        )
    shape = actions.shape[1:]
    if isinstance(space, spaces.Discrete) and shape == () and actions.dtype.kind in "iu":
        # The common case at once: a batch of integers, all within the space.
        values = actions.tolist()  # Python ints
        first = int(space.start)
        if n == 0 or (first <= min(values) and max(values) < first + int(space.n)):
            return values
    if shape != space.shape:
        hint = (
            "a single integer (e.g. int(action))" if space.shape == () else f"shape {space.shape}"
        )
        raise InvalidAction(
            f"the agent returned an action of shape {shape} for {describe_space(space)}: "
            f"return {hint}"
        )
    if isinstance(space, spaces.Box):
        if actions.dtype.kind not in "biuf":
            raise InvalidAction(
                f"the agent returned {actions.dtype} actions for {describe_space(space)}"
            )
        finite = np.isfinite(actions).reshape(n, -1).all(axis=1)
        if not finite.all():
            index = int(np.argmin(finite))
            raise InvalidAction(
                f"action {_show(actions[index])} contains NaN or infinity: "
                f"return finite numbers within {describe_space(space)}"
            )
        # Compare before casting: a cast to the space's dtype can wrap (300 -> 44 in uint8).
        inside = ((actions >= space.low) & (actions <= space.high)).reshape(n, -1).all(axis=1)
        if not inside.all():
            index = int(np.argmin(inside))
            raise InvalidAction(
                f"action {_show(actions[index])} is outside {describe_space(space)}: "
                "clip it, e.g. np.clip(action, action_space.low, action_space.high)"
            )
        cast = actions.astype(space.dtype)
        if not np.isfinite(cast).all():  # float64 beyond float32's range becomes infinite
            index = int(np.argmin(np.isfinite(cast).reshape(n, -1).all(axis=1)))
            raise InvalidAction(
                f"action {_show(actions[index])} is too large for {space.dtype}: "
                f"return finite numbers within {describe_space(space)}"
            )
        return list(cast)
    if actions.dtype.kind not in "iu" and not (
        isinstance(space, spaces.MultiBinary) and actions.dtype.kind == "b"
    ):
        raise InvalidAction(
            f"the agent returned {actions.dtype} actions, but {describe_space(space)} takes "
            "integers: return int(action) (or an integer array)"
        )
    low: int | np.ndarray
    high: int | np.ndarray
    if isinstance(space, spaces.Discrete):
        low, high = int(space.start), int(space.start) + int(space.n) - 1
    elif isinstance(space, spaces.MultiDiscrete):
        low, high = space.start, space.start + space.nvec - 1
    else:
        low, high = 0, 1
    inside = ((actions >= low) & (actions <= high)).reshape(n, -1).all(axis=1)
    if not inside.all():
        index = int(np.argmin(inside))
        raise InvalidAction(f"action {_show(actions[index])} is outside {describe_space(space)}")
    if isinstance(space, spaces.Discrete):
        return actions.tolist()  # Python ints
    return list(actions.astype(space.dtype))


def _show(action: np.ndarray) -> str:
    return np.array2string(np.asarray(action), precision=4, threshold=8)
