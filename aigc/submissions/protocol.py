"""Wire protocol between the trusted evaluator and an agent runtime.

Transport
    A stream socket (a Unix socket in a folder made fresh for each evaluation). Each frame
    is a 4-byte big-endian unsigned length followed by that many bytes of msgpack. A frame
    longer than the receiver's cap is refused from its header, before its body is read.

Types
    Only msgpack's own types cross: maps with string keys, arrays, strings, integers,
    floats, booleans, nil and bytes. Nothing is ever unpickled and msgpack extension types
    are refused. A numpy array travels as the map ``{"dtype": str, "shape": [int], "data":
    bytes}``; the receiver accepts only plain numeric dtypes and checks that the shape
    matches the byte count before it rebuilds the array.

Messages
    Every message is a map with a ``"type"`` key. Evaluator to agent:

    ``hello``  ``{"protocol": 1, "observation_space": SPACE, "action_space": SPACE,
               "seed": int, "max_batch": int}``; the first message. The agent builds
               itself and answers with its own ``hello`` or with ``error``.
    ``reset``  ``{}``; an episode starts (sent only to agents that have ``reset()``,
               which are given one episode at a time). No answer.
    ``act``    ``{"observations": BATCH}``: n observations stacked on axis 0, n <=
               max_batch. The agent answers with ``action`` or ``error``.
    ``close``  ``{}``; the evaluation is over. No answer; the agent exits.

    Agent to evaluator:

    ``hello``  ``{"protocol": 1, "name": str, "batched": bool, "stateful": bool}``.
    ``action`` ``{"actions": ARRAY}``: n actions stacked on axis 0, in the order of the
               observations.
    ``error``  ``{"message": str, "traceback": str}``: the agent failed; it exits after.
               An optional ``"code": "invalid_action"`` says the agent returned something
               the runtime could not send as an action (an object, float128, ...).

    An organizer's environment in its own sandbox speaks the same frames with the messages
    of :data:`HOST_MESSAGES` (evaluator to environment: ``env_hello``, ``env_reset``,
    ``env_step``, ``env_render``, ``env_check``, ``close``) and :data:`ENVIRONMENT_MESSAGES`
    (its answers: ``env_hello`` with its spaces, ``env_observation``, ``env_steps``,
    ``env_frame``, ``env_checked``, ``error``); :mod:`aigc.submissions.environment_runtime`
    describes each.

    SPACE and BATCH are defined in :mod:`aigc.submissions.spaces`. A message may carry
    fields beyond those listed; the receiver ignores them.

Limits
    A frame costs the receiver memory of the order of its own size, however it is built.
    Each side's messages come with :class:`DecodeLimits` set by what they need (an agent's
    messages hold one encoded array and a few fields; the evaluator's hold spaces and
    batches, which nest): the length of every string, array and map, and the count of
    values in the whole message. msgpack refuses an over-long container from its header,
    before allocating it; the count stops a frame of millions of tiny containers after a
    few thousand.
"""

from __future__ import annotations

import math
import re
import socket
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np

PROTOCOL_VERSION = 1
DEFAULT_MAX_FRAME_BYTES = 16 * 2**20
HEADER = struct.Struct(">I")
MAX_NDIM = 32

Fields = dict[str, type | tuple[type, ...]]


@dataclass(frozen=True)
class DecodeLimits:
    """The largest parts one message may decode to (strings in bytes; containers in items)."""

    max_str_bytes: int
    max_array_len: int
    max_map_len: int
    max_values: int  # every value in the message, containers and their items included


class Messages(dict[str, Fields]):
    """The messages one side may send (type to required fields and their types), and the
    limits within which the other side decodes them."""

    def __init__(self, fields: dict[str, Fields], limits: DecodeLimits):
        super().__init__(fields)
        self.limits = limits


