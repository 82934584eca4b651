"""The wire protocol: frames over real sockets, message schemas, arrays, hostile input.

Everything an agent sends is hostile: each malformed frame must end in ProtocolError (or its
subclasses FrameTooLarge and PeerClosed) or DeadlineExceeded, and never in anything else.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager

import msgpack
import numpy as np
import pytest

from aigc.submissions.protocol import (
    AGENT_MESSAGES,
    ALLOWED_DTYPES,
    DEFAULT_MAX_FRAME_BYTES,
    EVALUATOR_MESSAGES,
    HEADER,
    MAX_NDIM,
    Connection,
    DeadlineExceeded,
    FrameTooLarge,
    PeerClosed,
    ProtocolError,
    decode_array,
    encode_array,
    pack,
    unpack,
)

EVALUATOR_EXAMPLES = {
    "hello": {
        "type": "hello",
        "protocol": 1,
        "observation_space": {"kind": "MultiBinary", "n": [4]},
        "action_space": {"kind": "Discrete", "n": 2, "start": 0},
        "seed": 2**40 + 7,
        "max_batch": 16,
    },
    "reset": {"type": "reset"},
    "act": {"type": "act", "observations": encode_array(np.arange(8, dtype=np.float32))},
    "close": {"type": "close"},
}
AGENT_EXAMPLES = {
    "hello": {
        "type": "hello",
        "protocol": 1,
        "name": "ágent ✓",
        "batched": True,
        "stateful": False,
    },
    "action": {"type": "action", "actions": encode_array(np.array([0, 1, 1], np.int64))},
    "error": {"type": "error", "message": "boom", "traceback": "Traceback (most recent call last)"},
}
ERROR = AGENT_EXAMPLES["error"]


def soon(seconds: float = 0.2) -> float:
    """A deadline a short time ahead."""
    return time.monotonic() + seconds


def later() -> float:
    """A deadline far enough ahead that reaching it means the code waited for nothing."""
    return time.monotonic() + 5.0


@contextmanager
def raises_exactly(cls: type[BaseException]) -> Iterator[pytest.ExceptionInfo]:
    """Like pytest.raises, but a subclass (or another class) is a failure."""
    with pytest.raises(BaseException) as info:
        yield info
    assert type(info.value) is cls, f"expected {cls.__name__}, got {info.value!r}"


@pytest.fixture
def sockets() -> Iterator[tuple[socket.socket, socket.socket]]:
    left, right = socket.socketpair()
    yield left, right
    left.close()
    right.close()


@pytest.fixture
def agent_to_evaluator(sockets) -> tuple[socket.socket, Connection]:
    """A raw socket on the agent's side and the evaluator's Connection that reads it."""
    agent_sock, evaluator_sock = sockets
    return agent_sock, Connection(evaluator_sock)


def frame(body: bytes) -> bytes:
    return HEADER.pack(len(body)) + body


def body_of(message: object) -> bytes:
    return msgpack.packb(message, use_bin_type=True)


def with_extra_field(value_bytes: bytes) -> bytes:
    """A valid agent 'error' body with one more field whose value is the given raw msgpack."""
    body = body_of(ERROR)
    assert body[0] == 0x80 | len(ERROR)  # a fixmap: bump its count by one
    return bytes([body[0] + 1]) + body[1:] + body_of("extra") + value_bytes


# --- round trips -----------------------------------------------------------------------------


def test_examples_cover_every_message_type():
    assert set(EVALUATOR_EXAMPLES) == set(EVALUATOR_MESSAGES)
    assert set(AGENT_EXAMPLES) == set(AGENT_MESSAGES)


@pytest.mark.parametrize(
    ("allowed", "message"),
    [(EVALUATOR_MESSAGES, m) for m in EVALUATOR_EXAMPLES.values()]
    + [(AGENT_MESSAGES, m) for m in AGENT_EXAMPLES.values()],
    ids=[f"evaluator-{k}" for k in EVALUATOR_EXAMPLES] + [f"agent-{k}" for k in AGENT_EXAMPLES],
)
def test_every_message_type_round_trips_through_a_connection(sockets, allowed, message):
    sender, receiver = Connection(sockets[0]), Connection(sockets[1])
    sender.send(message, later())
    assert receiver.recv(allowed, later()) == message


def test_act_with_a_list_of_batches_round_trips(sockets):
    message = {
        "type": "act",
        "observations": [encode_array(np.zeros((2, 3))), encode_array(np.ones(2, np.int64))],
    }
    Connection(sockets[0]).send(message)
    assert Connection(sockets[1]).recv(EVALUATOR_MESSAGES, later()) == message


def test_send_without_deadline_and_recv_without_deadline(sockets):
    Connection(sockets[0]).send(ERROR)
    assert Connection(sockets[1]).recv(AGENT_MESSAGES) == ERROR


def test_frames_sent_back_to_back_are_read_one_at_a_time(agent_to_evaluator):
    agent_sock, conn = agent_to_evaluator
    messages = [
        AGENT_EXAMPLES["hello"],
        AGENT_EXAMPLES["action"],
        {**ERROR, "message": "x" * 70_000},  # larger than one recv() of 64 KiB
        ERROR,
    ]
    agent_sock.sendall(b"".join(pack(m) for m in messages))
    for message in messages:
        assert conn.recv(AGENT_MESSAGES, later()) == message
    with raises_exactly(DeadlineExceeded):
        conn.recv(AGENT_MESSAGES, soon(0.05))


def test_a_frame_delivered_one_byte_at_a_time_is_read_whole(agent_to_evaluator):
    agent_sock, conn = agent_to_evaluator
    data = pack(AGENT_EXAMPLES["action"])

    def trickle() -> None:
        for i in range(len(data)):
            agent_sock.send(data[i : i + 1])
            time.sleep(0.0005)

    writer = threading.Thread(target=trickle)
    writer.start()
    try:
        assert conn.recv(AGENT_MESSAGES, later()) == AGENT_EXAMPLES["action"]
    finally:
        writer.join()


def test_pack_writes_a_big_endian_length_header():
    data = pack(ERROR)
    assert data[:4] == len(data[4:]).to_bytes(4, "big")
    assert unpack(data[4:], AGENT_MESSAGES) == ERROR


# --- frames: size cap, truncation, closing, deadlines -----------------------------------------


def test_a_frame_exactly_at_the_cap_is_accepted_and_one_byte_more_is_refused(sockets):
    body = body_of(ERROR)
    sockets[0].sendall(frame(body) * 2)
    conn = Connection(sockets[1], max_frame_bytes=len(body))
    assert conn.recv(AGENT_MESSAGES, later()) == ERROR
    conn.max_frame_bytes = len(body) - 1
    with raises_exactly(FrameTooLarge):
        conn.recv(AGENT_MESSAGES, later())


@pytest.mark.parametrize("announced", [16 * 2**20 + 1, 2**32 - 1])
def test_a_header_over_the_cap_is_refused_before_the_body_is_read(agent_to_evaluator, announced):
    agent_sock, conn = agent_to_evaluator
    agent_sock.sendall(HEADER.pack(announced))  # no body follows: reading it would time out
    with raises_exactly(FrameTooLarge):
        conn.recv(AGENT_MESSAGES, later())


def test_a_truncated_frame_then_close_is_peer_closed(agent_to_evaluator):
    agent_sock, conn = agent_to_evaluator
    agent_sock.sendall(pack(ERROR)[:-5])
    agent_sock.close()
    with raises_exactly(PeerClosed):
        conn.recv(AGENT_MESSAGES, later())


@pytest.mark.parametrize("sent", [b"", b"\x00", b"\x00\x00\x01"], ids=["nothing", "1", "3"])
def test_peer_closing_before_a_whole_header_is_peer_closed(agent_to_evaluator, sent):
    agent_sock, conn = agent_to_evaluator
    agent_sock.sendall(sent)
    agent_sock.close()
    with raises_exactly(PeerClosed):
        conn.recv(AGENT_MESSAGES, later())


def test_peer_resetting_the_connection_is_peer_closed():
    # A TCP reset (SO_LINGER 0) with unread data on the receiver's side.
    server = socket.create_server(("127.0.0.1", 0))
    with server, socket.create_connection(server.getsockname()) as client:
        accepted, _ = server.accept()
        with accepted:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            accepted.sendall(b"unread by the client")
            time.sleep(0.05)
            client.close()
            time.sleep(0.05)
            with raises_exactly(PeerClosed):
                Connection(accepted).recv(AGENT_MESSAGES, later())


def test_silence_hits_the_deadline(agent_to_evaluator):
    _, conn = agent_to_evaluator
    with raises_exactly(DeadlineExceeded):
        conn.recv(AGENT_MESSAGES, soon())


def test_half_a_frame_then_silence_hits_the_deadline(agent_to_evaluator):
    agent_sock, conn = agent_to_evaluator
    agent_sock.sendall(pack(ERROR)[:10])
    with raises_exactly(DeadlineExceeded):
        conn.recv(AGENT_MESSAGES, soon(0.1))


def test_a_deadline_already_passed_is_exceeded_at_once(sockets):
    conn = Connection(sockets[1])
    with raises_exactly(DeadlineExceeded):
        conn.recv(AGENT_MESSAGES, time.monotonic() - 1)
    with raises_exactly(DeadlineExceeded):
        conn.send(ERROR, time.monotonic() - 1)


def test_sending_to_a_closed_peer_is_peer_closed(sockets):
    sockets[1].close()
    with raises_exactly(PeerClosed):
        Connection(sockets[0]).send(ERROR, later())


def test_sending_to_a_peer_that_does_not_read_hits_the_deadline(sockets):
    sockets[0].setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    big = {**ERROR, "message": "x" * 4 * 2**20}
    with raises_exactly(DeadlineExceeded):
        Connection(sockets[0]).send(big, soon(0.1))


def test_a_send_cut_off_by_its_deadline_goes_on_whole_and_first(sockets):
    sockets[0].setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    sender, receiver = Connection(sockets[0]), Connection(sockets[1])
    big = {**ERROR, "message": "x" * 2**20}
    with raises_exactly(DeadlineExceeded):
        sender.send(big, soon(0.05))  # part of the frame went out, the rest is kept
    reader = threading.Thread(
        target=lambda: received.extend(receiver.recv(AGENT_MESSAGES, later()) for _ in range(2))
    )
    received: list[dict] = []
    reader.start()
    sender.send(ERROR, later())  # the rest of the first frame, then this one
    reader.join()
    assert received == [big, ERROR]


def test_one_frame_goes_out_in_one_system_call(sockets):
    calls = []

    class Counting(socket.socket):
        def sendmsg(self, *args, **kwargs):  # type: ignore[override]
            calls.append(args)
            return super().sendmsg(*args, **kwargs)

    counted = Counting(fileno=sockets[0].detach())
    try:
        Connection(counted).send(AGENT_EXAMPLES["action"], later())
        assert Connection(sockets[1]).recv(AGENT_MESSAGES, later()) == AGENT_EXAMPLES["action"]
    finally:
        counted.close()
    assert len(calls) == 1


def test_a_large_frame_is_read_whole_and_its_room_given_back(agent_to_evaluator):
    agent_sock, conn = agent_to_evaluator
    large = {**ERROR, "message": "x" * 2**19, "traceback": "y" * (2**19 + 10)}  # over 1 MiB
    data = b"".join(pack(m) for m in (ERROR, large, ERROR, AGENT_EXAMPLES["action"]))
    writer = threading.Thread(target=agent_sock.sendall, args=(data,))
    writer.start()
    try:
        assert conn.recv(AGENT_MESSAGES, later()) == ERROR
        assert conn.recv(AGENT_MESSAGES, later()) == large
        assert conn.recv(AGENT_MESSAGES, later()) == ERROR
        assert conn.recv(AGENT_MESSAGES, later()) == AGENT_EXAMPLES["action"]
    finally:
        writer.join()
    assert len(conn._buffer) < 2**20  # what a large frame needed is not kept


def test_a_connection_used_without_deadlines_leaves_its_socket_blocking(sockets):
    sender, receiver = Connection(sockets[0]), Connection(sockets[1])
    sender.send(ERROR, later())
    assert receiver.recv(AGENT_MESSAGES, later()) == ERROR
    sender.send(ERROR)
    assert receiver.recv(AGENT_MESSAGES) == ERROR
    assert sockets[0].getblocking() and sockets[1].getblocking()


def test_drain_drops_what_the_peer_sends_until_it_closes(agent_to_evaluator):
    agent_sock, conn = agent_to_evaluator
    agent_sock.sendall(pack(ERROR) * 3 + b"\xff" * 100_000)  # frames, then anything at all
    agent_sock.close()
    with raises_exactly(PeerClosed):
        conn.drain(later())


def test_drain_waits_no_longer_than_its_deadline(agent_to_evaluator):
    agent_sock, conn = agent_to_evaluator
    agent_sock.sendall(pack(ERROR))
    with raises_exactly(DeadlineExceeded):
        conn.drain(soon(0.05))


# --- hostile message bodies --------------------------------------------------------------------

HOSTILE_BODIES = [
    pytest.param(b"", id="empty-body"),
    pytest.param(b"\xc1", id="reserved-byte"),
    pytest.param(b"\x83\xa4type\xa5err", id="truncated-map"),
    pytest.param(body_of(ERROR) + b"\xc0", id="trailing-bytes"),
    pytest.param(body_of([ERROR]), id="list"),
    pytest.param(body_of(3), id="int"),
    pytest.param(body_of("error"), id="string"),
    pytest.param(body_of(None), id="nil"),
    pytest.param(body_of(b"error"), id="bytes"),
    pytest.param(body_of({"message": "m", "traceback": "t"}), id="no-type"),
    pytest.param(body_of({**ERROR, "type": 3}), id="type-not-a-string"),
    pytest.param(body_of({**ERROR, "type": b"error"}), id="type-as-bytes"),
    pytest.param(body_of({"type": "launch"}), id="unknown-type"),
    pytest.param(body_of(EVALUATOR_EXAMPLES["act"]), id="evaluator-only-act"),
    pytest.param(body_of(EVALUATOR_EXAMPLES["close"]), id="evaluator-only-close"),
    pytest.param(body_of({"type": "error", "message": "m"}), id="missing-field"),
    pytest.param(body_of({"type": "action"}), id="missing-actions"),
    pytest.param(body_of({**ERROR, "message": 1}), id="int-for-str"),
    pytest.param(body_of({**ERROR, "message": b"m"}), id="bytes-for-str"),
    pytest.param(body_of({**ERROR, "traceback": None}), id="nil-for-str"),
    pytest.param(body_of({"type": "action", "actions": [0, 1]}), id="list-for-dict"),
    pytest.param(body_of({**AGENT_EXAMPLES["hello"], "batched": 1}), id="int-for-bool"),
    pytest.param(body_of({**AGENT_EXAMPLES["hello"], "protocol": True}), id="true-for-int"),
    pytest.param(body_of({**AGENT_EXAMPLES["hello"], "protocol": 1.0}), id="float-for-int"),
    pytest.param(body_of(msgpack.ExtType(1, b"")), id="ext-top-level"),
    pytest.param(body_of({**ERROR, "message": msgpack.ExtType(5, b"x")}), id="ext-field"),
    pytest.param(body_of({**ERROR, "extra": [1, {"k": msgpack.ExtType(2, b"")}]}), id="ext-deep"),
    pytest.param(with_extra_field(b"\x91\xd4\xfe\x00"), id="reserved-negative-ext"),
    pytest.param(body_of({msgpack.ExtType(3, b""): 1, **ERROR}), id="ext-as-key"),
    pytest.param(body_of(msgpack.Timestamp(0)), id="timestamp-top-level"),
    pytest.param(
        body_of({**ERROR, "extra": msgpack.Timestamp(1, 2)}),
        id="timestamp-field",
    ),
    pytest.param(
        body_of({**ERROR, "extra": [msgpack.Timestamp(1)]}),
        id="timestamp-in-list",
    ),
    pytest.param(with_extra_field(b"\xa2\xff\xfe"), id="invalid-utf8-value"),
    pytest.param(b"\x81\xa2\xc3\x28\xa1x", id="invalid-utf8-key"),
    pytest.param(
        b"\x83\xa4type\xa5error\xa7message\xa1m\xa9traceback\xa3\xed\xa0\x80", id="surrogate"
    ),
    pytest.param(body_of({1: 1, **ERROR}), id="int-key"),
    pytest.param(body_of({None: 1, **ERROR}), id="nil-key"),
    pytest.param(body_of({**ERROR, "extra": {"a": {2.5: 1}}}), id="float-key-nested"),
    pytest.param(with_extra_field(b"\x81\x92\x01\x02\xc0"), id="list-as-key"),
    pytest.param(
        body_of({b"type": "x", **ERROR}),
        id="bytes-key",
    ),
    pytest.param(b"\x91" * 10_000 + b"\xc0", id="nested-lists-10000"),
    pytest.param(with_extra_field(b"\x91" * 10_000 + b"\xc0"), id="nested-lists-in-field"),
    pytest.param(b"\x81\xa1a" * 10_000 + b"\xc0", id="nested-maps-10000"),
    pytest.param(b"\xdd\xff\xff\xff\xff", id="array32-of-4g-items"),
    pytest.param(b"\xdf\xff\xff\xff\xff", id="map32-of-4g-items"),
    pytest.param(b"\xc6\xff\xff\xff\xff", id="bin32-of-4gb"),
    pytest.param(b"\xdb\xff\xff\xff\xff", id="str32-of-4gb"),
]


@pytest.mark.parametrize(
    "padding", [0, 8192], ids=["small-frame", "frame-of-more-bytes-than-values"]
)
@pytest.mark.parametrize(
    "extra",
    [{"a": {b"k": 1}}, [1, {b"k": 1}], [[{"a": 1}, {b"k": {}}]]],
    ids=["in-a-map", "in-a-list", "deep"],
)
def test_a_bytes_key_anywhere_is_refused(extra, padding):
    # Past AGENT_MESSAGES' 4096 values' worth of bytes, values are counted one by one too.
    body = body_of({**ERROR, "traceback": "t" * padding, "extra": extra})
    assert (len(body) > AGENT_MESSAGES.limits.max_values) == (padding > 0)
    with pytest.raises(ProtocolError, match="map keys must be strings"):
        unpack(body, AGENT_MESSAGES)


@pytest.mark.parametrize("body", HOSTILE_BODIES)
def test_hostile_body_is_a_protocol_error(body):
    with raises_exactly(ProtocolError):
        unpack(body, AGENT_MESSAGES)


@pytest.mark.parametrize("body", HOSTILE_BODIES)
def test_hostile_frame_through_a_connection_is_a_protocol_error(agent_to_evaluator, body):
    agent_sock, conn = agent_to_evaluator
    agent_sock.sendall(frame(body))
    with raises_exactly(ProtocolError):
        conn.recv(AGENT_MESSAGES, later())


def test_nesting_that_msgpack_accepts_is_still_a_valid_message():
    nested: object = 0
    for _ in range(100):
        nested = [nested]
    message = {**ERROR, "extra": nested}
    assert unpack(body_of(message), AGENT_MESSAGES) == message


def test_the_same_type_name_follows_the_receivers_schema():
    evaluator_hello = body_of(EVALUATOR_EXAMPLES["hello"])
    assert unpack(evaluator_hello, EVALUATOR_MESSAGES)["seed"] == 2**40 + 7
    with raises_exactly(ProtocolError):
        unpack(evaluator_hello, AGENT_MESSAGES)  # lacks name, batched, stateful


# --- decode limits: a frame costs memory of the order of its size ------------------------------

AGENT_LIMITS = AGENT_MESSAGES.limits


def nils(n: int) -> bytes:
    """A msgpack array of n nils (array 16 header, whatever n)."""
    return b"\xdc" + n.to_bytes(2, "big") + b"\xc0" * n


def entries(n: int) -> bytes:
    """A msgpack map of n distinct string keys, each to nil (map 16 header)."""
    return b"\xde" + n.to_bytes(2, "big") + b"".join(body_of(f"k{i}") + b"\xc0" for i in range(n))


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (nils(AGENT_LIMITS.max_array_len + 1), "an array of 65 items, over the protocol's limit"),
        (entries(AGENT_LIMITS.max_map_len + 1), "a map of 33 entries, over the protocol's limit"),
        (body_of("x" * (AGENT_LIMITS.max_str_bytes + 1)), "a string of 1048577 bytes, over"),
        (body_of([[0] * 64] * 64), "more than 4096 values, more than any message needs"),
    ],
    ids=["array", "map", "string", "values"],
)
def test_a_message_beyond_what_agent_messages_need_is_refused(value, words):
    with pytest.raises(ProtocolError, match=words):
        unpack(with_extra_field(value), AGENT_MESSAGES)


@pytest.mark.parametrize(
    "value",
    [
        nils(AGENT_LIMITS.max_array_len),
        entries(AGENT_LIMITS.max_map_len),
        body_of("x" * AGENT_LIMITS.max_str_bytes),
        body_of([[0] * 60] * 60),
    ],
    ids=["array", "map", "string", "values"],
)
def test_a_message_at_the_agent_limits_is_accepted(value):
    assert unpack(with_extra_field(value), AGENT_MESSAGES)["type"] == "error"


def test_an_action_of_the_most_dimensions_is_within_the_limits():
    actions = np.zeros((1,) * MAX_NDIM, np.float32)
    message = {"type": "action", "actions": encode_array(actions)}
    assert decode_array(unpack(body_of(message), AGENT_MESSAGES)["actions"]).shape == actions.shape


def test_the_evaluators_messages_have_room_for_large_dict_spaces():
    space = {"kind": "Discrete", "n": 2, "start": 0}
    hello = {**EVALUATOR_EXAMPLES["hello"], "observation_space": {"kind": "Dict", "spaces": {}}}
    hello["observation_space"]["spaces"] = {f"sensor{i}": space for i in range(1000)}
    assert unpack(body_of(hello), EVALUATOR_MESSAGES) == hello
    with raises_exactly(ProtocolError):  # far more than an agent's messages need
        unpack(body_of({**ERROR, "extra": hello}), AGENT_MESSAGES)


def tree(leaf: bytes, size: int = DEFAULT_MAX_FRAME_BYTES - 4096) -> bytes:
    """Nested fixarrays (15 items at most) ending in copies of ``leaf``: almost ``size`` bytes."""
    levels = [leaf]  # levels[d]: a full tree of depth d
    while len(levels[-1]) * 15 + 1 <= size - 64:
        levels.append(b"\x9f" + levels[-1] * 15)
    left, counts = size - 64, []  # 64 bytes: room for the headers of the nested remainders
    for level in reversed(levels):
        counts.append(min(14, left // len(level)))
        left -= counts[-1] * len(level)
    # [big trees..., [smaller trees..., [...]]]: each array holds at most 14 + 1 items.
    whole = b""
    for level, count in zip(levels, reversed(counts), strict=True):
        items = count + (1 if whole else 0)
        whole = bytes([0x90 | items]) + level * count + whole
    return whole


def fields(**values: bytes) -> bytes:
    """A map of the given fields, each value already msgpack."""
    return bytes([0x80 | len(values)]) + b"".join(body_of(k) + v for k, v in values.items())


def error_with(extra: bytes) -> bytes:
    return fields(type=body_of("error"), message=body_of("m"), traceback=body_of("t"), extra=extra)


EMPTY_MAPS = DEFAULT_MAX_FRAME_BYTES - 16
BOMBS = {
    # Millions of empty maps, each built as a dict of 64 bytes or more from 1 byte of frame.
    "one-array-of-empty-maps": b"\xdd" + EMPTY_MAPS.to_bytes(4, "big") + b"\x80" * EMPTY_MAPS,
    "empty-maps-in-a-field": error_with(tree(b"\x80")),
    "empty-maps-as-the-actions": fields(type=body_of("action"), actions=tree(b"\x80")),
    "empty-lists-in-a-field": error_with(tree(b"\x90")),
    "maps-of-empty-maps": error_with(tree(fields(**{k: b"\x80" for k in "abcdefghijklmno"}))),
    "negative-ints-in-a-field": error_with(tree(b"\xe0")),  # -32: a new int object each
    "floats-in-a-field": error_with(tree(b"\xca\x3f\x80\x00\x00")),
    "one-map-of-empty-maps": b"\xdf"
    + (EMPTY_MAPS // 3).to_bytes(4, "big")
    + b"\xa1k\x80" * (EMPTY_MAPS // 3),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_the_agent_runtime_decodes_the_evaluators_frames_within_limits_too(name):
    with pytest.raises(ProtocolError, match=r"over the protocol's limit|more than 262144 values"):
        unpack(BOMBS[name], EVALUATOR_MESSAGES)


MEASURE = textwrap.dedent(
    """
    import socket, sys, threading
    from pathlib import Path
    from aigc.submissions.protocol import AGENT_MESSAGES, Connection, ProtocolError
    from tests.submissions.conftest import PeakMemory

    data = Path(sys.argv[1]).read_bytes()
    ours, theirs = socket.socketpair()
    sender = threading.Thread(target=theirs.sendall, args=(data,))
    with PeakMemory() as memory:
        sender.start()
        try:
            Connection(ours).recv(AGENT_MESSAGES)
            outcome = "accepted"
        except ProtocolError as exc:
            outcome = f"refused: {exc}"
        sender.join()
    print(memory.growth)
    print(outcome)
    """
)


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_a_hostile_frame_costs_the_evaluator_memory_of_the_order_of_its_size(name, tmp_path):
    body = BOMBS[name]
    assert DEFAULT_MAX_FRAME_BYTES - 2**20 < len(body) <= DEFAULT_MAX_FRAME_BYTES  # a full frame
    path = tmp_path / "frame"
    path.write_bytes(frame(body))
    # A fresh process, so that its peak memory is this frame's alone.
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    growth, outcome = done.stdout.splitlines()
    assert outcome.startswith("refused: "), outcome
    # The frame itself is held once while it is decoded; what it decodes to adds little.
    assert int(growth) < 2 * len(body), f"the peak memory grew by {int(growth) / 2**20:.0f} MiB"


# --- arrays ----------------------------------------------------------------------------------


def sample(dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """Values covering the dtype's range (no NaN, so == compares), in the dtype's byte order."""
    rng = np.random.default_rng(0)
    native = dtype.newbyteorder("=")
    if native.kind == "b":
        values = rng.integers(0, 2, shape).astype(bool)
    elif native.kind in "iu":
        info = np.iinfo(native)
        values = rng.integers(info.min, info.max, shape, dtype=native, endpoint=True)
    else:
        values = (rng.standard_normal(shape) * 1000).astype(native)
    return values.astype(dtype)


@pytest.mark.parametrize("dtype", sorted(ALLOWED_DTYPES))
def test_every_allowed_dtype_round_trips_in_native_byte_order(dtype):
    array = sample(np.dtype(dtype), (3, 5))
    encoded = encode_array(array)
    assert encoded["dtype"] == dtype
    message = unpack(pack({"type": "action", "actions": encoded})[4:], AGENT_MESSAGES)
    decoded = decode_array(message["actions"])
    assert decoded.dtype.isnative
    assert decoded.dtype == np.dtype(dtype).newbyteorder("=")
    assert decoded.shape == (3, 5)
    assert np.array_equal(decoded, array)


def test_allowed_dtypes_are_exactly_the_plain_numeric_ones_in_both_orders():
    kinds = {np.dtype(d).kind for d in ALLOWED_DTYPES}
    assert kinds == {"b", "i", "u", "f"}
    assert {"<f4", ">f4", "<i8", ">i8", "|u1", "|b1"} <= ALLOWED_DTYPES


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((0, 3), np.float32),
        np.zeros((3, 0), np.int64),
        np.arange(24, dtype=np.int16).reshape(2, 3, 4),
        np.ones((1,) * MAX_NDIM, np.uint8),
        np.arange(12.0).reshape(3, 4)[:, ::2],  # not contiguous
        np.asfortranarray(np.arange(6).reshape(2, 3)),
    ],
    ids=["empty-0x3", "empty-3x0", "3d", "max-ndim", "strided", "fortran"],
)
def test_arrays_of_any_shape_round_trip(array):
    decoded = decode_array(encode_array(array))
    assert decoded.shape == array.shape and decoded.dtype == array.dtype
    assert np.array_equal(decoded, array)


def test_a_0d_array_decodes_to_0d():
    decoded = decode_array({"dtype": "<f8", "shape": [], "data": np.float64(2.5).tobytes()})
    assert decoded.shape == () and decoded == 2.5


@pytest.mark.parametrize("value", [np.array(2.5), np.int32(7)], ids=["0d-array", "numpy-scalar"])
def test_encode_array_keeps_a_0d_array_0d(value):
    encoded = encode_array(value)
    assert encoded["shape"] == []
    assert decode_array(encoded).shape == ()


def test_decoded_array_is_writable_and_does_not_share_memory_with_the_frame():
    body = pack({"type": "action", "actions": encode_array(np.arange(6.0).reshape(2, 3))})[4:]
    encoded = unpack(body, AGENT_MESSAGES)["actions"]
    data = encoded["data"]
    decoded = decode_array(encoded)
    assert decoded.flags.writeable and decoded.flags.owndata
    assert not np.shares_memory(decoded, np.frombuffer(data, np.uint8))
    decoded[...] = -1
    assert data == np.arange(6.0).tobytes()


def test_an_array_only_read_is_a_view_of_the_frame_in_native_order():
    body = pack({"type": "action", "actions": encode_array(np.arange(6.0).reshape(2, 3))})[4:]
    encoded = unpack(body, AGENT_MESSAGES)["actions"]
    decoded = decode_array(encoded, writable=False)
    assert decoded.tolist() == np.arange(6.0).reshape(2, 3).tolist()
    assert not decoded.flags.writeable
    assert np.shares_memory(decoded, np.frombuffer(encoded["data"], np.uint8))


def test_an_array_only_read_in_the_other_byte_order_is_still_converted():
    decoded = decode_array(encode_array(np.arange(4, dtype=">i4")), writable=False)
    assert decoded.dtype.isnative and decoded.tolist() == [0, 1, 2, 3]


def test_decoded_array_from_the_other_byte_order_is_writable_and_owned():
    decoded = decode_array(encode_array(np.arange(4, dtype=">i4")))
    assert decoded.flags.writeable and decoded.flags.owndata
    assert decoded.tolist() == [0, 1, 2, 3]


def encoded(dtype: object = "<f8", shape: object = (2, 3), data: object = None) -> dict:
    if data is None:
        data = bytes(8 * 6)
    return {
        "dtype": dtype,
        "shape": list(shape) if isinstance(shape, tuple) else shape,
        "data": data,
    }


DECODE_REFUSALS = [
    pytest.param(encoded(dtype="|O", data=bytes(6 * 8)), id="object"),
    pytest.param(encoded(dtype="<U4", data=bytes(6 * 16)), id="unicode"),
    pytest.param(encoded(dtype="|S8"), id="bytes-dtype"),
    pytest.param(encoded(dtype="|V8"), id="void"),
    pytest.param(encoded(dtype=np.dtype([("a", "<i4"), ("b", "<i4")]).str), id="structured"),
    pytest.param(encoded(dtype=str(np.dtype([("a", "<f8")]).descr)), id="structured-descr"),
    pytest.param(encoded(dtype="(2,)<i4"), id="subarray"),
    pytest.param(encoded(dtype="<c8"), id="complex"),
    pytest.param(encoded(dtype="<M8[s]"), id="datetime"),
    pytest.param(encoded(dtype="float64"), id="name-not-typestr"),
    pytest.param(encoded(dtype="not a dtype"), id="not-a-dtype"),
    pytest.param(encoded(dtype=8), id="dtype-int"),
    pytest.param(encoded(dtype=b"<f8"), id="dtype-bytes"),
    pytest.param(encoded(dtype=None), id="dtype-nil"),
    pytest.param(encoded(shape=[-2, -3]), id="negative"),
    pytest.param(encoded(shape=[-1, -6], data=bytes(8 * 6)), id="negatives-matching-the-bytes"),
    pytest.param(encoded(shape=[True, 6], data=bytes(8 * 6)), id="bool-dim"),
    pytest.param(encoded(shape=[2.0, 3.0]), id="float-dims"),
    pytest.param(encoded(shape=["2", "3"]), id="string-dims"),
    pytest.param(encoded(shape=6, data=bytes(8 * 6)), id="shape-int"),
    pytest.param(encoded(shape=None), id="shape-nil"),
    pytest.param(encoded(shape=[[2, 3]]), id="shape-nested"),
    pytest.param(encoded(shape=[1] * (MAX_NDIM + 1), data=bytes(8)), id="too-many-dims"),
    pytest.param(encoded(data=bytes(8 * 6 - 1)), id="too-few-bytes"),
    pytest.param(encoded(data=bytes(8 * 6 + 1)), id="too-many-bytes"),
    pytest.param(encoded(shape=[0, 3], data=bytes(8)), id="bytes-for-empty"),
    pytest.param(encoded(data="\x00" * 48), id="data-string"),
    pytest.param(encoded(data=[0] * 48), id="data-list"),
    pytest.param(encoded(data=bytearray(48)), id="data-bytearray"),
    pytest.param({"dtype": "<f8", "shape": [1]}, id="missing-data"),
    pytest.param({"shape": [1], "data": bytes(8)}, id="missing-dtype"),
    pytest.param({**encoded(), "order": "C"}, id="extra-key"),
    pytest.param({}, id="empty-map"),
    pytest.param([b"<f8", [1], bytes(8)], id="list"),
    pytest.param(bytes(8), id="bytes"),
    pytest.param(None, id="nil"),
    pytest.param(encoded(shape=[2**40, 2**40], data=b""), id="overflows-int64-no-data"),
    pytest.param(encoded(shape=[2**32, 2**32], data=b""), id="wraps-to-zero-in-int64"),
    pytest.param(encoded(shape=[2**64 - 1], data=bytes(8)), id="uint64-max-dim"),
    pytest.param(
        encoded(shape=[0, 2**63], data=b""),
        id="empty-with-dim-over-intp",
    ),
    pytest.param(
        encoded(shape=[0, 2**40, 2**40], data=b""),
        id="empty-with-huge-dims",
    ),
]


@pytest.mark.parametrize("value", DECODE_REFUSALS)
def test_decode_array_refuses(value):
    with raises_exactly(ProtocolError):
        decode_array(value)


def test_decode_array_names_what_it_decodes():
    with pytest.raises(ProtocolError, match="actions"):
        decode_array(None, "actions")


def test_a_huge_announced_shape_is_refused_without_allocating():
    tracemalloc.start()
    try:
        with raises_exactly(ProtocolError):
            decode_array(encoded(dtype="|u1", shape=[2**40, 2**40], data=b"x"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20


@pytest.mark.parametrize(
    "array",
    [
        np.array([1, "a"], dtype=object),
        np.array([None]),
        np.array(["abc"]),
        np.array([b"abc"]),
        np.array([1 + 2j]),
        np.array(["2024-01-01"], dtype="datetime64[D]"),
        np.zeros(2, dtype=[("a", "<i4")]),
    ],
    ids=["object", "none", "unicode", "bytes", "complex", "datetime", "structured"],
)
def test_encode_array_refuses_non_numeric_arrays(array):
    with raises_exactly(ProtocolError):
        encode_array(array)


# --- property tests (only where hypothesis is installed) ---------------------------------------

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    given = None


def assert_valid(message: object, allowed: dict) -> None:
    """What unpack returns satisfies the schema it was given."""
    assert isinstance(message, dict)
    assert message["type"] in allowed
    for field, field_type in allowed[message["type"]].items():
        assert isinstance(message[field], field_type)
        assert not (field_type is int and isinstance(message[field], bool))


if given is not None:
    FIELD_NAMES = sorted({"type", *(f for fields in AGENT_MESSAGES.values() for f in fields)})
    MSGPACK_VALUES = st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**64 - 1)
        | st.floats()
        | st.text(max_size=8)
        | st.binary(max_size=8)
        | st.sampled_from(sorted({*AGENT_MESSAGES, *EVALUATOR_MESSAGES})),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(FIELD_NAMES) | st.text(max_size=4), children, max_size=5
            )
        ),
        max_leaves=12,
    )

    @settings(max_examples=400, deadline=None, database=None)
    @given(st.binary(max_size=256))
    def test_random_bytes_unpack_to_a_valid_message_or_a_protocol_error(body):
        for allowed in (AGENT_MESSAGES, EVALUATOR_MESSAGES):
            try:
                message = unpack(body, allowed)
            except ProtocolError:
                continue
            assert_valid(message, allowed)

    @settings(max_examples=100, deadline=None, database=None)
    @given(MSGPACK_VALUES)
    def test_random_msgpack_values_unpack_to_a_valid_message_or_a_protocol_error(value):
        try:
            message = unpack(body_of(value), AGENT_MESSAGES)
        except ProtocolError:
            return
        assert_valid(message, AGENT_MESSAGES)

    @settings(max_examples=150, deadline=None, database=None)
    @given(
        st.fixed_dictionaries(
            {
                "dtype": st.sampled_from(sorted(ALLOWED_DTYPES)) | st.text(max_size=6),
                "shape": st.lists(st.integers(-2, 40), max_size=5),
                "data": st.binary(max_size=64),
            }
        )
    )
    def test_random_encoded_arrays_decode_or_are_a_protocol_error(value):
        try:
            array = decode_array(value)
        except ProtocolError:
            return
        assert array.shape == tuple(value["shape"]) and array.nbytes == len(value["data"])
