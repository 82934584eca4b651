"""Challenge specs: the YAML an organizer writes, checked field by field on load.

A challenge names a Gymnasium environment and the rules to score agents on it::

    id: cartpole                     # lowercase letters, digits and '-'
    title: Balance the pole
    description: |                   # Markdown
      Keep the pole upright for 500 steps.
    environment:
      id: CartPole-v1                # a registered Gymnasium id, or module:Env-vN
      kwargs: {}                     # passed to gymnasium.make (or to the class)
      max_episode_steps: 500         # optional; the registered limit otherwise
      # or, in a bundle (challenge.yaml beside the environment's code):
      # entry_point: corridor:Corridor   # module:Class, relative to the bundle's top folder
      # private: true                    # the bundle's code is never served to participants
    phases:
      - id: dev
        visibility: public           # seeds and results public
        episodes: 100
        seeds: fresh                 # the default: drawn anew for every submission
      - id: test
        visibility: hidden           # seeds and leaderboard hidden until revealed
        episodes: 500
        seeds: secret                # derived from the platform's secret
        start: 2026-12-01T00:00:00Z  # optional
        end: 2027-01-31T23:59:59Z    # optional
    limits:
      step_timeout: 1s               # per action
      startup_timeout: 60s           # to import and build the agent
      episode_timeout: 5m
      evaluation_timeout: 1h
      memory: 1GiB
      cpus: 1
    metrics:
      primary: mean_return           # see METRICS, or mean_x for an x listed in info
      higher_is_better: true
      success: truncated             # terminated | truncated | info | {min_return: X}
      info: [gold, nll]              # optional: numbers the environment puts in the info of an
                                     # episode's last step; each x gives the metric mean_x
      tie_breaker: std_return        # or {metric: X, higher_is_better: B}; default std_return,
                                     # lower is better (the steadier of two equal agents wins)
      report: [mean_return, std_return, success_rate, mean_length, mean_gold]
                                     # an entry may be {metric: X, title: T, better: B}, B one
                                     # of higher, lower, neither: how boards label its column
    quotas:
      per_day: 10                    # leave out for no limit
      total: 200
    runtime:
      packages: [stable-baselines3==2.9.2]
                                     # optional: wheels the platform installs into the image
                                     # the agents (and a bundle's environment) run in, beside
                                     # numpy, gymnasium, msgpack and torch; resolved when the
                                     # challenge is created or updated, never at evaluation

Seeds. ``fresh`` (the default of public phases): the platform draws each submission's
seeds from its secret and the submission, and publishes them with the result, so the
participant can replay every episode (``aigc evaluate --seeds ...``) but no agent can know
them while it plays; on a participant's machine they come from a public development key,
the same everywhere. ``{first: N}`` or a list: fixed seeds, the same for every submission
(the platform plays them in an order of each submission's own). Fixed seeds let anyone
reproduce a board's scores exactly, but an agent that knows them can rebuild the
environment's random stream and plan around every random event it has not yet seen
(slips on ice, engine noise, unobserved terrain): choose them only for environments whose
randomness the agent observes anyway (CartPole, Taxi, Acrobot, ...). ``secret``: derived
from the platform's secret, the same for every submission; for hidden phases.

Every error is a :class:`SpecError` whose one line names the field and the fix.
"""

from __future__ import annotations

import difflib
import hashlib
import hmac
import importlib
import json
import math
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import gymnasium as gym
import yaml

from aigc.extras import MissingExtra
from aigc.submissions.metrics import INFO_PREFIX, METRICS, MetricsSpec, info_metric

T = TypeVar("T")
Visibility = Literal["public", "hidden"]

