"""The agent runtime: runs inside the sandbox, loads the participant's agent, answers the evaluator.

Started as ``python -m aigc.submissions.agent_runtime --socket PATH --package DIR``. It
connects to the evaluator's socket, waits for ``hello``, builds the agent, then answers
``act`` messages until ``close``. Started before its evaluation exists (a warm container of
:mod:`aigc.submissions.warm_pool`, whose socket is not there yet), it first imports what
agents use (numpy, gymnasium, msgpack, and torch when ``RUNTIME_PRELOAD`` says so,
for a package that declares that framework), touches nothing under the package folder,
writes nothing, and waits for the socket to appear; from then on it runs exactly as one
started at that moment. Anything the agent raises is sent back
as an ``error`` message (with the agent's own traceback) and the runtime exits with
status 1.

This process is on the untrusted side: it holds nothing but the agent package. The
evaluator trusts nothing it sends and checks every action itself.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import io
import os
import random
import socket
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from aigc.submissions.package import PackageError, load_agent_class, read_manifest, runtime_holds
from aigc.submissions.protocol import (
    ALLOWED_DTYPES,
    EVALUATOR_MESSAGES,
    PROTOCOL_VERSION,
    Connection,
    PeerClosed,
    encode_array,
)
from aigc.submissions.spaces import decode_batch, decode_space, unbatch

if TYPE_CHECKING:  # the sandbox's image carries no more than the runtime needs to run
    from aigc.submissions.agent import Agent, BatchAgent, ResettableAgent

MAX_TRACEBACK_CHARS = 4000
CLAIM_POLL = 0.002  # seconds between looks for the socket of a warm container's evaluation
# What a warm container imports while it waits; torch only when the package declares it.
PRELOAD = ("numpy", "gymnasium", "msgpack")


class AgentFailure(Exception):
    """The agent raised or returned something unusable; ``str`` is what the participant reads."""

    code: str | None = None  # the failure code the evaluator should report, if not agent_error


class UnusableAction(AgentFailure):
    """The agent returned something that is no action: the evaluator reports invalid_action."""

    code = "invalid_action"


def describe_exception(exc: BaseException, where: str, package_dir: Path) -> tuple[str, str]:
    """Return a one-line summary pointing at the agent's own code, and the traceback."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if Path(f.filename).resolve().is_relative_to(package_dir)]
    location = f" ({Path(own[-1].filename).name}, line {own[-1].lineno})" if own else ""
    text = str(exc).splitlines()[0] if str(exc) else ""
    summary = f"the agent raised {type(exc).__name__} in {where}{location}: {text}".rstrip(": ")
    if isinstance(exc, ModuleNotFoundError):
        summary = (
            f"{summary[:200]}; this runtime holds {runtime_holds()}: vendor pure-Python code "
            "in the package, or ask the challenge's organizer for the package"
        )
    tb = "".join(traceback.format_exception(exc))[-MAX_TRACEBACK_CHARS:]
    return summary[:500], tb


def to_numpy(value: Any) -> np.ndarray:
    """Turn whatever the agent returned (int, list, numpy, torch tensor) into an array.

    Raises UnusableAction for anything that is not numbers of up to 64 bits: an object,
    a ragged list, an integer too large for 64 bits, float128, or a value whose
    ``__array__`` raises.
    """
    try:
        if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
            value = value.detach().cpu().numpy()
        array = np.asarray(value)
    except Exception as exc:  # e.g. a ragged list, or an __array__ that raises
        raise UnusableAction(
            f"the agent returned {_describe(value)}, which is no array ({type(exc).__name__}): "
            "return a number or numeric array from the action space"
        ) from None
    if array.dtype.kind not in "biuf":
        raise UnusableAction(
            f"the agent returned {_describe(value)}: return a number or numeric array "
            "from the action space"
        )
    if array.dtype.str not in ALLOWED_DTYPES:  # float128, complex, ...
        raise UnusableAction(
            f"the agent returned an action of dtype {array.dtype}: return int, float, or an "
            "array of int64 or float32/float64"
        )
    return array


