"""Evaluator outcomes with real agent processes over the real protocol (local sandbox)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import gymnasium as gym
import pytest

import aigc.envs  # noqa: F401  (registers the text environment)
from aigc.submissions import results as r
from aigc.submissions.challenge import Limits
from aigc.submissions.deadlines import EvaluationCancelled
from aigc.submissions.evaluator import evaluate
from aigc.submissions.protocol import EVALUATOR_MESSAGES, HEADER, Connection
from aigc.submissions.results import EvaluationResult
from aigc.submissions.sandbox import SOCKET_NAME, AgentProcess, Sandbox

from .conftest import CountingScorer, agent, make_challenge, within


def returns(result: EvaluationResult) -> list[float]:
    return [e.total_return for e in result.episodes]


def test_good_agent_finishes_every_episode(cartpole):
    result = evaluate(agent("good"), cartpole)
    assert result.ok and result.failure is None
    assert [e.index for e in result.episodes] == list(range(6))
    assert [e.seed for e in result.episodes] == list(range(6))
    assert result.metrics["mean_return"] > 100
    assert result.steps == sum(e.length for e in result.episodes)
    assert all(e.success == (e.truncated and not e.terminated) for e in result.episodes)


def test_batched_agent_gets_the_same_returns_as_one_at_a_time(cartpole):
    batched = evaluate(agent("batched"), cartpole, parallel=6)
    single = evaluate(agent("good"), cartpole, parallel=1)
    assert batched.ok and single.ok
    assert returns(batched) == returns(single)


def test_parallel_width_does_not_change_a_deterministic_agents_returns(cartpole):
    wide = evaluate(agent("good"), cartpole, parallel=4)
    narrow = evaluate(agent("good"), cartpole, parallel=1)
    assert returns(wide) == returns(narrow)


@pytest.mark.parametrize("name", ["random", "numpy_random"])
def test_same_agent_and_seeds_give_the_same_returns(name):
    challenge = make_challenge("Acrobot-v1", episodes=4, success="terminated")
    first = evaluate(agent(name), challenge, parallel=3)
    second = evaluate(agent(name), challenge, parallel=3)
    assert first.ok, first.failure
    assert returns(first) == returns(second)
    assert [e.length for e in first.episodes] == [e.length for e in second.episodes]


def test_stateful_agent_is_given_one_episode_at_a_time(cartpole):
    result = evaluate(agent("stateful"), cartpole, parallel=16)
    assert result.ok, result.failure
    assert returns(result) == returns(evaluate(agent("good"), cartpole))


def test_numpy_scalar_actions_are_accepted(cartpole):
    assert evaluate(agent("torch_tensor"), cartpole).ok


def test_episodes_option_takes_the_first_seeds(cartpole):
    result = evaluate(agent("good"), cartpole, episodes=2)
    assert result.episodes_requested == 2 and [e.seed for e in result.episodes] == [0, 1]


def test_hidden_phase_runs_with_the_platform_secret(cartpole):
    result = evaluate(agent("good"), cartpole, "test", seed_secret=b"platform secret")
    assert result.ok
    assert [e.seed for e in result.episodes] != list(range(6))


@pytest.mark.parametrize(
    ("name", "code", "words"),
    [
        ("crash_import", r.AGENT_START_FAILED, "ModuleNotFoundError in import (agent.py, line 3)"),
        (
            "crash_init",
            r.AGENT_START_FAILED,
            "ValueError in __init__ (agent.py, line 6): weights.npy",
        ),
        ("no_act", r.AGENT_START_FAILED, "has no act(observation) method"),
    ],
)
def test_agent_that_cannot_start(cartpole, name, code, words):
    result = evaluate(agent(name), cartpole)
    assert result.failure is not None
    assert result.failure.code == code
    assert words in result.failure.message
    assert result.episodes == []


def test_a_missing_module_names_what_the_runtime_holds(cartpole):
    failure = evaluate(agent("crash_import"), cartpole).failure
    assert failure is not None
    assert "No module named 'module_that_does_not_exist'; this runtime holds numpy " in (
        failure.message
    )
    assert "torch" in failure.message and "vendor pure-Python code in the package" in (
        failure.message
    )


def test_crash_in_act_keeps_the_finished_episodes():
    challenge = make_challenge(episodes=10)
    result = evaluate(agent("crash_act"), challenge, parallel=1)
    failure = result.failure
    assert failure is not None and failure.code == r.AGENT_ERROR
    assert "ZeroDivisionError in act (agent.py, line 11): division by zero" in failure.message
    # Always pushing left ends CartPole episodes in about ten steps: several finished.
    assert len(result.episodes) >= 3
    assert failure.episode == len(result.episodes)
    assert "ZeroDivisionError" in result.logs
    assert result.metrics["mean_return"] == pytest.approx(
        sum(returns(result)) / len(result.episodes)
    )


def test_agent_that_exits_mid_episode(cartpole):
    result = evaluate(agent("exit_mid"), cartpole, parallel=1)
    assert result.failure is not None and result.failure.code == r.AGENT_EXITED
    assert "exited with status 3 during episode" in result.failure.message
    assert "giving up now" in result.failure.message
    assert len(result.episodes) >= 1


def test_hanging_agent_hits_the_step_deadline():
    result = evaluate(agent("hang"), make_challenge(step_timeout="300ms"))
    assert result.failure is not None and result.failure.code == r.STEP_TIMEOUT
    assert "longer than 0.3 s per action" in result.failure.message


def test_slow_start_hits_the_startup_deadline():
    result = evaluate(agent("slow_start"), make_challenge(startup_timeout="2s"))
    assert result.failure is not None and result.failure.code == r.AGENT_START_FAILED
    assert "did not start within 2 s" in result.failure.message


def test_slow_agent_hits_the_episode_deadline():
    challenge = make_challenge(step_timeout="1s", episode_timeout="700ms")
    result = evaluate(agent("slow"), challenge, parallel=1)
    assert result.failure is not None and result.failure.code == r.EPISODE_TIMEOUT
    assert "episode 0 ran longer than the 0.7 s allowed" in result.failure.message


def test_slow_agent_hits_the_evaluation_deadline():
    challenge = make_challenge(step_timeout="1s", episode_timeout="30s", evaluation_timeout="1s")
    result = evaluate(agent("slow"), challenge, parallel=1)
    assert result.failure is not None and result.failure.code == r.EVALUATION_TIMEOUT


@pytest.mark.parametrize(
    ("name", "env_id", "words"),
    [
        ("out_of_range", "CartPole-v1", "action 5 is outside Discrete(2)"),
        ("wrong_shape", "CartPole-v1", "shape (2,) for Discrete(2)"),
        (
            "float_action",
            "CartPole-v1",
            "float64 actions, but Discrete(2) (integers 0 to 1) takes integers",
        ),
        ("nan_action", "Pendulum-v1", "contains NaN or infinity"),
        ("unclipped", "Pendulum-v1", "is outside Box(shape (1,), float32, [-2.0, 2.0]): clip it"),
    ],
)
def test_invalid_actions_end_the_evaluation(name, env_id, words):
    result = evaluate(agent(name), make_challenge(env_id, success=None))
    assert result.failure is not None, name
    assert result.failure.code == r.INVALID_ACTION
    assert words in result.failure.message
    assert "(episode 0, step 0)" in result.failure.message


@pytest.mark.parametrize("name", ["garbage", "oversized_frame"])
def test_protocol_violations_end_the_evaluation(cartpole, name):
    result = evaluate(agent(name), cartpole)
    assert result.failure is not None
    assert result.failure.code == r.PROTOCOL_ERROR
    assert result.failure.message.startswith("the agent broke the protocol")


def test_result_round_trips_through_json(cartpole):
    result = evaluate(agent("crash_act"), make_challenge(episodes=10), parallel=1)
    again = EvaluationResult.from_json(result.to_json())
    assert again == result


def test_non_numeric_action_is_refused_by_the_runtime(cartpole):
    result = evaluate(agent("string_action"), cartpole)
    # Not an action at all: charged as an invalid action, like float128 or an object.
    assert result.failure is not None and result.failure.code == r.INVALID_ACTION
    assert "the agent returned str 'left': return a number" in result.failure.message


def test_dict_observations_and_multidiscrete_actions_cross_the_protocol():
    challenge = make_challenge("aigc-test/Target-v0", episodes=4, success=None)
    result = evaluate(agent("multidiscrete"), challenge, parallel=4)
    assert result.ok, result.failure
    # The agent always hits the target: every step of every 10-step episode earns 1.
    assert returns(result) == [10.0] * 4


def test_setting_cancel_stops_the_evaluation_and_the_agent():
    import threading

    from aigc.submissions.deadlines import EvaluationCancelled

    cancel = threading.Event()
    seen: list[int] = []

    def on_episode(_episode, done, _total):
        seen.append(done)
        cancel.set()  # stop as soon as the first episode has finished

    with pytest.raises(EvaluationCancelled):
        evaluate(
            agent("good"),
            make_challenge(episodes=50),
            parallel=1,
            cancel=cancel,
            on_episode=on_episode,
        )
    assert seen == [1]


def test_an_agent_that_failed_and_left_is_reported_by_its_own_words(cartpole):
    # Two groups are in flight: the agent answers the first with an error and exits, and
    # the evaluator's next send finds it gone. The error it left unread still counts.
    import socket
    import time

    from aigc.submissions.evaluator import AgentFailed, _Run
    from aigc.submissions.protocol import Connection

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    Connection(theirs).send({"type": "error", "message": "act raised KeyError", "traceback": ""})
    theirs.close()
    run = _Run(cartpole, EvaluationResult("cartpole", "dev", "a", 1), [1], 1, None, None)
    run.conn = Connection(ours)
    run.deadline = time.monotonic() + 30
    with pytest.raises(AgentFailed) as failed:
        for _ in range(100):  # the first sends may still fit in the socket's buffer
            run._send(
                {"type": "reset", "observations": [list(range(4096))]},
                run.deadline,
                lambda: AgentFailed(r.STEP_TIMEOUT, "the agent stopped reading"),
            )
    assert failed.value.code == r.AGENT_ERROR
    assert "act raised KeyError" in str(failed.value)
    ours.close()


def test_declared_info_values_come_from_each_episodes_last_step():
    # aigc-test/Info-v0 (conftest): seed s lasts 3 + s % 4 steps and reports that length as
    # `steps` in its last info, except seed 4, whose last info is empty.
    info = {"info": ["steps", "odd", "label"], "report": ["mean_steps", "mean_odd", "mean_label"]}
    challenge = make_challenge("aigc-test/Info-v0", success=None, metrics=info)
    result = evaluate(agent("random"), challenge, parallel=3)
    assert result.ok, result.failure
    assert [e.length for e in result.episodes] == [3, 4, 5, 6, 3, 4]
    assert [e.values for e in result.episodes] == [
        {"steps": 3.0, "odd": 1.0, "label": None},
        {"steps": 4.0, "odd": 0.0, "label": None},
        {"steps": 5.0, "odd": 1.0, "label": None},
        {"steps": 6.0, "odd": 0.0, "label": None},
        {"steps": None, "odd": None, "label": None},  # the last info was empty
        {"steps": 4.0, "odd": 0.0, "label": None},
    ]
    # The means count only the episodes that reported a number; text gives no number.
    assert result.metrics["mean_steps"] == pytest.approx(22 / 5)
    assert result.metrics["mean_odd"] == pytest.approx(2 / 5)
    assert result.metrics["mean_label"] is None
    assert EvaluationResult.from_json(result.to_json()) == result


def test_episodes_carry_no_values_when_the_challenge_declares_none(cartpole):
    result = evaluate(agent("good"), cartpole, episodes=2)
    assert [e.values for e in result.episodes] == [{}, {}]


# -- an agent that stops reading: every wait, sending included, has its deadline --------


class _Silent(AgentProcess):
    def __init__(self, sock: socket.socket, thread: threading.Thread):
        self.sock, self.thread = sock, thread

    def poll(self) -> int | None:
        return None if self.thread.is_alive() else 0

    def exit_reason(self) -> str:
        return "is still running" if self.poll() is None else "exited with status 0"

    def logs(self) -> str:
        return ""

    def stop(self, grace: float = 2.0) -> None:
        self.sock.close()  # the reader thread's peek ends with it
        self.thread.join()


class SilentSandbox(Sandbox):
    """Plays an agent that answers hello and then reads nothing more.

    ``blocked`` is set once the first bytes of the next frame have arrived and its header
    announces more than a socket's buffer holds: the evaluator is then, for sure, inside a
    send that cannot finish.
    """

    def __init__(self) -> None:
        self.blocked = threading.Event()

    def start(self, package_dir: Path, socket_dir: Path, limits: Limits) -> AgentProcess:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(socket_dir / SOCKET_NAME))
        thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
        thread.start()
        return _Silent(sock, thread)

    def _serve(self, sock: socket.socket) -> None:
        conn = Connection(sock)
        try:
            conn.recv(EVALUATOR_MESSAGES)
            hello = {"type": "hello", "protocol": 1, "name": "silent", "batched": True}
            conn.send({**hello, "stateful": False})
            header = sock.recv(HEADER.size, socket.MSG_PEEK | socket.MSG_WAITALL)
        except OSError:
            return
        buffer = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        if len(header) == HEADER.size and HEADER.unpack(header)[0] > 4 * buffer:
            self.blocked.set()


WIDE_LIMITS = {"step_timeout": "1h", "episode_timeout": "1h", "evaluation_timeout": "1h"}


@pytest.mark.parametrize(
    ("limit", "code", "words"),
    [
        ("step_timeout", r.STEP_TIMEOUT, "the agent stopped reading: it did not take its next"),
        ("episode_timeout", r.EPISODE_TIMEOUT, "episode 0 ran longer than the 1 s allowed"),
        ("evaluation_timeout", r.EVALUATION_TIMEOUT, "the evaluation ran longer than the 1 s"),
    ],
)
def test_an_agent_that_stops_reading_meets_each_deadline(limit, code, words):
    challenge = make_challenge("aigc-test/Wide-v0", success=None, **{**WIDE_LIMITS, limit: "1s"})
    sandbox = SilentSandbox()
    result = within(60, lambda: evaluate(agent("good"), challenge, sandbox=sandbox, parallel=1))
    assert sandbox.blocked.is_set(), "the evaluator never sent a frame larger than the buffer"
    assert result.failure is not None and result.failure.code == code, result.failure
    assert words in result.failure.message


def test_a_cancel_reaches_an_evaluator_blocked_in_send():
    challenge = make_challenge("aigc-test/Wide-v0", success=None, **WIDE_LIMITS)
    sandbox, cancel = SilentSandbox(), threading.Event()

    def cancel_once_blocked() -> None:
        if sandbox.blocked.wait(60):
            cancel.set()

    threading.Thread(target=cancel_once_blocked, daemon=True).start()
    with pytest.raises(EvaluationCancelled):
        within(
            60,
            lambda: evaluate(agent("good"), challenge, sandbox=sandbox, parallel=1, cancel=cancel),
        )
    assert sandbox.blocked.is_set()


class _Waiting(AgentProcess):
    def poll(self) -> int | None:
        return None

    def exit_reason(self) -> str:
        return "is still running"

    def logs(self) -> str:
        return ""

    def stop(self, grace: float = 2.0) -> None:
        pass


class NeverConnects(Sandbox):
    """Plays an agent whose runtime is slow to start: it never connects."""

    def start(self, package_dir: Path, socket_dir: Path, limits: Limits) -> AgentProcess:
        return _Waiting()


def test_a_cancel_reaches_an_evaluator_waiting_for_the_agent_to_connect():
    challenge = make_challenge(startup_timeout="1h")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(EvaluationCancelled):
        within(
            60, lambda: evaluate(agent("good"), challenge, sandbox=NeverConnects(), cancel=cancel)
        )


def evaluate_text(scorer: CountingScorer, episodes: int, parallel: int) -> EvaluationResult:
    """Evaluate a random agent on 3-token text episodes judged by ``scorer``."""
    return evaluate(
        agent("random"),
        make_challenge("aigc/TextGen-v0", episodes=episodes, success=None),
        make_env=lambda: gym.make("aigc/TextGen-v0", max_new_tokens=3, scorer=scorer),
        parallel=parallel,
    )


def test_text_episodes_that_end_together_are_scored_in_one_batch():
    scorer = CountingScorer()
    result = evaluate_text(scorer, episodes=8, parallel=8)
    assert result.failure is None, result.failure
    assert sum(scorer.calls) == 8 and max(scorer.calls) > 1, scorer.calls


def test_text_episodes_are_scored_after_the_agent_has_its_next_observations(monkeypatch):
    events: list[str] = []
    queued: list[str] = []
    queue, flush = Connection.queue, Connection.flush

    def queueing(self: Connection, message: dict) -> None:
        queued.append(message["type"])
        queue(self, message)

    def flushing(self: Connection, *args: object) -> None:
        flush(self, *args)  # type: ignore[arg-type]
        if "act" in queued:
            events.append("sent")
        queued.clear()

    recv = Connection.recv

    def receiving(self: Connection, *args: object) -> dict:
        message = recv(self, *args)  # type: ignore[arg-type]
        events.append("received")
        return message

    monkeypatch.setattr(Connection, "queue", queueing)
    monkeypatch.setattr(Connection, "flush", flushing)
    monkeypatch.setattr(Connection, "recv", receiving)

    class Scorer(CountingScorer):
        def score_batch(self, prompts: list[str], completions: list[str]) -> list[float]:
            events.append("score")
            return super().score_batch(prompts, completions)

    scorer = Scorer()
    result = evaluate_text(scorer, episodes=24, parallel=4)
    assert result.failure is None, result.failure
    assert sum(scorer.calls) == 24 and len(result.episodes) == 24
    assert [e.total_return for e in result.episodes] == [
        float(len(e.completion or "")) for e in result.episodes
    ]
    # Each group's next observations go out before the episodes it ended are scored; only
    # once no episode is left to start does a score come with no request before it.
    last_sent = len(events) - 1 - events[::-1].index("sent")
    scores = [i for i, event in enumerate(events) if event == "score" and i < last_sent]
    assert scores and all(events[i - 1] in ("sent", "score") for i in scores), " ".join(events)