SUCCESS_RULES = ("terminated", "truncated", "info")
_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_ENTRY_POINT = re.compile(r"[A-Za-z_]\w{0,63}(\.[A-Za-z_]\w{0,63}){0,7}:[A-Za-z_]\w{0,63}")
# A requirement as pip reads it, without URLs, markers or options: name, extras, versions.
_VERSION_CLAUSE = r"(?:===?|>=|<=|~=|!=|<|>)\s*[A-Za-z0-9.*+!_-]{1,64}"
_REQUIREMENT = re.compile(
    rf"[A-Za-z0-9](?:[A-Za-z0-9._-]{{0,98}}[A-Za-z0-9])?(?:\[[A-Za-z0-9._,-]{{1,100}}\])?"
    rf"\s*(?:{_VERSION_CLAUSE}(?:\s*,\s*{_VERSION_CLAUSE}){{0,3}})?",
    re.ASCII,
)
MAX_RUNTIME_PACKAGES = 32
_INFO_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|hr)?")
_SIZE_UNITS = {"b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_DURATION_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
}


_REQUIRED = object()
# Fresh seeds on a participant's own machine, where the platform's secret is not: public, so
# that a local run repeats and says nothing about the seeds the platform draws.
DEVELOPMENT_KEY = b"aigc-development-seeds"
SeedRule = Literal["fixed", "fresh", "secret"]


class SpecError(ValueError):
    """A challenge spec that cannot be used; the message names the field and the fix."""


@dataclass(frozen=True)
class EnvironmentSpec:
    """The environment: a registered id, or an entry point in the challenge's bundle.

    ``id`` is what pages show: the Gymnasium id, or the entry point of a bundle's
    environment (then ``entry_point`` is set too).
    """

    id: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    max_episode_steps: int | None = None
    entry_point: str | None = None
    private: bool = False  # a bundle's code the platform never serves to participants

    @property
    def in_bundle(self) -> bool:
        """Whether the environment is the organizer's own code, shipped in the bundle."""
        return self.entry_point is not None

    def make(self, bundle: Path | None = None) -> gym.Env:
        """Create the environment in this process (evaluator side only).

        A bundle's environment is the organizer's code: on the platform it runs in a
        sandbox of its own (:mod:`aigc.submissions.environment_host`); building it here
        from ``bundle`` is for trusted code on one's own machine.
        """
        if self.entry_point is not None:
            if bundle is None:
                raise SpecError(
                    f"the environment {self.entry_point} is in the challenge's bundle: "
                    "give the bundle's folder"
                )
            from aigc.submissions.environment_runtime import make_environment

            return make_environment(
                bundle, self.entry_point, dict(self.kwargs), self.max_episode_steps
            )
        kwargs: dict[str, Any] = dict(self.kwargs)
        if self.max_episode_steps is not None:
            kwargs["max_episode_steps"] = self.max_episode_steps
        return gym.make(self.id, **kwargs)


@dataclass(frozen=True)
class Phase:
    id: str
    title: str
    visibility: Visibility
    episodes: int
    seed_list: tuple[int, ...] | None = None
    first_seed: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    fresh_seeds: bool = False

    @property
    def seed_rule(self) -> SeedRule:
        """How the phase's seeds are chosen: fixed, fresh for every evaluation, or secret."""
        if self.seed_list is not None or self.first_seed is not None:
            return "fixed"
        return "fresh" if self.fresh_seeds else "secret"

    @property
    def seeds_hidden(self) -> bool:
        return self.seed_rule == "secret"

    def seeds(
        self,
        challenge_id: str,
        count: int | None = None,
        secret: bytes | None = None,
        evaluation: str | None = None,
    ) -> list[int]:
        """Return the seeds of one evaluation, in the order it plays them.

        ``count`` takes the first N (all of the phase's episodes by default). ``evaluation``
        names one evaluation (the platform passes the submission); with ``secret`` it
        decides a fresh phase's seeds and the order in which fixed and secret seeds are
        played, so that neither the seeds nor their order can be known by the agent.
        """
        count = self.episodes if count is None else count
        if count < 1:
            raise SpecError(f"asked for {count} episodes: ask for at least 1")
        rule = self.seed_rule
        if rule == "fresh":
            key, name = (
                (secret, f"{self.id}/{evaluation}")
                if secret is not None and evaluation is not None
                else (DEVELOPMENT_KEY, self.id)
            )
            return [derive_seed(key, challenge_id, name, i) for i in range(count)]
        total = max(count, self.episodes)
        if rule == "fixed":
            seeds = self._fixed(count if evaluation is None else total)
        elif secret is None:
            raise SpecError(
                f"phase {self.id!r} of {challenge_id!r} has hidden seeds that only the platform "
                "knows: evaluate on a public phase (e.g. --phase dev)"
            )
        else:
            seeds = [derive_seed(secret, challenge_id, self.id, i) for i in range(total)]
        if evaluation is not None and secret is not None:
            order = hmac.new(
                secret, f"{challenge_id}/{self.id}/order/{evaluation}".encode(), hashlib.sha256
            )
            random.Random(order.digest()).shuffle(seeds)
        return seeds[:count]

    def _fixed(self, count: int) -> list[int]:
        if self.seed_list is not None:
            listed = len(self.seed_list)
            if count > listed:
                raise SpecError(
                    f"phase {self.id!r} lists {listed} seed{'s' if listed > 1 else ''}: "
                    f"ask for at most {listed} episode{'s' if listed > 1 else ''}"
                )
            return list(self.seed_list[:count])
        assert self.first_seed is not None
        return list(range(self.first_seed, self.first_seed + count))


