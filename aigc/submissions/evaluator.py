"""The evaluator: runs a phase's episodes with the environment here and the agent in a sandbox.

The environment, its seeds and everything the challenge scores with stay in this process.
The agent runs in whatever :class:`~aigc.submissions.sandbox.Sandbox` is given and speaks
the wire protocol over a Unix socket. Up to ``parallel`` episodes run side by side and the
agent is asked for all their actions in one round trip. Every wait on the agent, sending
included, has a deadline (per action, per episode, per evaluation) and looks at the cancel
event; every action is checked before it reaches ``env.step``. When the agent fails, the
evaluation ends with a :class:`~aigc.submissions.results.Failure` that says why, and the
episodes that finished are kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import operator
import shutil
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import gymnasium as gym

from aigc.safe_text import short_message
from aigc.submissions import agent_output, recording
from aigc.submissions import results as r
from aigc.submissions.challenge import ChallengeSpec, SpecError
from aigc.submissions.deadlines import check, until
from aigc.submissions.environment_host import (
    EnvironmentFailed,
    RemoteEnv,
    direct_step,
    step_all_then_score,
)
from aigc.submissions.metrics import compute_metrics, episode_success, info_values
from aigc.submissions.owners import make_temp_folder
from aigc.submissions.package import read_manifest
from aigc.submissions.protocol import (
    AGENT_MESSAGES,
    PROTOCOL_VERSION,
    Connection,
    DeadlineExceeded,
    PeerClosed,
    ProtocolError,
    decode_array,
)
from aigc.submissions.results import EpisodeResult, EvaluationResult, Failure
from aigc.submissions.sandbox import SOCKET_NAME, AgentProcess, LocalSandbox, Sandbox
from aigc.submissions.spaces import (
    ACTION_SPACES,
    InvalidAction,
    check_actions,
    encode_batch,
    encode_space,
)

DEFAULT_PARALLEL = 64
PIPELINE_GROUPS = 2
CLOSE_WAIT = 1.0  # seconds for an agent told to close to exit on its own
EXIT_WAIT = 2.0  # seconds to let an agent that closed its socket finish exiting
LAST_WORDS_WAIT = 0.5  # seconds to read what a departed agent left on the connection

_STARTED = operator.attrgetter("started")

OnEpisode = Callable[[EpisodeResult, int, int], None]
T = TypeVar("T")


class AgentFailed(Exception):
    """Raised inside a run to end it with a failure."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(eq=False, slots=True)
class _Episode:
    env: gym.Env
    index: int
    seed: int
    observation: Any
    started: float
    step: Callable[[Any], Any]  # env.step, or the same past gymnasium.make's wrappers
    total_return: float = 0.0
    length: int = 0
    actions: list[Any] | None = None  # what was passed to env.step, while it is recorded


def evaluate(
    package_dir: Path,
    challenge: ChallengeSpec,
    phase: str = "dev",
    *,
    sandbox: Sandbox | None = None,
    episodes: int | None = None,
    parallel: int = DEFAULT_PARALLEL,
    seed_secret: bytes | None = None,
    seeds: Sequence[int] | None = None,
    on_episode: OnEpisode | None = None,
    cancel: threading.Event | None = None,
    make_env: Callable[[], gym.Env] | None = None,
    record: bool = True,
) -> EvaluationResult:
    """Evaluate the agent package in ``package_dir`` on one phase of a challenge.

    The episodes play ``seeds`` in their order, by default the phase's own (see
    :meth:`Phase.seeds`); ``episodes`` takes the first N. Setting ``cancel`` stops the
    evaluation within one round trip and raises EvaluationCancelled. With ``record`` each
    episode keeps its actions (see :mod:`aigc.submissions.recording`) for replays. Raises
    SpecError or PackageError for a problem with the challenge or the package itself;
    everything the agent does wrong ends up in the result's ``failure``. ``make_env`` builds
    the environments (by default ``challenge.environment.make``): an
    :class:`~aigc.submissions.environment_host.EnvironmentHost`'s ``make`` for an
    organizer's environment in its own sandbox, whose failures end the evaluation with
    ``environment_error``.
    """
    manifest = read_manifest(package_dir)
    if seeds is None:
        seeds = challenge.phase(phase).seeds(challenge.id, episodes, seed_secret)
    else:
        challenge.phase(phase)  # the phase must exist: its limits and rules apply
        seeds = list(seeds)[:episodes] if episodes else list(seeds)
        if not seeds:
            raise SpecError("no seeds to play: give at least one")
    result = EvaluationResult(
        challenge=challenge.id,
        phase=phase,
        agent=manifest.name,
        episodes_requested=len(seeds),
        primary_metric=challenge.metrics.primary,
    )
    run = _Run(challenge, result, seeds, max(1, parallel), on_episode, cancel, record)
    run.make_env = make_env or challenge.environment.make
    started = time.monotonic()
    try:
        run.execute(Path(package_dir), sandbox or LocalSandbox())
    except (AgentFailed, EnvironmentFailed) as failed:
        episode, step = run.current_position()
        result.failure = Failure(failed.code, failed.message, episode, step)
    finally:
        run.shutdown()
        result.wall_time = time.monotonic() - started
    result.episodes.sort(key=lambda e: e.index)
    result.metrics = compute_metrics(result.episodes, challenge.metrics)
    return result