# What each side may send, and the fields (with their types) each message must carry.
EVALUATOR_MESSAGES = Messages(
    {
        "hello": {
            "protocol": int,
            "observation_space": dict,
            "action_space": dict,
            "seed": int,
            "max_batch": int,
        },
        "reset": {},
        "act": {"observations": (dict, list)},
        "close": {},
    },
    # Spaces and batches nest (Dict and Tuple spaces) and name their parts.
    DecodeLimits(max_str_bytes=2**20, max_array_len=1024, max_map_len=1024, max_values=2**18),
)
AGENT_MESSAGES = Messages(
    {
        "hello": {"protocol": int, "name": str, "batched": bool, "stateful": bool},
        "action": {"actions": dict},
        "error": {"message": str, "traceback": str},
    },
    # One encoded array (a shape of up to MAX_NDIM sizes), a few fields, an error's text.
    DecodeLimits(max_str_bytes=2**20, max_array_len=2 * MAX_NDIM, max_map_len=32, max_values=4096),
)

# An organizer's environment in its own sandbox (see aigc.submissions.environment_runtime):
# what the evaluator sends it, and what it answers.
HOST_MESSAGES = Messages(
    {
        "env_hello": {
            "protocol": int,
            "entry_point": str,
            "kwargs_json": str,
            "max_episode_steps": int,  # 0: no limit beyond the environment's own
            "info": list,  # the names of metrics.info: the only info that comes back
            "render": bool,  # a replay: build it drawing rgb_array frames, or ansi text
        },
        "env_reset": {"index": int, "seed": int},
        "env_step": {"indices": list, "actions": dict},
        "env_render": {"index": int},
        "env_check": {},
        "close": {},
    },
    DecodeLimits(max_str_bytes=2**20, max_array_len=1024, max_map_len=64, max_values=2**14),
)
ENVIRONMENT_MESSAGES = Messages(
    {
        "env_hello": {
            "protocol": int,
            "observation_space": dict,
            "action_space": dict,
            "render_mode": str,  # "" unless asked to render
            "render_fps": (int, float),  # 0: not declared
        },
        "env_observation": {"observation": (dict, list), "info": dict},
        "env_steps": {
            "observations": (dict, list),
            "rewards": dict,
            "terminated": dict,
            "truncated": dict,
            "infos": list,
        },
        "env_frame": {"frame": (dict, str)},  # an encoded uint8 image, or ansi text
        "env_checked": {"warnings": list},
        "error": {"message": str, "traceback": str},
    },
    # Spaces and batches nest like the evaluator's; infos are one small map per episode.
    DecodeLimits(max_str_bytes=2**20, max_array_len=1024, max_map_len=1024, max_values=2**18),
)

_NUMERIC_DTYPES = (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64",
)  # fmt: skip
ALLOWED_DTYPES = frozenset(
    {np.dtype(name).newbyteorder("<").str for name in _NUMERIC_DTYPES}
    | {np.dtype(name).newbyteorder(">").str for name in _NUMERIC_DTYPES}
)


class ProtocolError(Exception):
    """The peer sent something the protocol does not allow."""


class FrameTooLarge(ProtocolError):
    """A frame's header announced more bytes than the cap allows."""


class PeerClosed(ProtocolError):
    """The connection ended (the peer exited or closed its socket)."""


class DeadlineExceeded(Exception):
    """No complete message arrived, or could be sent, before the deadline."""


def encode_array(array: np.ndarray) -> dict[str, Any]:
    """Encode an array as ``{"dtype", "shape", "data"}``."""
    array = np.asarray(array)  # tobytes() writes C order; ascontiguousarray would make 0-d 1-d
    if array.dtype.str not in ALLOWED_DTYPES:
        raise ProtocolError(f"arrays of dtype {array.dtype} cannot be sent: use a numeric dtype")
    return {"dtype": array.dtype.str, "shape": list(array.shape), "data": array.tobytes()}