def _describe(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__
        text = "?"
    return f"{type(value).__name__} {text:.60}"


def seed_everything(seed: int, *agent_spaces: Any) -> None:
    """Seed every source of randomness an agent usually draws from."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    for offset, space in enumerate(agent_spaces):
        space.seed(seed + offset)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


class Runtime:
    """Serves one evaluation over a connected socket."""

    def __init__(self, conn: Connection, package_dir: Path):
        self.conn = conn
        self.package_dir = package_dir.resolve()
        self.agent: Agent | BatchAgent | None = None
        self.batched = False

    def start(self) -> None:
        hello = self.conn.recv(EVALUATOR_MESSAGES)
        if hello["type"] != "hello":
            raise AgentFailure(f"expected hello from the evaluator, got {hello['type']}")
        self.observation_space = decode_space(hello["observation_space"])
        self.action_space = decode_space(hello["action_space"])
        manifest = self._call(read_manifest, "aigc.toml", self.package_dir)
        os.chdir(self.package_dir)
        agent_class = self._call(load_agent_class, "import", self.package_dir, manifest)
        # Seed after the import (torch may only now be loaded) and before construction.
        seed_everything(hello["seed"], self.action_space, self.observation_space)
        self.agent = self._call(agent_class, "__init__", self.observation_space, self.action_space)
        self.batched = callable(getattr(self.agent, "act_batch", None))
        self.conn.send(
            {
                "type": "hello",
                "protocol": PROTOCOL_VERSION,
                "name": manifest.name,
                "batched": self.batched,
                "stateful": callable(getattr(self.agent, "reset", None)),
            }
        )

    def serve(self) -> None:
        while True:
            message = self.conn.recv(EVALUATOR_MESSAGES)
            kind = message["type"]
            if kind == "close":
                return
            if kind == "reset":  # only sent to an agent that said it has reset()
                self._call(cast("ResettableAgent", self.agent).reset, "reset")
            elif kind == "act":
                batch = decode_batch(message["observations"], self.observation_space)
                self.conn.send({"type": "action", "actions": encode_array(self.act(batch))})

    def act(self, batch: Any) -> np.ndarray:
        if self.batched:
            agent = cast("BatchAgent", self.agent)
            return to_numpy(self._call(agent.act_batch, "act_batch", batch))
        act = cast("Agent", self.agent).act
        try:
            actions = [act(o) for o in unbatch(batch, self.observation_space)]
        except Exception as exc:
            raise self._failure(exc, "act") from exc
        if set(map(type, actions)) == {int}:  # the usual Discrete answer, checked at once
            with contextlib.suppress(OverflowError):  # an int beyond 64 bits: refused below
                return np.array(actions, dtype=np.int64)
        arrays = [to_numpy(a) for a in actions]
        if len({a.shape for a in arrays}) > 1:
            raise UnusableAction(
                "act returned actions of different shapes: return the same shape every time"
            )
        return np.stack(arrays)

    def _call(self, fn: Any, where: str, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            raise self._failure(exc, where) from exc

    def _failure(self, exc: Exception, where: str) -> AgentFailure:
        if isinstance(exc, AgentFailure):
            return exc
        if isinstance(exc, PackageError):
            return AgentFailure(str(exc))
        summary, tb = describe_exception(exc, where, self.package_dir)
        return AgentFailure(summary, tb)


def wait_for_claim(socket_path: str) -> None:
    """Import what agents use, then wait until the evaluator's socket appears.

    Nothing here reads the package folder or writes a file; whatever the imports print
    is dropped, so the agent's log begins when its evaluation does.
    """
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        extra = ("torch",) if os.environ.get("RUNTIME_PRELOAD") == "torch" else ()
        for name in PRELOAD + extra:
            with contextlib.suppress(Exception):
                if importlib.util.find_spec(name) is not None:
                    importlib.import_module(name)
    while not os.path.exists(socket_path):
        time.sleep(CLAIM_POLL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True, help="the evaluator's Unix socket")
    parser.add_argument("--package", required=True, type=Path, help="the agent package folder")
    args = parser.parse_args(argv)
    if not os.path.lexists(args.socket):  # a warm container: its evaluation comes later
        wait_for_claim(args.socket)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(args.socket)
    conn = Connection(sock)
    runtime = Runtime(conn, args.package)
    try:
        runtime.start()
        runtime.serve()
    except AgentFailure as failure:
        message = failure.args[0]
        tb = failure.args[1] if len(failure.args) > 1 else ""
        print(tb or message, file=sys.stderr)
        error = {"type": "error", "message": message, "traceback": tb}
        if failure.code is not None:
            error["code"] = failure.code
        with contextlib.suppress(OSError, PeerClosed):
            conn.send(error)
        return 1
    except PeerClosed:
        return 0  # the evaluator went away; nothing left to answer
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # No interpreter teardown: with torch loaded it takes a quarter of a second or more of
    # the evaluation's time, and the container goes with the process anyway.
    os._exit(status)