def derive_seed(secret: bytes, challenge_id: str, phase_id: str, index: int) -> int:
    """Derive the index-th hidden seed of a phase from the platform's secret."""
    digest = hmac.new(secret, f"{challenge_id}/{phase_id}/{index}".encode(), hashlib.sha256)
    return int.from_bytes(digest.digest()[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class Limits:
    step_timeout: float = 1.0
    startup_timeout: float = 60.0
    episode_timeout: float = 300.0
    evaluation_timeout: float = 3600.0
    memory_bytes: int = 2 * 2**30
    cpus: float = 1.0


@dataclass(frozen=True)
class Quotas:
    per_day: int | None = None
    total: int | None = None


@dataclass(frozen=True)
class Runtime:
    """Packages the organizer adds to the image agents run in (pip requirements)."""

    packages: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChallengeSpec:
    id: str
    title: str
    description: str
    environment: EnvironmentSpec
    phases: tuple[Phase, ...]
    limits: Limits = Limits()
    metrics: MetricsSpec = field(default_factory=MetricsSpec)
    quotas: Quotas = Quotas()
    runtime: Runtime = Runtime()

    def phase(self, phase_id: str) -> Phase:
        """Return the phase with this id."""
        for phase in self.phases:
            if phase.id == phase_id:
                return phase
        ids = ", ".join(p.id for p in self.phases)
        raise SpecError(f"challenge {self.id!r} has no phase {phase_id!r}: choose one of {ids}")


class _Fields:
    """Reads one mapping of the spec; unknown keys are refused before anything is read."""

    def __init__(self, data: object, path: str, known: tuple[str, ...]):
        if not isinstance(data, dict):
            raise SpecError(
                f"{path or 'the spec'}: expected a mapping of fields, got {_kind(data)}"
            )
        self.data, self.path = data, path
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = (
                    f"did you mean {close[0]!r}?" if close else f"known fields: {', '.join(known)}"
                )
                raise SpecError(f"{self.name(str(key))} is not a known field: {hint}")

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, kind: Callable[[str, Any], T], default: Any = _REQUIRED) -> T:
        value = self.data.get(key)
        if value is None:
            if default is _REQUIRED:
                raise SpecError(f"{self.name(key)} is missing: add it")
            return default
        return kind(self.name(key), value)


def _kind(value: object) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"[:80]


def _str(path: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"{path}: expected text, got {_kind(value)}")
    return value


def _text(path: str, value: Any) -> str:
    if not isinstance(value, str):
        raise SpecError(f"{path}: expected text (Markdown), got {_kind(value)}")
    return value


def _identifier(path: str, value: Any) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise SpecError(
            f"{path}: {value!r} must be 1 to 63 lowercase letters, digits and '-', e.g. cartpole"
        )
    return value


def _int(minimum: int) -> Callable[[str, Any], int]:
    def read(path: str, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise SpecError(
                f"{path}: expected a whole number of at least {minimum}, got {_kind(value)}"
            )
        return value

    return read


def _bool(path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"{path}: expected true or false, got {_kind(value)}")
    return value


def _real(path: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SpecError(f"{path}: expected a number, got {_kind(value)}")
    return float(value)


def _positive(path: str, value: Any) -> float:
    number = _real(path, value)
    if number <= 0:
        raise SpecError(f"{path}: must be more than 0, got {value!r}")
    return number


def _duration(path: str, value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _positive(path, value)
    match = _DURATION.fullmatch(value.strip().lower()) if isinstance(value, str) else None
    if not match:
        raise SpecError(
            f"{path}: {value!r} is not a duration: write seconds or e.g. 500ms, 30s, 5m, 1h"
        )
    return _positive(path, float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"])


def _size(path: str, value: Any) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(_positive(path, value))
    match = _SIZE.fullmatch(value.strip().lower()) if isinstance(value, str) else None
    if not match:
        raise SpecError(f"{path}: {value!r} is not a size: write e.g. 512MiB or 2GiB")
    number, unit = float(match.group(1)), match.group(2) or "b"
    factor = 1024 ** ("kmgt".index(unit[0]) + 1) if "i" in unit else _SIZE_UNITS[unit[0]]
    return int(_positive(path, number * factor))


def _when(path: str, value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise SpecError(
                f"{path}: {value!r} is not a date: write e.g. 2026-12-01T00:00:00Z"
            ) from None
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise SpecError(f"{path}: expected a date, e.g. 2026-12-01T00:00:00Z, got {_kind(value)}")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _choice(options: tuple[str, ...], extra: str = "") -> Callable[[str, Any], str]:
    def read(path: str, value: Any) -> str:
        if value not in options:
            raise SpecError(
                f"{path}: {value!r} is not allowed: use one of {', '.join(options)}{extra}"
            )
        return value

    return read


def _mapping(path: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise SpecError(f"{path}: expected a mapping of keyword arguments, got {_kind(value)}")
    return dict(value)


def _environment(
    path: str, value: Any, build: bool = True, bundle: Path | None = None
) -> EnvironmentSpec:
    fields = _Fields(value, path, ("id", "entry_point", "kwargs", "max_episode_steps", "private"))
    kwargs = fields.get("kwargs", _mapping, default={})
    max_steps = fields.get("max_episode_steps", _int(1), default=None)
    private = fields.get("private", _bool, default=False)
    if fields.data.get("entry_point") is None:
        if private:
            raise SpecError(
                f"{fields.name('private')}: only an environment of a bundle (entry_point) can be "
                "private; a registered one is installed for everyone: leave private out"
            )
        spec = EnvironmentSpec(
            id=fields.get("id", _str), kwargs=kwargs, max_episode_steps=max_steps
        )
    elif fields.data.get("id") is not None:
        raise SpecError(
            f"{path}: give either id (a registered environment) or entry_point (one in the "
            "bundle), not both"
        )
    else:
        entry_point = fields.get("entry_point", _entry_point)
        try:
            json.dumps(kwargs, allow_nan=False)
        except (TypeError, ValueError):
            raise SpecError(
                f"{path}.kwargs: an entry point's arguments must be plain numbers, text, "
                "lists and mappings (they travel to its sandbox as JSON)"
            ) from None
        spec = EnvironmentSpec(
            entry_point, kwargs, max_steps, entry_point=entry_point, private=private
        )
        if build:
            _check_in_bundle(f"{path}.entry_point", entry_point, bundle)
        return spec
    if build:
        check_environment(spec, path)
    return spec


def _entry_point(path: str, value: Any) -> str:
    if not isinstance(value, str) or not _ENTRY_POINT.fullmatch(value):
        raise SpecError(
            f"{path}: {value!r} is not module:Class: write e.g. corridor:Corridor for the class "
            "Corridor in corridor.py at the bundle's top"
        )
    return value


def _check_in_bundle(path: str, entry_point: str, bundle: Path | None) -> None:
    """Check the entry point's module is a file of the bundle (it is imported in its sandbox)."""
    module = entry_point.partition(":")[0]
    if bundle is None:
        raise SpecError(
            f"{path}: {entry_point} names the organizer's own code: put challenge.yaml and "
            f"{module.replace('.', '/')}.py in one folder and give that folder or its "
            ".zip/.tar.gz (a challenge bundle)"
        )
    relative = Path(*module.split("."))
    candidates = (bundle / relative.with_suffix(".py"), bundle / relative / "__init__.py")
    if not any(c.is_file() for c in candidates):
        raise SpecError(
            f"{path}: the bundle has no {relative.with_suffix('.py')} for {entry_point}: "
            "put the module beside challenge.yaml"
        )


def check_environment(spec: EnvironmentSpec, path: str = "environment") -> None:
    """Build the environment once, so a bad id or bad kwargs are reported now.

    An environment of a bundle is not built here: it is the organizer's code, built only
    in its own sandbox (``aigc challenge check``).
    """
    import aigc.envs  # noqa: F401  (the platform's own environments register on import)

    if spec.in_bundle:
        return
    env_id = spec.id
    module, colon, _ = env_id.rpartition(":")
    if colon:  # Gymnasium's module:Env-vN: the module registers the environment on import
        try:
            importlib.import_module(module)
        except Exception as exc:
            raise SpecError(
                f"{path}.id: the module {module!r} of {env_id!r} cannot be imported here "
                f"({type(exc).__name__}): install it on the platform, or ship the environment "
                "in a bundle with entry_point"
            ) from None
        env_id = env_id[len(module) + 1 :]
    if env_id not in gym.envs.registry:
        close = difflib.get_close_matches(env_id, list(gym.envs.registry), n=1)
        hint = f"did you mean {close[0]!r}?" if close else "use an id from gymnasium.envs.registry"
        raise SpecError(f"{path}.id: {env_id!r} is not a registered Gymnasium environment; {hint}")
    try:  # Build it once, so bad kwargs are reported now and not at the first evaluation.
        spec.make().close()
    except MissingExtra:
        raise  # its one line names the install that is missing, not the kwargs
    except Exception as exc:
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise SpecError(
            f"{path}.kwargs: {env_id} cannot be made with these arguments ({detail})"
        ) from None


def _seeds(path: str, value: Any, episodes: int) -> tuple[tuple[int, ...] | None, int | None]:
    if value == "fresh":
        return None, None
    if isinstance(value, list):
        seed_list = tuple(_int(0)(f"{path}[{i}]", s) for i, s in enumerate(value))
        if len(seed_list) < episodes:
            raise SpecError(
                f"{path}: {len(seed_list)} seeds for {episodes} episodes: list one seed per episode"
            )
        return seed_list, None
    if isinstance(value, dict):
        return None, _Fields(value, path, ("first",)).get("first", _int(0))
    if value != "secret":
        raise SpecError(
            f"{path}: expected a list of seeds, {{first: N}} or 'secret' (or 'fresh' on a "
            f"public phase), got {_kind(value)}"
        )
    return None, None


def _phase(path: str, value: Any) -> Phase:
    fields = _Fields(
        value, path, ("id", "title", "visibility", "episodes", "seeds", "start", "end")
    )
    phase_id = fields.get("id", _identifier)
    visibility = fields.get("visibility", _choice(("public", "hidden")), default="public")
    episodes = fields.get("episodes", _int(1))
    rule = fields.get("seeds", lambda p, v: v, default="fresh" if visibility == "public" else None)
    if rule is None:
        raise SpecError(f"{fields.name('seeds')} is missing: add it (secret, for a hidden phase)")
    seed_list, first = _seeds(fields.name("seeds"), rule, episodes)
    if visibility == "public" and rule == "secret":
        raise SpecError(
            f"{fields.name('seeds')}: a public phase needs seeds participants can see: "
            "use fresh (the default), a list or {first: N}"
        )
    if visibility == "hidden" and rule == "fresh":
        raise SpecError(
            f"{fields.name('seeds')}: a hidden phase's seeds are the same for every submission: "
            "use secret"
        )
    start, end = fields.get("start", _when, default=None), fields.get("end", _when, default=None)
    if start and end and end <= start:
        raise SpecError(
            f"{path}.end: {end.isoformat()} is not after start {start.isoformat()}: fix the dates"
        )
    title = fields.get("title", _str, default=phase_id)
    return Phase(
        phase_id,
        title,
        cast(Visibility, visibility),
        episodes,
        seed_list,
        first,
        start,
        end,
        fresh_seeds=rule == "fresh",
    )


def _limits(path: str, value: Any) -> Limits:
    names = (
        "step_timeout",
        "startup_timeout",
        "episode_timeout",
        "evaluation_timeout",
        "memory",
        "cpus",
    )
    fields, default = _Fields(value, path, names), Limits()
    limits = Limits(
        step_timeout=fields.get("step_timeout", _duration, default=default.step_timeout),
        startup_timeout=fields.get("startup_timeout", _duration, default=default.startup_timeout),
        episode_timeout=fields.get("episode_timeout", _duration, default=default.episode_timeout),
        evaluation_timeout=fields.get(
            "evaluation_timeout", _duration, default=default.evaluation_timeout
        ),
        memory_bytes=fields.get("memory", _size, default=default.memory_bytes),
        cpus=fields.get("cpus", _positive, default=default.cpus),
    )
    if limits.memory_bytes < 64 * 2**20:
        raise SpecError(f"{path}.memory: below 64MiB no Python agent starts: allow at least 64MiB")
    return limits


def _metrics(path: str, value: Any) -> MetricsSpec:
    fields = _Fields(
        value, path, ("primary", "higher_is_better", "success", "info", "report", "tie_breaker")
    )
    default = MetricsSpec()
    info = _info(fields.name("info"), fields.get("info", lambda p, v: v, default=[]))
    names = MetricsSpec(info=info).names
    primary = fields.get("primary", _metric(names), default=default.primary)
    higher = fields.get("higher_is_better", _bool, default=default.higher_is_better)
    success, min_return = fields.get("success", lambda p, v: v, default=None), None
    success_path, report_path = fields.name("success"), fields.name("report")
    if isinstance(success, dict):
        min_return = _Fields(success, success_path, ("min_return",)).get("min_return", _real)
        success = "min_return"
    elif success is not None:
        success = _choice(SUCCESS_RULES, " or {min_return: X}")(success_path, success)
    report = fields.get("report", lambda p, v: v, default=list(default.report))
    if not isinstance(report, list):
        raise SpecError(
            f"{report_path}: expected a list of metrics, e.g. [mean_return, std_return]"
        )
    entries = [_reported(names)(f"{report_path}[{i}]", m) for i, m in enumerate(report)]
    report = [name for name, _, _ in entries]
    if primary not in report:
        report.insert(0, primary)
    if "success_rate" in report and success is None:
        raise SpecError(
            f"{success_path}: success_rate needs a definition of success: "
            "set it to terminated, truncated, info or {min_return: X}"
        )
    tie, tie_higher = _tie_breaker(
        fields.name("tie_breaker"),
        fields.get("tie_breaker", lambda p, v: v, default=None),
        primary,
        names,
    )
    spec = MetricsSpec(
        primary,
        higher,
        success,
        min_return,
        tuple(dict.fromkeys(report)),
        tie,
        tie_higher,
        info=info,
    )
    shown: dict[str, tuple[str, str, bool | None]] = {}
    for i, (name, title, better) in enumerate(entries):
        if title is None and better is _DEFAULT:
            continue
        where = f"{report_path}[{i}]"
        if name in shown:
            raise SpecError(f"{where}: {name} is given twice: list each metric once")
        shown_by_default = spec.show(name)
        direction = shown_by_default.higher_is_better if better is _DEFAULT else better
        for ruled, rule, field_name in (
            (primary, higher, "higher_is_better"),
            (tie, tie_higher, "tie_breaker"),
        ):
            if name == ruled and direction != rule:
                raise SpecError(
                    f"{where}.better: {name} is ranked with {fields.name(field_name)}, "
                    f"which says {'higher' if rule else 'lower'} is better: leave better out"
                )
        shown[name] = (name, title or shown_by_default.title, direction)
    return spec.with_shown(list(shown.values()))


_DEFAULT: Any = object()  # a reported metric whose direction the spec does not give
_BETTER = {"higher": True, "lower": False, "neither": None}
TITLE_CHARS = 40


def _reported(names: tuple[str, ...]) -> Callable[[str, Any], tuple[str, str | None, Any]]:
    """Read one entry of metrics.report: a name, or {metric, title, better}."""
    read_metric = _metric(names)

    def read(path: str, value: Any) -> tuple[str, str | None, Any]:
        if not isinstance(value, dict):
            return read_metric(path, value), None, _DEFAULT
        fields = _Fields(value, path, ("metric", "title", "better"))
        name = fields.get("metric", read_metric)
        title = fields.get("title", _metric_title, default=None)
        better = fields.get("better", _choice(tuple(_BETTER), ""), default=None)
        return name, title, _DEFAULT if better is None else _BETTER[better]

    return read


def _metric_title(path: str, value: Any) -> str:
    title = " ".join(_str(path, value).split())
    if len(title) > TITLE_CHARS or not title.isprintable():
        raise SpecError(
            f"{path}: a metric's title is one line of at most {TITLE_CHARS} printable "
            "characters, e.g. 'Gold judge'"
        )
    return title


def _info(path: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise SpecError(
            f"{path}: expected a list of the names the environment puts in the info of an "
            "episode's last step, e.g. [gold, nll]"
        )
    names: list[str] = []
    for i, name in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(name, str) or not _INFO_NAME.fullmatch(name):
            raise SpecError(
                f"{where}: {name!r} must start with a lowercase letter, then up to 31 lowercase "
                "letters, digits or '_' (the key in the environment's info), e.g. gold"
            )
        if info_metric(name) in METRICS:
            raise SpecError(
                f"{where}: {info_metric(name)} is a built-in metric computed from the episode "
                f"itself: leave {name} out of {path}"
            )
        if name in names:
            raise SpecError(f"{where}: {name!r} is listed twice: list each name once")
        names.append(name)
    return tuple(names)


def _metric(names: tuple[str, ...]) -> Callable[[str, Any], str]:
    """Read a metric name: one of ``names``, or say how to declare mean_x or fix a typo."""
    choose = _choice(names, ", or mean_x for a number x listed in metrics.info")

    def read(path: str, value: Any) -> str:
        if value in names or not isinstance(value, str) or not value.startswith(INFO_PREFIX):
            return choose(path, value)
        x = value.removeprefix(INFO_PREFIX)
        if not _INFO_NAME.fullmatch(x):
            return choose(path, value)
        close = difflib.get_close_matches(value, names, n=1, cutoff=0.85)
        if close:
            raise SpecError(
                f"{path}: {value!r} is not a metric: did you mean {close[0]!r}? Or, for the "
                f"mean of the number {x!r} in the environment's final info, add {x} to metrics.info"
            )
        raise SpecError(
            f"{path}: {value!r} is the mean of {x!r} from the info of each episode's last step, "
            f"which is not declared: add {x} to metrics.info"
        )

    return read


def _tie_breaker(
    path: str, value: Any, primary: str, names: tuple[str, ...]
) -> tuple[str | None, bool]:
    if value is None:
        default = MetricsSpec()
        if primary == default.tie_breaker:
            return None, False
        return default.tie_breaker, default.tie_breaker_higher_is_better
    if isinstance(value, dict):
        fields = _Fields(value, path, ("metric", "higher_is_better"))
        metric = fields.get("metric", _metric(names))
        return metric, fields.get("higher_is_better", _bool, default=metric != "std_return")
    metric = _metric(names)(path, value)
    return metric, metric != "std_return"


def _quotas(path: str, value: Any) -> Quotas:
    fields = _Fields(value, path, ("per_day", "total"))
    return Quotas(
        per_day=fields.get("per_day", _int(1), default=None),
        total=fields.get("total", _int(1), default=None),
    )


def _requirement(path: str, value: Any) -> str:
    text = _str(path, value).strip()
    if not _REQUIREMENT.fullmatch(text):
        raise SpecError(
            f"{path}: {text[:80]!r} is not a package requirement: write a name and, best, "
            "its version, e.g. stable-baselines3==2.9.2 (no URLs, paths or pip options)"
        )
    return text


def _runtime(path: str, value: Any) -> Runtime:
    fields = _Fields(value, path, ("packages",))
    packages = fields.data.get("packages")
    if packages is None:
        return Runtime()
    where = fields.name("packages")
    if not isinstance(packages, list):
        raise SpecError(f"{where}: expected a list of requirements, e.g. [stable-baselines3]")
    if len(packages) > MAX_RUNTIME_PACKAGES:
        raise SpecError(
            f"{where}: {len(packages)} packages, at most {MAX_RUNTIME_PACKAGES}: list only what "
            "agents import (their dependencies come with them)"
        )
    found = tuple(_requirement(f"{where}[{i}]", p) for i, p in enumerate(packages))
    # Compared as pip compares names: case, '-', '_' and '.' alike.
    names = [
        re.sub(r"[-_.]+", "-", re.split(r"[\s\[=<>!~]", p, maxsplit=1)[0]).lower() for p in found
    ]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise SpecError(f"{where}: {duplicate} is listed twice: keep one requirement for it")
    return Runtime(found)


def _phases(path: str, value: Any) -> tuple[Phase, ...]:
    if not isinstance(value, list) or not value:
        raise SpecError(f"{path}: expected a list with at least one phase (e.g. id: dev)")
    phases = tuple(_phase(f"{path}[{i}]", p) for i, p in enumerate(value))
    ids = [p.id for p in phases]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate:
        raise SpecError(f"{path}: the id {duplicate!r} is used twice: give each phase its own id")
    return phases


def parse_challenge(
    data: object, build_environment: bool = True, bundle: Path | None = None
) -> ChallengeSpec:
    """Check a parsed YAML document and build the spec.

    ``build_environment=False`` reads a spec that was checked before (one the platform
    stored) without building its environment: one that cannot be built any more still
    reads, and :func:`check_environment` says why it is unavailable. ``bundle`` is the
    folder of a challenge bundle, where an ``entry_point`` module must be.
    """
    known = (
        "id",
        "title",
        "description",
        "environment",
        "phases",
        "limits",
        "metrics",
        "quotas",
        "runtime",
    )
    fields = _Fields(data, "", known)
    return ChallengeSpec(
        id=fields.get("id", _identifier),
        title=fields.get("title", _str),
        description=fields.get("description", _text, default=""),
        environment=fields.get(
            "environment", lambda p, v: _environment(p, v, build_environment, bundle)
        ),
        phases=fields.get("phases", _phases),
        limits=fields.get("limits", _limits, default=Limits()),
        metrics=fields.get("metrics", _metrics, default=MetricsSpec()),
        quotas=fields.get("quotas", _quotas, default=Quotas()),
        runtime=fields.get("runtime", _runtime, default=Runtime()),
    )


def parse_challenge_yaml(
    text: str, build_environment: bool = True, bundle: Path | None = None
) -> ChallengeSpec:
    """Parse and check a spec from YAML text."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise SpecError(f"the spec is not valid YAML{where}: fix the syntax there") from None
    return parse_challenge(data, build_environment, bundle)


def load_challenge(path: Path) -> ChallengeSpec:
    """Load and check a spec from a YAML file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read {path} ({exc.strerror}): check the path") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path} is not UTF-8 text: save it as UTF-8") from None
    return parse_challenge_yaml(text)


def builtin_challenge_ids() -> list[str]:
    """Return the ids of the challenges shipped with the platform."""
    folder = resources.files("aigc.submissions") / "challenges"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def builtin_challenges() -> Iterator[ChallengeSpec]:
    """Load every built-in challenge."""
    for challenge_id in builtin_challenge_ids():
        yield get_challenge(challenge_id)


def get_challenge(id_or_path: str | Path) -> ChallengeSpec:
    """Return a built-in challenge by id, or load a spec from a YAML file path."""
    text = str(id_or_path)
    if text.endswith((".yaml", ".yml")) or Path(text).is_file():
        return load_challenge(Path(text))
    resource = resources.files("aigc.submissions") / "challenges" / f"{text}.yaml"
    if not resource.is_file():
        known = builtin_challenge_ids()
        close = difflib.get_close_matches(text, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise SpecError(
            f"unknown challenge {text!r}: {hint}built-in challenges are {', '.join(known)}; "
            "or give the path of a challenge YAML file"
        )
    return parse_challenge_yaml(resource.read_text(encoding="utf-8"))