def decode_array(value: object, what: str = "array") -> np.ndarray:
    """Rebuild an array sent by :func:`encode_array`, checking every field first."""
    if not isinstance(value, dict) or set(value) != {"dtype", "shape", "data"}:
        raise ProtocolError(f"{what} is not an encoded array (a map of dtype, shape and data)")
    dtype, shape, data = value["dtype"], value["shape"], value["data"]
    if not isinstance(dtype, str) or dtype not in ALLOWED_DTYPES:
        raise ProtocolError(f"{what} has dtype {dtype!r}; only plain numeric dtypes are allowed")
    if not isinstance(shape, list) or len(shape) > MAX_NDIM:
        raise ProtocolError(f"{what} has an invalid shape")
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise ProtocolError(f"{what} has an invalid shape {shape!r}")
    if not isinstance(data, bytes):
        raise ProtocolError(f"{what} carries no bytes")
    np_dtype = np.dtype(dtype)
    if math.prod(shape) * np_dtype.itemsize != len(data):
        raise ProtocolError(
            f"{what} has shape {tuple(shape)} of {np_dtype} but {len(data)} bytes of data"
        )
    try:
        array = np.frombuffer(data, dtype=np_dtype).reshape(shape)
    except (ValueError, OverflowError):  # e.g. shape [0, 2**63]: empty, but too big for numpy
        raise ProtocolError(f"{what} has an unsupported shape {tuple(shape)}") from None
    # A writable copy in native byte order: agents may modify what they are given.
    return array.astype(np_dtype.newbyteorder("="), copy=True)


def pack(message: Mapping[str, Any]) -> bytes:
    """Encode one message as a frame (header and body)."""
    body = msgpack.packb(message, use_bin_type=True)
    return HEADER.pack(len(body)) + body


def _refuse_extension(code: int, data: bytes) -> object:
    raise ProtocolError(f"msgpack extension type {code} is not allowed")


# msgpack's own words when a container or string is longer than its limit.
_OVER_LIMIT = re.compile(r"(\d+) exceeds max_(str|bin|array|map|ext)_len\((\d+)\)")
_UNITS = {"str": "bytes", "bin": "bytes", "ext": "bytes", "array": "items", "map": "entries"}
_NAMES = {
    "str": "a string",
    "bin": "a byte string",
    "ext": "an extension",
    "array": "an array",
    "map": "a map",
}


