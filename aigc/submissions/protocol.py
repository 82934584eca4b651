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

import itertools
import math
import re
import select
import socket
import struct
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np

PROTOCOL_VERSION = 1
DEFAULT_MAX_FRAME_BYTES = 16 * 2**20
HEADER = struct.Struct(">I")
MAX_NDIM = 32
_RECV_BYTES = 2**16  # a connection's receive buffer; it grows to hold a larger frame
_KEEP_BYTES = 2**20  # a buffer grown beyond this shrinks back once its frame is decoded
_MAX_CHUNKS = 64  # buffers handed to one sendmsg (the system allows at least 1024)

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

_DTYPES = {name: np.dtype(name) for name in ALLOWED_DTYPES}
_ARRAY_FIELDS = frozenset({"dtype", "shape", "data"})


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


def decode_array(value: object, what: str = "array", writable: bool = True) -> np.ndarray:
    """Rebuild an array sent by :func:`encode_array`, checking every field first.

    The array is a writable copy in native byte order; with ``writable=False``, for a
    caller that only reads it, an array already in native order is a view of the bytes.
    """
    if not isinstance(value, dict) or value.keys() != _ARRAY_FIELDS:
        raise ProtocolError(f"{what} is not an encoded array (a map of dtype, shape and data)")
    dtype, shape, data = value["dtype"], value["shape"], value["data"]
    np_dtype = _DTYPES.get(dtype) if isinstance(dtype, str) else None
    if np_dtype is None:
        raise ProtocolError(f"{what} has dtype {dtype!r}; only plain numeric dtypes are allowed")
    if not isinstance(shape, list) or len(shape) > MAX_NDIM:
        raise ProtocolError(f"{what} has an invalid shape")
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise ProtocolError(f"{what} has an invalid shape {shape!r}")
    if not isinstance(data, bytes):
        raise ProtocolError(f"{what} carries no bytes")
    if math.prod(shape) * np_dtype.itemsize != len(data):
        raise ProtocolError(
            f"{what} has shape {tuple(shape)} of {np_dtype} but {len(data)} bytes of data"
        )
    try:
        array = np.frombuffer(data, dtype=np_dtype).reshape(shape)
    except (ValueError, OverflowError):  # e.g. shape [0, 2**63]: empty, but too big for numpy
        raise ProtocolError(f"{what} has an unsupported shape {tuple(shape)}") from None
    if not writable and np_dtype.isnative:
        return array
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
    """Checks each map's keys and counts the values msgpack builds, stopping past ``limit``.

    msgpack calls the hooks as each container completes, so at most the containers still
    open (bounded by its nesting limit and the length limits) are built beyond the limit.
    Timestamps need no check here: they are extensions, refused by ``max_ext_len=0``.
    """

    __slots__ = ("left", "limit")

    def __init__(self, limit: int):
        self.left = limit
        self.limit = limit

    def _count(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise ProtocolError(
                f"a frame holds more than {self.limit} values, more than any message needs"
            )

    def map(self, mapping: dict) -> dict:
        self._count(1 + 2 * len(mapping))
        return _string_keys(mapping)

    def list(self, items: list) -> list:
        self._count(1 + len(items))
        return items


def _string_keys(mapping: dict) -> dict:
    for key in mapping:
        if key.__class__ is not str:
            raise ProtocolError("map keys must be strings")
    return mapping


def _decode(body: bytes | memoryview, limits: DecodeLimits) -> object:
    # Every value takes at least one byte: a body no longer than the limit cannot hold more
    # values than it allows, and needs only its keys checked.
    counter = _Counter(limits.max_values) if len(body) > limits.max_values else None
    try:
        return msgpack.unpackb(
            body,
            raw=False,
            strict_map_key=True,
            ext_hook=_refuse_extension,
            use_list=True,
            object_hook=_string_keys if counter is None else counter.map,
            list_hook=None if counter is None else counter.list,
            max_str_len=limits.max_str_bytes,
            max_bin_len=len(body),
            max_array_len=limits.max_array_len,
            max_map_len=limits.max_map_len,
            max_ext_len=0,  # extensions (timestamps among them) are refused whatever their size
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

    A round trip costs few system calls: a frame goes out in one ``sendmsg`` (header and
    body, uncopied) and comes in by ``recv_into`` a buffer kept between frames. With a
    deadline the socket is non-blocking and waits only when the peer is not ready (a
    ``poll`` with the time left); without one it blocks.
    """

    def __init__(self, sock: socket.socket, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES):
        self.sock = sock
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray(_RECV_BYTES)
        self._start = self._end = 0  # the received bytes not yet decoded: _buffer[_start:_end]
        self._outgoing: deque[bytes | memoryview] = deque()
        self._packer = msgpack.Packer(use_bin_type=True)
        self._blocking: bool | None = None  # the socket's mode, once this end has set it
        self._readable = select.poll()
        self._readable.register(sock, select.POLLIN)
        self._writable = select.poll()
        self._writable.register(sock, select.POLLOUT)

    def send(self, message: Mapping[str, Any], deadline: float | None = None) -> None:
        """Send one message; ``deadline`` is a ``time.monotonic()`` value or None."""
        self.queue(message)
        self.flush(deadline)

    def queue(self, message: Mapping[str, Any]) -> None:
        """Add one message to what is to be sent, without sending it yet."""
        body = self._packer.pack(message)
        self._outgoing += (HEADER.pack(len(body)), body)

    def flush(self, deadline: float | None = None) -> None:
        """Send everything queued, or raise DeadlineExceeded keeping the rest queued."""
        outgoing = self._outgoing
        while outgoing:
            if deadline is not None and deadline <= time.monotonic():
                raise DeadlineExceeded("the deadline has passed")
            self._mode(deadline)
            try:
                sent = self.sock.sendmsg(list(itertools.islice(outgoing, _MAX_CHUNKS)))
            except BlockingIOError:
                self._wait(self._writable, deadline, "sending a message timed out")
                continue
            except (BrokenPipeError, ConnectionResetError):
                raise PeerClosed("the connection was closed") from None
            while sent:
                first = outgoing[0]
                if sent < len(first):
                    outgoing[0] = memoryview(first)[sent:]
                    break
                sent -= len(first)
                outgoing.popleft()

    def recv(self, allowed: Messages, deadline: float | None = None) -> dict:
        """Receive one message of the ``allowed`` kinds before ``deadline``."""
        self._fill(HEADER.size, deadline)
        (length,) = HEADER.unpack_from(self._buffer, self._start)
        if length > self.max_frame_bytes:
            raise FrameTooLarge(
                f"a frame of {length} bytes exceeds the cap of {self.max_frame_bytes} bytes"
            )
        self._fill(HEADER.size + length, deadline)
        begin = self._start + HEADER.size
        end = begin + length
        try:
            # Decoded in place: a copy of the body would double what a frame costs.
            with memoryview(self._buffer)[begin:end] as body:
                return unpack(body, allowed)
        finally:
            self._start = end
            if self._start == self._end:
                self._start = self._end = 0
                if len(self._buffer) > _KEEP_BYTES:  # a large frame's room is given back
                    self._buffer = bytearray(_RECV_BYTES)

    def _fill(self, size: int, deadline: float | None) -> None:
        """Have at least ``size`` received bytes at ``_buffer[_start:]``."""
        while self._end - self._start < size:
            if self._start + size > len(self._buffer):
                self._make_room(size)
            if deadline is not None and deadline <= time.monotonic():
                raise DeadlineExceeded("the deadline has passed")
            self._mode(deadline)
            try:
                with memoryview(self._buffer)[self._end :] as free:
                    received = self.sock.recv_into(free)
            except BlockingIOError:
                self._wait(self._readable, deadline, "no answer before the deadline")
                continue
            except ConnectionResetError:
                received = 0
            if not received:
                raise PeerClosed("the connection was closed")
            self._end += received

    def drain(self, deadline: float) -> None:
        """Read and drop whatever the peer sends until it closes the connection.

        Raises PeerClosed when it has, DeadlineExceeded if it has not by ``deadline``.
        """
        self._start = self._end = 0
        while True:
            self._fill(len(self._buffer), deadline)
            self._start = self._end = 0

    def _make_room(self, size: int) -> None:
        """Move the bytes not yet decoded to the front of a buffer that holds ``size``."""
        kept = self._end - self._start
        buffer = bytearray(max(size, _RECV_BYTES))
        buffer[:kept] = memoryview(self._buffer)[self._start : self._end]
        self._buffer, self._start, self._end = buffer, 0, kept

    def _mode(self, deadline: float | None) -> None:
        """Block without a deadline; with one, never block in a read or write."""
        blocking = deadline is None
        if self._blocking is not blocking:
            self.sock.setblocking(blocking)
            self._blocking = blocking

    def _wait(self, poller: select.poll, deadline: float | None, message: str) -> None:
        """Wait until the socket is ready for ``poller``'s event, or raise at ``deadline``."""
        if deadline is None:  # only reached if the socket's mode was changed behind our back
            poller.poll()
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not poller.poll(remaining * 1000):
            raise DeadlineExceeded(message)

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()