class _Run:
    """The state of one evaluation: sockets, the agent process, environments, episodes."""

    def __init__(
        self,
        challenge: ChallengeSpec,
        result: EvaluationResult,
        seeds: list[int],
        parallel: int,
        on_episode: OnEpisode | None,
        cancel: threading.Event | None,
        record: bool = True,
    ):
        self.challenge, self.limits = challenge, challenge.limits
        self.record = record
        self.action_space: gym.Space | None = None
        self.step_together = False  # see execute
        self.record_steps = 0  # the longest episode whose actions are kept
        self.recorded_chars = 0  # what the evaluation's recordings hold so far
        self.result, self.on_episode, self.cancel = result, on_episode, cancel
        self.pending = deque(enumerate(seeds))
        # The agent's seed follows from the episodes' seeds without revealing any of them.
        digest = hashlib.sha256(repr(seeds).encode()).digest()
        self.agent_seed = int.from_bytes(digest[:4], "big") & 0x7FFFFFFF
        self.parallel = parallel
        self.current: list[_Episode] = []
        self.envs: list[gym.Env] = []
        self.direct_steps: dict[int, Callable[[Any], Any]] = {}  # by id of an environment
        self.process: AgentProcess | None = None
        self.conn: Connection | None = None
        self.workdir: Path | None = None
        self.stateful = False
        self.started = 0.0  # when the sandbox was asked to start the agent
        self.deadline = 0.0  # the end of the evaluation's time
        self.make_env: Callable[[], gym.Env] = challenge.environment.make

    # -- lifecycle ---------------------------------------------------------------------

    def execute(self, package_dir: Path, sandbox: Sandbox) -> None:
        self.deadline = time.monotonic() + self.limits.evaluation_timeout
        probe = self.make_env()
        self.envs.append(probe)
        observation_space, action_space = probe.observation_space, probe.action_space
        if not isinstance(action_space, ACTION_SPACES):
            raise ValueError(
                f"{self.challenge.environment.id} has an unsupported action space {action_space}"
            )
        self.action_space = action_space
        # An organizer's environments step in one round trip to their sandbox, those of a
        # class with a step_batch (the text environment) in one call; the others one by one.
        self.step_together = isinstance(probe, RemoteEnv) or hasattr(
            type(probe.unwrapped), "step_batch"
        )
        self.record_steps = recording.max_recorded_steps(action_space) if self.record else 0
        self.workdir = make_temp_folder("eval")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(self.workdir / SOCKET_NAME))
            listener.listen(1)
            self.started = time.monotonic()
            self.process = sandbox.start(package_dir, self.workdir, self.limits)
            # Built while the agent starts, not once it has (a stateful agent will use one);
            # the agent's time to start counts from here.
            width = min(self.parallel, len(self.pending))
            while len(self.envs) < width:
                self.envs.append(self.make_env())
            startup = min(self.deadline, time.monotonic() + self.limits.startup_timeout)
            self.conn = Connection(self._accept(listener, startup))
        finally:
            listener.close()
        greeting = {
            "type": "hello",
            "protocol": PROTOCOL_VERSION,
            "observation_space": encode_space(observation_space),
            "action_space": encode_space(action_space),
            "seed": self.agent_seed,
            "max_batch": self.parallel,
        }
        self._send(greeting, startup, self._startup_timeout)
        hello = self._receive(startup, self._startup_timeout, starting=True)
        if hello["type"] != "hello" or hello["protocol"] != PROTOCOL_VERSION:
            raise AgentFailed(
                r.PROTOCOL_ERROR, "the agent did not answer hello as the protocol requires"
            )
        self.stateful = bool(hello["stateful"])
        # A stateful agent sees one episode at a time so its state is never shared.
        if self.stateful:
            width = 1
        # Two groups of episodes, each with a request in flight: the agent computes one
        # group's actions while this process steps the other group's environments.
        count = PIPELINE_GROUPS if width >= PIPELINE_GROUPS else 1
        groups = [
            [e for e in map(self._begin, self.envs[i:width:count]) if e] for i in range(count)
        ]
        in_flight: deque[list[_Episode]] = deque()
        for group in filter(None, groups):
            self._request(group, observation_space, in_flight)
            in_flight.append(group)
        while in_flight:
            check(self.cancel)
            group = self.current = in_flight.popleft()
            ended = self._collect(group, action_space)
            try:
                if group:
                    self._request(group, observation_space, in_flight)
                    in_flight.append(group)
            except BaseException:
                with contextlib.suppress(Exception):  # the agent's failure is the one told
                    ended()
                raise
            # Scored once the agent has the group's next observations to compute on.
            ended()

    def shutdown(self) -> None:
        ends = time.monotonic() + CLOSE_WAIT
        if self.conn is not None:
            with contextlib.suppress(OSError, DeadlineExceeded, PeerClosed):
                self.conn.send({"type": "close"}, ends)
                # The agent's end of the socket closes as its process exits: seen at once
                # here, where asking the sandbox whether the process has ended takes a call.
                self.conn.drain(ends)
            self.conn.close()
        if self.process is not None:
            self.process.wait(max(0.0, ends - time.monotonic()))
            self.process.stop()
            self.result.logs = self.process.logs()
        for env in self.envs:
            env.close()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def current_position(self) -> tuple[int | None, int | None]:
        if not self.current:
            return None, None
        return self.current[0].index, self.current[0].length

    # -- episodes ----------------------------------------------------------------------

    def _begin(self, env: gym.Env) -> _Episode | None:
        if not self.pending:
            return None
        index, seed = self.pending.popleft()
        observation, _ = env.reset(seed=seed)
        # From an environment's second episode on, its first step has been checked.
        step = self.direct_steps.get(id(env)) or direct_step(env)
        if step is not None:
            self.direct_steps[id(env)] = step
        episode = _Episode(env, index, seed, observation, time.monotonic(), step or env.step)
        if self.record:
            episode.actions = []
        if self.stateful:
            self._send({"type": "reset"}, *self._limit([episode], 1, sending=True))
        return episode

    def _request(
        self, group: list[_Episode], observation_space: gym.Space, ahead: deque[list[_Episode]]
    ) -> None:
        """Send a group's observations; ``ahead`` are the groups the agent answers first."""
        batch = encode_batch([e.observation for e in group], observation_space)
        # The agent reads this request once it has answered those ahead of it.
        waiting = len(group) + sum(len(g) for g in ahead)
        self._send({"type": "act", "observations": batch}, *self._limit(group, waiting, True))

    def _collect(self, group: list[_Episode], action_space: gym.Space) -> Callable[[], None]:
        """Receive a group's actions, step its environments, refill it with new episodes;
        return what finishes the episodes that ended (the text environment scores them
        then)."""
        n = len(group)
        reply = self._receive(*self._limit(group, n))
        if self.result.startup_time is None:
            self.result.startup_time = time.monotonic() - self.started
        if reply["type"] != "action":
            raise AgentFailed(r.PROTOCOL_ERROR, f"the agent answered act with {reply['type']!r}")
        try:
            decoded = decode_array(reply["actions"], "actions", writable=False)
            actions = check_actions(decoded, action_space, n)
        except InvalidAction as exc:
            where = f"episode {group[0].index}, step {group[0].length}"
            raise AgentFailed(r.INVALID_ACTION, f"{exc} ({where})") from None
        except ProtocolError as exc:
            raise AgentFailed(r.PROTOCOL_ERROR, f"the agent broke the protocol: {exc}") from None
        # Plain environments step here one by one, within this loop (the evaluator's time
        # goes to this loop); see execute for those that step together.
        stepped, scores = (
            step_all_then_score([e.env for e in group], actions)
            if self.step_together
            else (None, None)
        )
        record_steps = self.record_steps
        refilled = []
        ended: list[tuple[int, _Episode, bool, bool, dict]] = []
        for i, episode in enumerate(group):
            action = actions[i]
            observation, reward, terminated, truncated, info = (
                episode.step(action) if stepped is None else stepped[i]
            )
            if episode.actions is not None:
                if episode.length < record_steps:
                    episode.actions.append(action)
                else:  # longer than a recording keeps: this episode is not replayable
                    episode.actions = None
            episode.observation = observation
            episode.total_return += float(reward)
            episode.length += 1
            if terminated or truncated:
                ended.append((i, episode, terminated, truncated, info))
                next_episode = self._begin(episode.env)
                if next_episode is not None:
                    refilled.append(next_episode)
            else:
                refilled.append(episode)
        self.result.steps += n
        group[:] = refilled

        def finish() -> None:
            scored = scores() if scores is not None else {}
            for i, episode, terminated, truncated, info in ended:
                if i in scored:  # its reward was left out of the step's
                    reward, info = scored[i]
                    episode.total_return += float(reward)
                self._finish(episode, terminated, truncated, info)

        return finish

    def _finish(self, episode: _Episode, terminated: bool, truncated: bool, info: dict) -> None:
        metrics = self.challenge.metrics
        actions = None
        if episode.actions is not None and self.action_space is not None:
            actions = recording.encode_actions(episode.actions, self.action_space)
            self.recorded_chars += len(actions)
            if self.recorded_chars > recording.MAX_EVALUATION_CHARS:
                actions = None  # the evaluation's recordings are full
        prompt, completion = recording.episode_text(info)
        done = EpisodeResult(
            index=episode.index,
            seed=episode.seed,
            total_return=episode.total_return,
            length=episode.length,
            wall_time=time.monotonic() - episode.started,
            terminated=bool(terminated),
            truncated=bool(truncated),
            success=episode_success(metrics, episode.total_return, terminated, truncated, info),
            values=info_values(metrics, info),
            actions=actions,
            prompt=prompt,
            completion=completion,
        )
        self.result.episodes.append(done)
        if self.on_episode is not None:
            self.on_episode(done, len(self.result.episodes), self.result.episodes_requested)

    # -- talking to the agent ------------------------------------------------------------

    def _limit(
        self, group: list[_Episode], observations: int, sending: bool = False
    ) -> tuple[float, Callable[[], AgentFailed]]:
        """When a wait on the agent about ``group`` ends, and the failure it ends with.

        The agent has ``step_timeout`` per observation it has to answer first, and no more
        than what is left of the oldest episode and of the evaluation.
        """
        limits = self.limits
        oldest = min(group, key=_STARTED)
        when, kind = min(
            (time.monotonic() + limits.step_timeout * observations, r.STEP_TIMEOUT),
            (oldest.started + limits.episode_timeout, r.EPISODE_TIMEOUT),
            (self.deadline, r.EVALUATION_TIMEOUT),
        )
        return when, lambda: self._timeout(kind, group, oldest, observations, sending)

    def _timeout(
        self, kind: str, group: list[_Episode], oldest: _Episode, observations: int, sending: bool
    ) -> AgentFailed:
        limits, n = self.limits, len(group)
        if kind == r.STEP_TIMEOUT and sending:
            where = f"episode {group[0].index}, step {group[0].length}"
            message = (
                f"the agent stopped reading: it did not take its next observations within "
                f"{limits.step_timeout * observations:g} s ({where}): make act() faster"
            )
        elif kind == r.STEP_TIMEOUT:
            where = f"episode {group[0].index}, step {group[0].length}"
            message = (
                f"the agent took longer than {limits.step_timeout:g} s per action to answer "
                f"{n} observation{'s' if n > 1 else ''} ({where}): make act() faster"
            )
        elif kind == r.EPISODE_TIMEOUT:
            message = (
                f"episode {oldest.index} ran longer than the {limits.episode_timeout:g} s "
                "allowed per episode: make act() faster"
            )
        else:
            message = (
                f"the evaluation ran longer than the {limits.evaluation_timeout:g} s allowed in "
                f"total ({len(self.result.episodes)} episodes finished): make act() faster"
            )
        return AgentFailed(kind, message)

    def _startup_timeout(self) -> AgentFailed:
        return AgentFailed(
            r.AGENT_START_FAILED,
            f"the agent did not start within {self.limits.startup_timeout:g} s: "
            "load less at import and in __init__",
        )

    def _send(
        self, message: dict[str, Any], when: float, on_timeout: Callable[[], AgentFailed]
    ) -> None:
        """Send a message before ``when``, looking at the cancel event while the agent does
        not read it."""
        assert self.conn is not None
        self.conn.queue(message)
        try:
            self._until(when, self.conn.flush)
        except DeadlineExceeded:
            raise on_timeout() from None
        except PeerClosed:
            # An agent that failed says why before it exits; with two groups in flight the
            # next send can find it gone before its error message has been read.
            said = self._last_words()
            if said is not None:
                raise _reported(said, starting=False) from None
            raise AgentFailed(r.AGENT_EXITED, self._exit_message()) from None

    def _last_words(self) -> dict | None:
        """The error message a departed agent left unread on the connection, if any."""
        assert self.conn is not None
        try:
            message = self.conn.recv(AGENT_MESSAGES, time.monotonic() + LAST_WORDS_WAIT)
        except (DeadlineExceeded, PeerClosed, ProtocolError, OSError):
            return None
        return message if message["type"] == "error" else None

    def _receive(
        self, when: float, on_timeout: Callable[[], AgentFailed], starting: bool = False
    ) -> dict:
        assert self.conn is not None
        try:
            message = self._recv_until(when)
        except DeadlineExceeded:
            raise on_timeout() from None
        except PeerClosed:
            failed = r.AGENT_START_FAILED if starting else r.AGENT_EXITED
            raise AgentFailed(failed, self._exit_message()) from None
        except ProtocolError as exc:
            raise AgentFailed(r.PROTOCOL_ERROR, f"the agent broke the protocol: {exc}") from None
        if message["type"] == "error":
            raise _reported(message, starting)
        return message

    def _recv_until(self, when: float) -> dict:
        """Wait for the agent's next message."""
        assert self.conn is not None
        conn = self.conn
        return self._until(when, lambda deadline: conn.recv(AGENT_MESSAGES, deadline))

    def _until(self, when: float, attempt: Callable[[float], T]) -> T:
        """Run ``attempt(deadline)`` until it succeeds or ``when`` passes, cancel obeyed."""
        return until(when, attempt, self.cancel)

    def _accept(self, listener: socket.socket, deadline: float) -> socket.socket:
        assert self.process is not None
        while True:
            check(self.cancel)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AgentFailed(
                    r.AGENT_START_FAILED,
                    f"the agent runtime did not connect within {self.limits.startup_timeout:g} s",
                )
            listener.settimeout(min(0.1, remaining))
            try:
                conn, _ = listener.accept()
                return conn
            except TimeoutError:
                if self.process.poll() is not None:
                    raise AgentFailed(
                        r.AGENT_START_FAILED, self._exit_message(starting=True)
                    ) from None

    def _exit_message(self, starting: bool = False) -> str:
        assert self.process is not None
        self.process.wait(EXIT_WAIT)
        when = "before it connected" if starting else self._where()
        message = f"the agent process {self.process.exit_reason()} {when}"
        last = _last_line(self.process.logs())
        return f"{message}; its last output: {last}" if last else message

    def _where(self) -> str:
        if not self.current:
            return "while starting"
        return f"during episode {self.current[0].index} (step {self.current[0].length})"


def _reported(error: dict, starting: bool) -> AgentFailed:
    """The failure an agent's ``error`` message reports.

    The runtime marks an action it could not send (an object, float128, ...) as
    invalid_action; nothing else an agent says changes the code it is charged with.
    """
    if starting:
        code = r.AGENT_START_FAILED
    else:
        code = r.INVALID_ACTION if error.get("code") == r.INVALID_ACTION else r.AGENT_ERROR
    return AgentFailed(code, short_message(str(error["message"])))


def _last_line(logs: str) -> str:
    written = [text.strip() for _, text in agent_output.lines(logs) if text.strip()]
    return short_message(written[-1], 300) if written else ""