class _Counter:
    """Counts the values msgpack builds and stops the decoding past ``limit``.

    msgpack calls the hooks as each container completes, so at most the containers still
    open (bounded by its nesting limit and the length limits) are built beyond the limit.
    """

    def __init__(self, limit: int):
        self.left = limit
        self.limit = limit

    def _count(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise ProtocolError(
                f"a frame holds more than {self.limit} values, more than any message needs"
            )

    def map(self, pairs: list[tuple[object, object]]) -> dict:
        self._count(1 + 2 * len(pairs))
        for key, value in pairs:
            if not isinstance(key, str):
                raise ProtocolError("map keys must be strings")
            if isinstance(value, msgpack.Timestamp):
                raise ProtocolError("msgpack timestamps are not allowed")
        return dict(pairs)

    def list(self, items: list) -> list:
        self._count(1 + len(items))
        if any(isinstance(item, msgpack.Timestamp) for item in items):
            raise ProtocolError("msgpack timestamps are not allowed")
        return items


def _decode(body: bytes | memoryview, limits: DecodeLimits) -> object:
    counter = _Counter(limits.max_values)
    try:
        return msgpack.unpackb(
            body,
            raw=False,
            strict_map_key=True,
            ext_hook=_refuse_extension,
            use_list=True,
            object_pairs_hook=counter.map,
            list_hook=counter.list,
            max_str_len=limits.max_str_bytes,
            max_bin_len=len(body),
            max_array_len=limits.max_array_len,
            max_map_len=limits.max_map_len,
            max_ext_len=0,  # extensions are refused whatever their size
        )
    except ProtocolError:
        raise
    except ValueError as exc:
        over = _OVER_LIMIT.fullmatch(str(exc))
        if over is None:
            raise ProtocolError(f"a frame is not valid msgpack ({type(exc).__name__})") from None
        size, kind, limit = over.groups()
        raise ProtocolError(
            f"a frame holds {_NAMES[kind]} of {size} {_UNITS[kind]}, over the protocol's "
            f"limit of {limit}"
        ) from None
    except Exception as exc:  # msgpack raises several types for malformed input
        raise ProtocolError(f"a frame is not valid msgpack ({type(exc).__name__})") from None


def unpack(body: bytes | memoryview, allowed: Messages) -> dict:
    """Decode a frame body within ``allowed``'s limits and check it is one of its messages."""
    message = _decode(body, allowed.limits)
    if not isinstance(message, dict):
        raise ProtocolError(f"a message must be a map, got {type(message).__name__}")
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in allowed:
        raise ProtocolError(
            f"unexpected message type {kind!r:.60}; expected one of {', '.join(sorted(allowed))}"
        )
    for field, field_type in allowed[kind].items():
        if field not in message:
            raise ProtocolError(f"a {kind!r} message lacks the field {field!r}")
        value = message[field]
        # bool is an int subclass: an int field must not accept True.
        if not isinstance(value, field_type) or (field_type is int and isinstance(value, bool)):
            raise ProtocolError(f"field {field!r} of a {kind!r} message has the wrong type")
    return message


class Connection:
    """One end of the protocol over a connected stream socket.

    Both directions keep their partial progress: a receive that times out mid-frame keeps
    what arrived, and a send that times out mid-frame keeps the rest queued, to go out
    before anything else (by :meth:`flush` or the next :meth:`send`). A caller may
    therefore wait in short slices without breaking the stream.
    """

    def __init__(self, sock: socket.socket, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES):
        self.sock = sock
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()
        self._outgoing = bytearray()

    def send(self, message: Mapping[str, Any], deadline: float | None = None) -> None:
        """Send one message; ``deadline`` is a ``time.monotonic()`` value or None."""
        self.queue(message)
        self.flush(deadline)

    def queue(self, message: Mapping[str, Any]) -> None:
        """Add one message to what is to be sent, without sending it yet."""
        self._outgoing += pack(message)

    def flush(self, deadline: float | None = None) -> None:
        """Send everything queued, or raise DeadlineExceeded keeping the rest queued."""
        while self._outgoing:
            self.sock.settimeout(_remaining(deadline))
            try:
                sent = self.sock.send(self._outgoing)
            except TimeoutError:
                raise DeadlineExceeded("sending a message timed out") from None
            except (BrokenPipeError, ConnectionResetError):
                raise PeerClosed("the connection was closed") from None
            del self._outgoing[:sent]

    def recv(self, allowed: Messages, deadline: float | None = None) -> dict:
        """Receive one message of the ``allowed`` kinds before ``deadline``."""
        self._fill(HEADER.size, deadline)
        (length,) = HEADER.unpack_from(self._buffer)
        if length > self.max_frame_bytes:
            raise FrameTooLarge(
                f"a frame of {length} bytes exceeds the cap of {self.max_frame_bytes} bytes"
            )
        end = HEADER.size + length
        self._fill(end, deadline)
        try:
            # Decoded in place: a copy of the body would double what a frame costs.
            with memoryview(self._buffer)[HEADER.size : end] as body:
                return unpack(body, allowed)
        finally:
            del self._buffer[:end]

    def _fill(self, size: int, deadline: float | None) -> None:
        while len(self._buffer) < size:
            self.sock.settimeout(_remaining(deadline))
            try:
                chunk = self.sock.recv(max(65536, size - len(self._buffer)))
            except TimeoutError:
                raise DeadlineExceeded("no answer before the deadline") from None
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise PeerClosed("the connection was closed")
            self._buffer += chunk

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


def _remaining(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DeadlineExceeded("the deadline has passed")
    return remaining
