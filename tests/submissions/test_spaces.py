"""Spaces on the wire, observation batches, and the check of every action an agent returns."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from aigc.submissions import spaces as wire
from aigc.submissions.protocol import (
    AGENT_MESSAGES,
    EVALUATOR_MESSAGES,
    ProtocolError,
    decode_array,
    encode_array,
    pack,
    unpack,
)
from aigc.submissions.spaces import (
    MAX_SPACE_DEPTH,
    InvalidAction,
    check_actions,
    decode_batch,
    decode_space,
    describe_space,
    encode_batch,
    encode_space,
    unbatch,
)

F32 = np.float32
INF = np.inf


def over_the_wire(observation_space: spaces.Space, action_space: spaces.Space) -> dict:
    """Send a 'hello' through pack/unpack as the evaluator does and return what arrives."""
    message = {
        "type": "hello",
        "protocol": 1,
        "observation_space": encode_space(observation_space),
        "action_space": encode_space(action_space),
        "seed": 0,
        "max_batch": 4,
    }
    return unpack(pack(message)[4:], EVALUATOR_MESSAGES)


def box(low: list[float], high: list[float], dtype: type = F32) -> spaces.Box:
    return spaces.Box(np.array(low, dtype), np.array(high, dtype), dtype=dtype)


# --- encode_space / decode_space ---------------------------------------------------------------

ROUND_TRIP_SPACES = [
    pytest.param(spaces.Discrete(4), id="discrete"),
    pytest.param(spaces.Discrete(3, start=-1), id="discrete-negative-start"),
    pytest.param(spaces.Discrete(5, start=10), id="discrete-start"),
    pytest.param(spaces.Box(-1, 1, (3,), F32), id="box-float32"),
    pytest.param(spaces.Box(0, 1, (2, 2), np.float64), id="box-float64"),
    pytest.param(spaces.Box(0, 255, (8, 8, 3), np.uint8), id="box-uint8-image"),
    pytest.param(spaces.Box(-10, 10, (2,), np.int64), id="box-int64"),
    pytest.param(spaces.Box(-INF, INF, (4,), F32), id="box-infinite"),
    pytest.param(spaces.Box(0, INF, (2,), np.float64), id="box-half-infinite"),
    pytest.param(box([0, -1, -INF], [1, 2.5, INF]), id="box-per-dimension"),
    pytest.param(
        spaces.Box(0, 1, (), F32),
        id="box-scalar",
    ),
    pytest.param(spaces.MultiDiscrete([3, 4]), id="multidiscrete"),
    pytest.param(spaces.MultiDiscrete([3, 4], start=[1, -2]), id="multidiscrete-start"),
    pytest.param(spaces.MultiDiscrete([[2, 3], [4, 5]]), id="multidiscrete-2d"),
    pytest.param(spaces.MultiBinary(5), id="multibinary"),
    pytest.param(spaces.MultiBinary([2, 3]), id="multibinary-2d"),
    pytest.param(
        spaces.Dict(
            {
                "position": spaces.Box(-1, 1, (2,), F32),
                "inner": spaces.Dict(
                    {"flag": spaces.MultiBinary(3), "pair": spaces.Tuple([spaces.Discrete(2)])}
                ),
            }
        ),
        id="nested-dict",
    ),
    pytest.param(
        spaces.Tuple(
            [
                spaces.Discrete(3, start=1),
                spaces.Tuple([spaces.Box(0, 255, (4, 4), np.uint8), spaces.MultiDiscrete([2, 2])]),
                spaces.Dict({"a": spaces.Discrete(2)}),
            ]
        ),
        id="nested-tuple",
    ),
]


def assert_same_space(decoded: spaces.Space, space: spaces.Space) -> None:
    """Equal, and equal in the details that == tolerates (exact dtype and bounds)."""
    assert decoded == space
    assert type(decoded) is type(space)
    assert decoded.shape == space.shape and decoded.dtype == space.dtype
    if isinstance(space, spaces.Box):
        assert np.array_equal(decoded.low, space.low) and np.array_equal(decoded.high, space.high)
    if isinstance(space, spaces.MultiDiscrete):
        assert np.array_equal(decoded.start, space.start)
    if isinstance(space, spaces.Dict):
        assert list(decoded.spaces) == list(space.spaces)
        for key in space.spaces:
            assert_same_space(decoded[key], space[key])
    if isinstance(space, spaces.Tuple):
        for inner, original in zip(decoded.spaces, space.spaces, strict=True):
            assert_same_space(inner, original)


@pytest.mark.parametrize("space", ROUND_TRIP_SPACES)
def test_space_round_trips_through_a_hello_message(space):
    hello = over_the_wire(space, spaces.Discrete(2))
    assert_same_space(decode_space(hello["observation_space"]), space)


def test_encoded_spaces_use_only_msgpack_types():
    encoded = encode_space(spaces.Discrete(3, start=5))
    assert encoded == {"kind": "Discrete", "n": 3, "start": 5}
    assert type(encoded["n"]) is int and type(encoded["start"]) is int
    assert encode_space(spaces.MultiBinary([2, 3])) == {"kind": "MultiBinary", "n": [2, 3]}


def test_encode_space_refuses_an_unsupported_space():
    with pytest.raises(ValueError, match="Text spaces are not supported"):
        encode_space(spaces.Text(5))


def discrete(**fields: Any) -> dict:
    return {"kind": "Discrete", "n": 3, "start": 0, **fields}


def box_data(low: np.ndarray, high: np.ndarray) -> dict:
    return {"kind": "Box", "low": encode_array(low), "high": encode_array(high)}


def multi_discrete(nvec: list, start: list) -> dict:
    return {
        "kind": "MultiDiscrete",
        "nvec": encode_array(np.array(nvec, np.int64)),
        "start": encode_array(np.array(start, np.int64)),
    }


def nested(levels: int) -> dict:
    """A Discrete inside ``levels`` alternating Tuple and Dict spaces."""
    space: dict = discrete()
    for level in range(levels):
        space = (
            {"kind": "Tuple", "spaces": [space]}
            if level % 2
            else {"kind": "Dict", "spaces": {"x": space}}
        )
    return space


SPACE_REFUSALS = [
    pytest.param(None, id="nil"),
    pytest.param([discrete()], id="list"),
    pytest.param("Discrete", id="string"),
    pytest.param({"n": 3, "start": 0}, id="no-kind"),
    pytest.param(discrete(kind=1), id="kind-not-a-string"),
    pytest.param(discrete(kind="Text"), id="unknown-kind"),
    pytest.param(discrete(kind="discrete"), id="kind-wrong-case"),
    pytest.param({"kind": "Discrete", "start": 0}, id="discrete-no-n"),
    pytest.param({"kind": "Discrete", "n": 3}, id="discrete-no-start"),
    pytest.param(discrete(n=0), id="discrete-n-0"),
    pytest.param(discrete(n=-2), id="discrete-n-negative"),
    pytest.param(discrete(n=True), id="discrete-n-true"),
    pytest.param(discrete(start=False), id="discrete-start-false"),
    pytest.param(discrete(n=3.0), id="discrete-n-float"),
    pytest.param(discrete(n="3"), id="discrete-n-string"),
    pytest.param(
        discrete(n=2**64 - 1),
        id="discrete-n-over-int64",
    ),
    pytest.param(
        discrete(start=2**63),
        id="discrete-start-over-int64",
    ),
    pytest.param({"kind": "Box", "low": encode_array(np.zeros(2, F32))}, id="box-no-high"),
    pytest.param({"kind": "Box", "high": encode_array(np.ones(2, F32))}, id="box-no-low"),
    pytest.param(box_data(np.zeros(2, F32), np.ones(3, F32)), id="box-shape-mismatch"),
    pytest.param(box_data(np.zeros((2, 1), F32), np.ones(2, F32)), id="box-ndim-mismatch"),
    pytest.param(box_data(np.zeros(2, F32), np.ones(2, np.float64)), id="box-dtype-mismatch"),
    pytest.param(box_data(np.ones(2, F32), np.zeros(2, F32)), id="box-low-above-high"),
    pytest.param({"kind": "Box", "low": [0.0, 0.0], "high": [1.0, 1.0]}, id="box-plain-lists"),
    pytest.param(
        {"kind": "Box", "low": {"dtype": "|O", "shape": [1], "data": bytes(8)}, "high": None},
        id="box-object-dtype",
    ),
    pytest.param({"kind": "MultiDiscrete", "nvec": encode_array(np.array([3]))}, id="md-no-start"),
    pytest.param(multi_discrete([3, 0], [0, 0]), id="md-nvec-0"),
    pytest.param(multi_discrete([3, -1], [0, 0]), id="md-nvec-negative"),
    pytest.param(multi_discrete([3, 4], [0]), id="md-start-shape-mismatch"),
    pytest.param({"kind": "MultiBinary"}, id="mb-no-n"),
    pytest.param({"kind": "MultiBinary", "n": 3}, id="mb-n-int"),
    pytest.param({"kind": "MultiBinary", "n": [0]}, id="mb-n-0"),
    pytest.param({"kind": "MultiBinary", "n": [2, -1]}, id="mb-n-negative"),
    pytest.param({"kind": "MultiBinary", "n": [2.0]}, id="mb-n-float"),
    pytest.param(
        {"kind": "MultiBinary", "n": []},
        id="mb-n-empty",
    ),
    pytest.param(
        {"kind": "MultiBinary", "n": [True]},
        id="mb-n-true",
    ),
    pytest.param({"kind": "MultiBinary", "n": [4097, 4096]}, id="mb-too-many-elements"),
    pytest.param(
        {"kind": "MultiBinary", "n": [2**32, 2**32]},
        id="mb-element-count-wraps-in-int64",
    ),
    pytest.param({"kind": "Dict", "spaces": [discrete()]}, id="dict-spaces-list"),
    pytest.param({"kind": "Dict"}, id="dict-no-spaces"),
    pytest.param({"kind": "Tuple", "spaces": {"a": discrete()}}, id="tuple-spaces-dict"),
    pytest.param({"kind": "Dict", "spaces": {"a": discrete(n=0)}}, id="dict-bad-inner"),
    pytest.param({"kind": "Tuple", "spaces": [discrete(), None]}, id="tuple-bad-inner"),
    pytest.param(nested(MAX_SPACE_DEPTH + 1), id="one-level-too-deep"),
    pytest.param(nested(5000), id="far-too-deep"),
]


@pytest.mark.parametrize("data", SPACE_REFUSALS)
def test_decode_space_refuses(data):
    with pytest.raises(ProtocolError):
        decode_space(data)


def test_nesting_up_to_the_limit_is_accepted():
    space = decode_space(nested(MAX_SPACE_DEPTH))
    for level in reversed(range(MAX_SPACE_DEPTH)):
        space = space.spaces[0] if level % 2 else space["x"]
    assert space == spaces.Discrete(3)


@pytest.mark.parametrize(
    "make",
    [
        lambda n: box_data(np.zeros(n, np.uint8), np.ones(n, np.uint8)),
        lambda n: multi_discrete([2] * n, [0] * n),
        lambda n: {"kind": "MultiBinary", "n": [n]},
    ],
    ids=["box", "multidiscrete", "multibinary"],
)
def test_spaces_over_the_element_cap_are_refused(monkeypatch, make):
    monkeypatch.setattr(wire, "MAX_SPACE_ELEMENTS", 10)
    assert decode_space(make(10)).shape == (10,)
    with pytest.raises(ProtocolError, match="11 elements is larger than allowed"):
        decode_space(make(11))


# --- observation batches -----------------------------------------------------------------------

BATCH_SPACES = [
    pytest.param(spaces.Box(-1, 1, (3,), F32), id="box"),
    pytest.param(spaces.Box(0, 255, (4, 4, 3), np.uint8), id="box-image"),
    pytest.param(spaces.Discrete(5, start=2), id="discrete"),
    pytest.param(spaces.MultiBinary([2, 2]), id="multibinary"),
    pytest.param(
        spaces.Dict({"pos": spaces.Box(-1, 1, (2,), F32), "mode": spaces.Discrete(3)}), id="dict"
    ),
    pytest.param(
        spaces.Tuple(
            [
                spaces.Discrete(2),
                spaces.Dict({"a": spaces.MultiDiscrete([3, 3]), "b": spaces.Box(0, 1, (2,))}),
            ]
        ),
        id="tuple",
    ),
]


def assert_same_observation(got: Any, expected: Any) -> None:
    if isinstance(expected, dict):
        assert isinstance(got, dict) and list(got) == list(expected)
        for key in expected:
            assert_same_observation(got[key], expected[key])
    elif isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected)
        for g, e in zip(got, expected, strict=True):
            assert_same_observation(g, e)
    else:
        assert np.asarray(got).dtype == np.asarray(expected).dtype
        assert np.array_equal(got, expected)


@pytest.mark.parametrize("n", [1, 5])
@pytest.mark.parametrize("space", BATCH_SPACES)
def test_observation_batches_round_trip_through_an_act_message(space, n):
    space.seed(n)
    observations = [space.sample() for _ in range(n)]
    message = {"type": "act", "observations": encode_batch(observations, space)}
    received = unpack(pack(message)[4:], EVALUATOR_MESSAGES)
    batch = decode_batch(received["observations"], space)
    rebuilt = unbatch(batch, space)
    assert len(rebuilt) == n
    for got, expected in zip(rebuilt, observations, strict=True):
        assert_same_observation(got, expected)
        assert space.contains(got)


SIMPLE_BATCH_SPACES = [
    p for p in BATCH_SPACES if not isinstance(p.values[0], (spaces.Dict, spaces.Tuple))
]


@pytest.mark.parametrize("space", SIMPLE_BATCH_SPACES)
def test_a_batch_holds_what_stacking_the_observations_gives(space):
    space.seed(3)
    observations = [space.sample() for _ in range(7)]
    batch = decode_array(encode_batch(observations, space))
    expected = np.asarray(np.stack(observations), dtype=space.dtype)
    assert batch.dtype == expected.dtype and batch.shape == expected.shape
    assert batch.tobytes() == expected.tobytes()


def test_a_batch_of_plain_python_numbers_is_stacked_in_the_space_dtype():
    space = spaces.Discrete(5)
    batch = decode_array(encode_batch([1, 4, np.int64(2)], space))
    assert batch.dtype == np.int64 and batch.tolist() == [1, 4, 2]


def test_a_box_batch_stacks_observations_on_axis_0():
    space = spaces.Box(-1, 1, (3,), F32)
    batch = decode_batch(encode_batch([np.zeros(3), np.ones(3)], space), space)
    assert batch.shape == (2, 3) and batch.dtype == F32
    assert batch.flags.writeable


BOX = spaces.Box(-1, 1, (3,), F32)
DICT = spaces.Dict({"pos": BOX, "mode": spaces.Discrete(3)})
TUPLE = spaces.Tuple([spaces.Discrete(2), BOX])


def array(*shape: int, dtype: Any = F32) -> dict:
    return encode_array(np.zeros(shape, dtype))


BATCH_REFUSALS = [
    pytest.param(BOX, array(4, 2), id="box-wrong-shape"),
    pytest.param(BOX, array(3), id="box-single-observation-unbatched"),
    pytest.param(BOX, array(2, 1, 3), id="box-extra-axis"),
    pytest.param(BOX, {"dtype": "<f4", "shape": [], "data": bytes(4)}, id="0d"),
    pytest.param(BOX, [array(2, 3)], id="box-list"),
    pytest.param(BOX, None, id="nil"),
    pytest.param(spaces.Discrete(3), array(4, 1, dtype=np.int64), id="discrete-n-by-1"),
    pytest.param(DICT, {"pos": array(2, 3)}, id="dict-missing-key"),
    pytest.param(
        DICT,
        {"pos": array(2, 3), "mode": array(2, dtype=np.int64), "extra": array(2)},
        id="dict-extra-key",
    ),
    pytest.param(DICT, [array(2, 3), array(2, dtype=np.int64)], id="dict-as-list"),
    pytest.param(DICT, {"pos": array(2, 3), "mode": array(3, dtype=np.int64)}, id="dict-lengths"),
    pytest.param(TUPLE, [array(2, dtype=np.int64)], id="tuple-too-few-parts"),
    pytest.param(TUPLE, [array(2, dtype=np.int64), array(2, 3), array(2)], id="tuple-too-many"),
    pytest.param(TUPLE, {"0": array(2, dtype=np.int64), "1": array(2, 3)}, id="tuple-as-dict"),
    pytest.param(TUPLE, [array(2, dtype=np.int64), array(1, 3)], id="tuple-lengths"),
    pytest.param(
        spaces.Tuple([DICT, BOX]),
        [{"pos": array(2, 3), "mode": array(2, dtype=np.int64)}, array(4, 3)],
        id="nested-lengths",
    ),
]


@pytest.mark.parametrize(("space", "value"), BATCH_REFUSALS)
def test_decode_batch_refuses(space, value):
    with pytest.raises(ProtocolError):
        decode_batch(value, space)


def test_decode_batch_refuses_a_batch_of_another_length_than_announced():
    assert len(decode_batch(array(4, 3), BOX, n=4)) == 4
    with pytest.raises(ProtocolError, match="does not fit"):
        decode_batch(array(4, 3), BOX, n=3)


# --- check_actions -----------------------------------------------------------------------------

DISCRETE = spaces.Discrete(3, start=5)
ACTION_BOX = spaces.Box(-1, 1, (2,), F32)
MULTI_DISCRETE = spaces.MultiDiscrete([3, 4], start=[1, -2])
MULTI_BINARY = spaces.MultiBinary(3)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_discrete_actions_become_python_ints(dtype):
    result = check_actions(np.array([5, 7, 6], dtype), DISCRETE, 3)
    assert result == [5, 7, 6]
    assert all(type(a) is int and DISCRETE.contains(a) for a in result)


@pytest.mark.parametrize("dtype", [F32, np.float64, np.float16, np.int64, np.bool_])
def test_box_actions_become_arrays_of_the_space_dtype(dtype):
    actions = np.array([[0.5, -0.25], [1, -1], [0, 0]]).astype(dtype)
    result = check_actions(actions, ACTION_BOX, 3)
    assert len(result) == 3
    for got, sent in zip(result, actions, strict=True):
        assert got.dtype == F32 and got.shape == (2,)
        assert np.array_equal(got, sent.astype(F32))
        assert ACTION_BOX.contains(got)


def test_float64_actions_within_a_float32_box_are_accepted_and_cast():
    actions = np.array([[0.1, -0.3], [1.0, -1.0]], np.float64)
    result = check_actions(actions, ACTION_BOX, 2)
    assert [a.dtype for a in result] == [F32, F32]
    assert np.array_equal(result[0], np.array([0.1, -0.3], F32))


def test_box_actions_do_not_share_memory_with_what_the_agent_sent():
    actions = np.array([[0.5, 0.5]], F32)
    result = check_actions(actions, ACTION_BOX, 1)
    actions[...] = 7
    assert result[0].tolist() == [0.5, 0.5]


def test_multi_discrete_actions_keep_their_start():
    result = check_actions(np.array([[1, -2], [3, 1]]), MULTI_DISCRETE, 2)
    assert [a.tolist() for a in result] == [[1, -2], [3, 1]]
    assert all(a.dtype == MULTI_DISCRETE.dtype and MULTI_DISCRETE.contains(a) for a in result)


@pytest.mark.parametrize("actions", [np.array([[0, 1, 1]]), np.array([[False, True, True]])])
def test_multi_binary_actions_accept_ints_and_bools(actions):
    (result,) = check_actions(actions, MULTI_BINARY, 1)
    assert result.tolist() == [0, 1, 1] and MULTI_BINARY.contains(result)


def test_a_2d_multi_binary_action_space():
    space = spaces.MultiBinary([2, 3])
    (result,) = check_actions(np.ones((1, 2, 3), np.uint8), space, 1)
    assert space.contains(result)


def test_checked_actions_are_accepted_by_env_step():
    cartpole = gym.make("CartPole-v1")
    pendulum = gym.make("Pendulum-v1")
    try:
        for env, actions in [
            (cartpole, np.array([1, 0], np.int64)),
            (pendulum, np.array([[1.5], [-2.0]], np.float64)),
        ]:
            env.reset(seed=0)
            for action in check_actions(actions, env.action_space, 2):
                env.step(action)
    finally:
        cartpole.close()
        pendulum.close()


def refused(actions: Any, space: spaces.Space, n: int) -> str:
    with pytest.raises(InvalidAction) as info:
        check_actions(np.asarray(actions), space, n)
    return str(info.value)


@pytest.mark.parametrize(
    ("actions", "space", "n", "words"),
    [
        pytest.param([5, 6], DISCRETE, 3, "returned 2 actions for 3 observations", id="too-few"),
        pytest.param([5, 6, 7], DISCRETE, 2, "returned 3 actions for 2", id="too-many"),
        pytest.param(np.array(5), DISCRETE, 1, "returned 0 actions for 1", id="0d"),
        pytest.param(np.zeros((0, 2)), ACTION_BOX, 1, "returned 0 actions for 1", id="empty"),
    ],
)
def test_a_wrong_number_of_actions_is_refused(actions, space, n, words):
    message = refused(actions, space, n)
    assert words in message
    assert "return one action per observation" in message


@pytest.mark.parametrize(
    ("actions", "space", "words"),
    [
        pytest.param([[5], [6]], DISCRETE, "shape (1,)", id="discrete-n-by-1"),
        pytest.param([[5, 6], [6, 7]], DISCRETE, "shape (2,)", id="discrete-n-by-2"),
        pytest.param([[0.0], [0.0]], ACTION_BOX, "shape (1,)", id="box-too-short"),
        pytest.param(np.zeros((2, 1, 2)), ACTION_BOX, "shape (1, 2)", id="box-extra-axis"),
        pytest.param([1, 2], MULTI_DISCRETE, "shape ()", id="multidiscrete-scalars"),
    ],
)
def test_a_wrong_action_shape_is_refused_naming_the_expected_shape(actions, space, words):
    message = refused(actions, space, 2)
    assert f"returned an action of {words} for {describe_space(space)}" in message
    expected = "int(action)" if space.shape == () else f"return shape {space.shape}"
    assert expected in message


def test_an_n_by_1_discrete_batch_hints_at_int_action():
    message = refused(np.array([[5], [6]]), DISCRETE, 2)
    assert message.endswith("return a single integer (e.g. int(action))")


@pytest.mark.parametrize(
    ("actions", "space"),
    [
        pytest.param(np.array([5.0, 6.0]), DISCRETE, id="discrete-float"),
        pytest.param(np.array([5.0, 6.0], F32), DISCRETE, id="discrete-float32"),
        pytest.param(np.array([True, False]), DISCRETE, id="discrete-bool"),
        pytest.param(np.array([[1.0, 0.0], [2.0, 1.0]]), MULTI_DISCRETE, id="multidiscrete-float"),
        pytest.param(np.array([[0.0, 1.0, 1.0]] * 2), MULTI_BINARY, id="multibinary-float"),
    ],
)
def test_non_integer_actions_for_an_integer_space_are_refused(actions, space):
    message = refused(actions, space, 2)
    assert f"returned {actions.dtype} actions" in message
    assert "takes integers: return int(action)" in message


@pytest.mark.parametrize(
    ("actions", "space", "shown"),
    [
        pytest.param([5, 4], DISCRETE, "4", id="discrete-below-start"),
        pytest.param([8, 5], DISCRETE, "8", id="discrete-above-start-plus-n"),
        pytest.param([0, 5], DISCRETE, "0", id="discrete-zero-with-start-5"),
        pytest.param([[0, 0], [1, -2]], MULTI_DISCRETE, "[0 0]", id="multidiscrete-low"),
        pytest.param([[1, -3], [1, -2]], MULTI_DISCRETE, "[ 1 -3]", id="multidiscrete-low-2"),
        pytest.param([[1, -2], [4, 0]], MULTI_DISCRETE, "[4 0]", id="multidiscrete-high"),
        pytest.param([[1, 2], [1, -2]], MULTI_DISCRETE, "[1 2]", id="multidiscrete-high-2"),
        pytest.param([[0, 1, 2], [0, 0, 0]], MULTI_BINARY, "[0 1 2]", id="multibinary-2"),
        pytest.param([[0, 0, 0], [-1, 0, 0]], MULTI_BINARY, "[-1  0  0]", id="multibinary-neg"),
    ],
)
def test_integer_actions_out_of_range_are_refused(actions, space, shown):
    message = refused(actions, space, 2)
    assert message == f"action {shown} is outside {describe_space(space)}"


@pytest.mark.parametrize(
    ("actions", "shown"),
    [
        pytest.param(np.array([5, 2**64 - 1], np.uint64), "18446744073709551615", id="uint64-max"),
        pytest.param(np.array([5, -(2**63)], np.int64), "-9223372036854775808", id="int64-min"),
        pytest.param(np.array([8, 5], np.uint8), "8", id="uint8"),
    ],
)
def test_discrete_actions_at_the_ends_of_their_dtype_are_refused(actions, shown):
    assert refused(actions, DISCRETE, 2) == f"action {shown} is outside {describe_space(DISCRETE)}"


def test_the_ends_of_a_discrete_space_are_accepted():
    space = spaces.Discrete(2**62, start=-(2**61))
    actions = np.array([-(2**61), 2**62 - 2**61 - 1, 0], np.int64)
    assert check_actions(actions, space, 3) == [-(2**61), 2**62 - 2**61 - 1, 0]


def test_discrete_refusal_names_the_first_bad_action_and_the_valid_integers():
    message = refused([5, 9, 4], DISCRETE, 3)
    assert message == "action 9 is outside Discrete(3) (integers 5 to 7)"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_box_actions_that_are_not_finite_are_refused(bad):
    message = refused(np.array([[0.5, 0.5], [0.0, bad]]), ACTION_BOX, 2)
    assert "contains NaN or infinity: return finite numbers within" in message
    assert message.startswith("action [") and str(bad) in message


def test_box_actions_that_are_not_finite_are_refused_even_with_infinite_bounds():
    space = spaces.Box(-INF, INF, (2,), F32)
    assert "NaN or infinity" in refused([[np.inf, 0.0]], space, 1)


@pytest.mark.parametrize(
    "actions",
    [[[1.5, 0.0]], [[0.0, -1.01]], [[0.0, 1.0000001]]],
    ids=["high", "low", "just-above"],
)
def test_box_actions_out_of_bounds_are_refused_with_a_clip_hint(actions):
    message = refused(np.array(actions, F32), ACTION_BOX, 1)
    assert "is outside Box(shape (2,), float32, [-1.0, 1.0])" in message
    assert "np.clip(action, action_space.low, action_space.high)" in message


def test_box_bounds_are_checked_per_dimension():
    space = box([0, -5], [1, 5])
    assert len(check_actions(np.array([[1.0, -5.0]]), space, 1)) == 1
    assert "np.clip" in refused([[-0.5, 0.0]], space, 1)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_float64_actions_that_overflow_float32_are_refused():
    space = spaces.Box(-INF, INF, (2,), F32)
    assert "return finite numbers" in refused([[1e300, 0.0]], space, 1)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("value", [300, -1, 1e10], ids=["300", "-1", "1e10"])
def test_actions_outside_an_integer_box_are_refused_not_wrapped(value):
    space = spaces.Box(0, 255, (1,), np.uint8)
    assert "np.clip" in refused(np.array([[value]]), space, 1)


# --- describe_space ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("space", "text"),
    [
        (spaces.Discrete(2), "Discrete(2) (integers 0 to 1)"),
        (spaces.Discrete(3, start=5), "Discrete(3) (integers 5 to 7)"),
        (spaces.Discrete(4, start=-2), "Discrete(4) (integers -2 to 1)"),
        (spaces.Box(-1, 1, (2,), F32), "Box(shape (2,), float32, [-1.0, 1.0])"),
        (spaces.Box(0, 255, (8, 8, 3), np.uint8), "Box(shape (8, 8, 3), uint8, [0, 255])"),
        (spaces.Box(-INF, INF, (4,), np.float64), "Box(shape (4,), float64, [-inf, inf])"),
        (box([0, -1], [1, 2]), "Box(shape (2,), float32, per-dimension bounds)"),
        (box([0, 0], [1, 2]), "Box(shape (2,), float32, per-dimension bounds)"),
        (spaces.MultiBinary(3), "MultiBinary(3)"),
    ],
)
def test_describe_space(space, text):
    assert describe_space(space) == text


def test_actions_sent_by_an_agent_are_checked_after_decoding():
    """The evaluator's path: an 'action' message, decode_array, then check_actions."""
    message = {"type": "action", "actions": encode_array(np.array([[0.5, -0.5]], np.float64))}
    received = unpack(pack(message)[4:], AGENT_MESSAGES)
    (action,) = check_actions(decode_array(received["actions"]), ACTION_BOX, 1)
    assert action.dtype == F32 and action.tolist() == [0.5, -0.5]
