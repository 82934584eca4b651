"""The environment runtime: runs an organizer's environment inside its own sandbox.

Started as ``python environment_runtime.py --socket PATH --bundle DIR``. It connects to the
evaluator's socket and answers, in order:

``env_hello``  ``{"entry_point": "module:Class", "kwargs_json": str, "max_episode_steps":
               int, "info": [name], "render": bool}``: it imports the entry point from the
               bundle folder, builds one environment and answers ``env_hello`` with its
               observation and action spaces (SPACE, :mod:`aigc.submissions.spaces`),
               ``render_mode`` and ``render_fps``. With ``render`` (a replay) the
               environments are built with ``render_mode="rgb_array"``, or ``"ansi"`` where
               the class declares no rgb_array; ``render_mode`` is the one chosen, or ""
               if it declares neither (or ``render`` is false).
``env_reset``  ``{"index": int, "seed": int}``: resets environment ``index`` (built on
               first use, at most :data:`MAX_ENVIRONMENTS`) with that seed; answers
               ``env_observation`` ``{"observation": BATCH of 1, "info": {}}``.
``env_step``   ``{"indices": [int], "actions": ARRAY}``: steps each of those environments
               with its action; answers ``env_steps`` ``{"observations": BATCH, "rewards":
               ARRAY float64, "terminated": ARRAY bool, "truncated": ARRAY bool, "infos":
               [{name: float | None}]}``, the infos holding only the names of ``info``.
``env_render`` ``{"index": int}``: answers ``env_frame`` ``{"frame": ARRAY | str}``, what
               ``render()`` of that environment returns now (the evaluator checks the
               image's shape, dtype and size, and makes the text printable).
``env_check``  runs Gymnasium's ``check_env`` on a fresh environment; answers
               ``env_checked`` ``{"warnings": [str]}``.
``close``      the evaluation is over; it exits.

Anything the environment raises is sent back as ``error`` and the runtime exits with
status 1. This process is on the untrusted side: the evaluator checks every observation
against the space and counts rewards itself. It imports only the modules of ``aigc`` that
the agent's image carries (protocol and spaces), so it runs in the same image.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import socket
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from aigc.submissions.protocol import (
    HOST_MESSAGES,
    PROTOCOL_VERSION,
    Connection,
    PeerClosed,
    ProtocolError,
    decode_array,
    encode_array,
)
from aigc.submissions.spaces import encode_batch, encode_space

MAX_ENVIRONMENTS = 1024
MAX_TRACEBACK_CHARS = 4000
MAX_TEXT_FRAME_CHARS = 2**18  # an ansi frame, cut here (the evaluator bounds it again)


class EnvironmentFailure(Exception):
    """The environment raised or returned something unusable; ``str`` is what organizers read."""


def load_entry_point(bundle: Path, entry_point: str) -> Any:
    """Import ``module:Class`` from the bundle folder and return the class."""
    module_name, _, attribute = entry_point.partition(":")
    root = str(Path(bundle).resolve())
    sys.path.insert(0, root)
    try:
        module = importlib.import_module(module_name)
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(root)
    found = getattr(module, attribute, None)
    if found is None:
        raise EnvironmentFailure(
            f"{module_name} has no {attribute!r}: name the environment's class in entry_point"
        )
    return found


def render_mode_of(environment_class: Any) -> str:
    """The mode a replay draws in: rgb_array, else ansi, else "" (the class's metadata)."""
    metadata = getattr(environment_class, "metadata", None)
    modes = metadata.get("render_modes", []) if isinstance(metadata, dict) else []
    modes = modes if isinstance(modes, list | tuple) else []
    return "rgb_array" if "rgb_array" in modes else "ansi" if "ansi" in modes else ""


def make_environment(
    bundle: Path,
    entry_point: str,
    kwargs: dict[str, Any],
    max_episode_steps: int | None,
    render_mode: str = "",
) -> gym.Env:
    """Build the bundle's environment as the evaluator plays it (the same in or out of a sandbox).

    The class is built with ``kwargs`` (and ``render_mode``, if one is given);
    ``max_episode_steps`` wraps it in a TimeLimit.
    """
    environment_class = load_entry_point(bundle, entry_point)
    if render_mode:
        kwargs = {**kwargs, "render_mode": render_mode}
    env = environment_class(**kwargs)
    if not isinstance(env, gym.Env):
        raise EnvironmentFailure(
            f"{entry_point} made a {type(env).__name__}, not a gymnasium.Env: subclass it"
        )
    if max_episode_steps is not None:
        env = gym.wrappers.TimeLimit(env, max_episode_steps=max_episode_steps)
    return env


def info_number(value: Any) -> float | None:
    """A number the challenge reads from ``info``, or None (as the evaluator's metrics read it)."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    if isinstance(value, bool | np.bool_):
        return float(value)
    if not isinstance(value, int | float | np.integer | np.floating):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError):
        return None
    return number if math.isfinite(number) else None


class Runtime:
    """Serves one evaluation's environments over a connected socket."""

    def __init__(self, conn: Connection, bundle: Path):
        self.conn = conn
        self.bundle = bundle.resolve()
        self.envs: dict[int, gym.Env] = {}
        self.info: list[str] = []

    def start(self) -> None:
        hello = self.conn.recv(HOST_MESSAGES)
        if hello["type"] != "env_hello":
            raise EnvironmentFailure(f"expected env_hello from the evaluator, got {hello['type']}")
        self.entry_point = hello["entry_point"]
        self.kwargs = json.loads(hello["kwargs_json"])
        self.max_steps = hello["max_episode_steps"] or None
        self.info = [str(name) for name in hello["info"]]
        self.render_mode = ""
        if hello["render"]:
            found = self._call(load_entry_point, "__init__", self.bundle, self.entry_point)
            self.render_mode = render_mode_of(found)
        first = self._make()
        self.envs[0] = first
        self.observation_space, self.action_space = first.observation_space, first.action_space
        self.conn.send(
            {
                "type": "env_hello",
                "protocol": PROTOCOL_VERSION,
                "observation_space": self._call(
                    encode_space, "observation_space", first.observation_space
                ),
                "action_space": self._call(encode_space, "action_space", first.action_space),
                "render_mode": self.render_mode,
                "render_fps": _fps(first.metadata.get("render_fps")) if self.render_mode else 0,
            }
        )

    def _make(self) -> gym.Env:
        return self._call(
            make_environment,
            "__init__",
            self.bundle,
            self.entry_point,
            self.kwargs,
            self.max_steps,
            self.render_mode,
        )

    def serve(self) -> None:
        while True:
            message = self.conn.recv(HOST_MESSAGES)
            kind = message["type"]
            if kind == "close":
                return
            if kind == "env_reset":
                env = self._env(message["index"])
                observation, _ = self._call(env.reset, "reset", seed=message["seed"])
                batch = self._call(encode_batch, "reset", [observation], self.observation_space)
                self.conn.send({"type": "env_observation", "observation": batch, "info": {}})
            elif kind == "env_step":
                self.conn.send(self.step(message["indices"], message["actions"]))
            elif kind == "env_render":
                self.conn.send({"type": "env_frame", "frame": self.render(message["index"])})
            elif kind == "env_check":
                self.conn.send({"type": "env_checked", "warnings": self.check()})

    def _env(self, index: object) -> gym.Env:
        if not isinstance(index, int) or not 0 <= index < MAX_ENVIRONMENTS:
            raise EnvironmentFailure(f"the evaluator asked for environment {index!r}")
        if index not in self.envs:
            self.envs[index] = self._make()
        return self.envs[index]

    def step(self, indices: list[Any], encoded: dict[str, Any]) -> dict[str, Any]:
        actions = decode_array(encoded, "actions")
        if len(actions) != len(indices):
            raise EnvironmentFailure("the evaluator sent one action per environment, not this")
        if isinstance(self.action_space, gym.spaces.Discrete):
            actions = actions.tolist()
        envs = [self._env(index) for index in indices]
        names = self.info
        observations, infos = [], []
        rewards = np.empty(len(envs), dtype=np.float64)
        terminated = np.empty(len(envs), dtype=bool)
        truncated = np.empty(len(envs), dtype=bool)
        try:  # one handler for the whole group: this loop is the environment's hot path
            for i, (env, action) in enumerate(zip(envs, actions, strict=True)):
                observation, rewards[i], terminated[i], truncated[i], info = env.step(action)
                observations.append(observation)
                infos.append(
                    {name: info_number(info.get(name)) for name in names}
                    if names and isinstance(info, dict)
                    else {}
                )
        except Exception as exc:
            raise self._failure(exc, "step") from exc
        return {
            "type": "env_steps",
            "observations": self._call(encode_batch, "step", observations, self.observation_space),
            "rewards": encode_array(rewards),
            "terminated": encode_array(terminated),
            "truncated": encode_array(truncated),
            "infos": infos,
        }

    def render(self, index: object) -> dict[str, Any] | str:
        if not self.render_mode:
            raise EnvironmentFailure("the evaluator asked for a frame, but rendering is off")
        env = self._env(index)
        frame = self._call(env.render, "render")
        if self.render_mode == "ansi":
            return self._call(lambda: str(frame)[:MAX_TEXT_FRAME_CHARS], "render")
        return self._call(lambda: encode_array(np.asarray(frame)), "render")

    def check(self) -> list[str]:
        from gymnasium.utils.env_checker import check_env

        env = self._make()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self._call(check_env, "check_env", env.unwrapped, skip_render_check=True)
        env.close()
        return [str(w.message).splitlines()[0][:300] for w in caught][:50]

    def _call(self, fn: Any, where: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except EnvironmentFailure:
            raise
        except Exception as exc:
            raise self._failure(exc, where) from exc

    def _failure(self, exc: Exception, where: str) -> EnvironmentFailure:
        frames = traceback.extract_tb(exc.__traceback__)
        own = [
            f
            for f in frames
            if Path(f.filename).is_absolute()  # not <frozen ...>, which cwd would resolve
            and Path(f.filename).resolve().is_relative_to(self.bundle)
        ]
        location = f" ({Path(own[-1].filename).name}, line {own[-1].lineno})" if own else ""
        text = str(exc).splitlines()[0] if str(exc) else ""
        summary = f"the environment raised {type(exc).__name__} in {where}{location}: {text}"
        tb = "".join(traceback.format_exception(exc))[-MAX_TRACEBACK_CHARS:]
        return EnvironmentFailure(summary.rstrip(": ")[:500], tb)


def _fps(value: Any) -> float:
    try:
        fps = float(value)
    except (TypeError, ValueError, OverflowError):
        return 0.0
    return fps if math.isfinite(fps) else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True, help="the evaluator's Unix socket")
    parser.add_argument("--bundle", required=True, type=Path, help="the challenge bundle folder")
    args = parser.parse_args(argv)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(args.socket)
    conn = Connection(sock)
    runtime = Runtime(conn, args.bundle)
    try:
        runtime.start()
        runtime.serve()
    except (EnvironmentFailure, ProtocolError) as failure:
        message = str(failure.args[0]) if failure.args else type(failure).__name__
        tb = str(failure.args[1]) if len(failure.args) > 1 else ""
        print(tb or message, file=sys.stderr)
        with contextlib.suppress(OSError, PeerClosed):
            conn.send({"type": "error", "message": message, "traceback": tb})
        return 1
    except PeerClosed:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
