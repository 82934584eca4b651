"""What the baselines share: settings on the command line, the default settings per challenge,
the environments, the progress bar and learning curve, and writing an agent package.

The algorithms themselves live one per file (``qlearning.py``, ``dqn.py``, ``ppo.py``) and
repeat what CleanRL repeats; only what every one of them does the same way is here.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import importlib
import json
import os
import shutil
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, get_origin, get_type_hints

import gymnasium as gym
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from aigc.dataclass_args import add_options, options_given
from aigc.submissions.agent import Agent, BatchAgent
from aigc.submissions.challenge import get_challenge
from aigc.submissions.package import MANIFEST, load_agent_class, read_manifest

ALGORITHMS = ("qlearning", "dqn", "ppo", "ppo-text")

# The agent programs that packages carry as agent.py, one module per kind of agent.
AGENT_PROGRAMS = Path(__file__).with_name("agents")

# The default settings of each algorithm on each challenge, tuned on a 2-core CPU so that one
# `aigc train ALGO --challenge ID` with them meets the bar in BARS (`aigc evaluate`, dev seeds).
# Anything not named here takes the value in the algorithm's Settings.
DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "qlearning": {
        "frozenlake": {
            "total_steps": 1_000_000,
            "learning_rate": 0.05,
            "end_learning_rate": 0.002,
            "gamma": 0.995,
            "exploration_fraction": 0.5,
            "end_e": 0.05,
        },
        "taxi": {"total_steps": 200_000, "learning_rate": 0.5, "end_learning_rate": 0.1},
        "cliffwalking": {"total_steps": 50_000, "learning_rate": 0.5, "end_learning_rate": 0.1},
    },
    "dqn": {
        # rl-baselines3-zoo's hyperparameters for CartPole-v1 and Acrobot-v1
        # (gradient_steps = train_frequency stands for the zoo's gradient_steps: -1).
        "cartpole": {
            "total_steps": 50_000,
            "learning_rate": 2.3e-3,
            "batch_size": 64,
            "buffer_size": 100_000,
            "learning_starts": 1_000,
            "target_network_frequency": 10,
            "train_frequency": 256,
            "gradient_steps": 128,
            "exploration_fraction": 0.16,
            "end_e": 0.04,
            "hidden_sizes": (256, 256),
            # Not in the zoo: a falling learning rate keeps the last policy from collapsing.
            "anneal_lr": True,
        },
        "acrobot": {
            "total_steps": 50_000,
            "learning_rate": 6.3e-4,
            "batch_size": 128,
            "buffer_size": 50_000,
            "learning_starts": 0,
            "target_network_frequency": 250,
            "train_frequency": 4,
            "gradient_steps": 4,
            "exploration_fraction": 0.12,
            "end_e": 0.1,
            "hidden_sizes": (256, 256),
        },
    },
    "ppo": {
        # Based on rl-baselines3-zoo's hyperparameters: shorter where the bar is met sooner;
        # Pendulum without gSDE but with normalized observations and rewards.
        "cartpole": {
            "total_steps": 100_000,
            "num_envs": 8,
            "num_steps": 32,
            "num_minibatches": 1,
            "update_epochs": 20,
            "learning_rate": 1e-3,
            "gamma": 0.98,
            "gae_lambda": 0.8,
            "ent_coef": 0.0,
            "anneal_clip": True,  # the zoo's clip_range: lin_0.2
            "clip_vloss": False,  # Stable-Baselines3 leaves the value loss unclipped
        },
        "acrobot": {
            "total_steps": 300_000,
            "num_envs": 16,
            "num_steps": 256,
            "num_minibatches": 64,
            "update_epochs": 4,
            "gae_lambda": 0.94,
            "ent_coef": 0.0,
            "norm_obs": True,
        },
        "pendulum": {
            "total_steps": 150_000,
            "num_envs": 4,
            "num_steps": 1024,
            "num_minibatches": 64,
            "update_epochs": 10,
            "learning_rate": 1e-3,
            "gamma": 0.9,
            "ent_coef": 0.0,
            "norm_obs": True,
            "norm_reward": True,
        },
        "lunarlander": {
            # The zoo trains 1M steps; 1.5M reaches the bar with a margin.
            "total_steps": 1_500_000,
            "num_envs": 16,
            "num_steps": 1024,
            "num_minibatches": 256,
            "update_epochs": 4,
            "learning_rate": 3e-4,
            "gamma": 0.999,
            "gae_lambda": 0.98,
            "ent_coef": 0.01,
            # Returns here reach the hundreds: clipping value updates to ±0.2 slows the critic.
            "clip_vloss": False,
        },
    },
}

# What `aigc baselines build` trains for each built-in challenge, in this order.
BASELINES: dict[str, tuple[str, ...]] = {
    "cartpole": ("ppo", "dqn"),
    "frozenlake": ("qlearning",),
    "taxi": ("qlearning",),
    "cliffwalking": ("qlearning",),
    "acrobot": ("ppo", "dqn"),
    "pendulum": ("ppo",),
    "lunarlander": ("ppo",),
    "textgen": ("ppo-text",),
}

# Packages that `aigc baselines build` writes without training, beside the trained ones:
# the reference language model, the policy RLHF starts from and must beat.
REFERENCE_PACKAGES: dict[str, tuple[str, ...]] = {"textgen": ("reference",)}

# The score each default baseline must reach on the dev phase (issue 6, §3).
BARS: dict[tuple[str, str], float] = {
    ("qlearning", "frozenlake"): 0.70,
    ("qlearning", "taxi"): 7.5,
    ("qlearning", "cliffwalking"): -13,
    ("dqn", "cartpole"): 475,
    ("dqn", "acrobot"): -100,
    ("ppo", "cartpole"): 475,
    ("ppo", "acrobot"): -100,
    ("ppo", "pendulum"): -250,
    ("ppo", "lunarlander"): 200,
    # The reference model scores 0.43 (95% CI 0.35-0.51) on the dev prompts: RLHF must lift
    # the reward model's score clearly above that (issue 7).
    ("ppo-text", "textgen"): 1.0,
}


# --- settings ---------------------------------------------------------------------------


class TrainingSettings(Protocol):
    """What the ``Settings`` dataclass of every algorithm has."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]
    challenge: str
    seed: int
    total_steps: int

    def __init__(self, *, challenge: str, **values: Any) -> None: ...


SettingsT = TypeVar("SettingsT", bound=TrainingSettings)


def convert(kind: Any, text: str) -> Any:
    """Read one setting's value from text, for its annotated type."""
    if kind is bool:
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"{text!r} is not true or false")
        return text.lower() in ("true", "1")
    if get_origin(kind) is tuple:
        return tuple(int(part) for part in text.replace(",", " ").split())
    return kind(text)


def settings_for(
    settings_class: type[SettingsT], algorithm: str, challenge: str, **changes: Any
) -> SettingsT:
    """Build the settings of ``algorithm`` on ``challenge``: its defaults there, then changes."""
    values = {**DEFAULTS.get(algorithm, {}).get(challenge, {}), **changes}
    return settings_class(challenge=challenge, **values)


def algorithm_module(algorithm: str) -> Any:
    """The module of an algorithm: ``ppo-text`` is ``aigc.baselines.ppo_text``."""
    return importlib.import_module(f"aigc.baselines.{algorithm.replace('-', '_')}")


def default_settings(algorithm: str, challenge: str, **changes: Any) -> TrainingSettings:
    """The settings ``aigc train ALGORITHM --challenge CHALLENGE`` uses, with changes."""
    module = algorithm_module(algorithm)
    return settings_for(module.Settings, algorithm, challenge, **changes)


def apply_overrides(settings: SettingsT, pairs: Sequence[str]) -> SettingsT:
    """Return ``settings`` with NAME=VALUE pairs applied (names as fields, '-' or '_')."""
    hints = get_type_hints(type(settings))
    changes = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in hints:
            known = ", ".join(f.name for f in dataclasses.fields(settings))
            raise ValueError(f"--set {pair!r}: give NAME=VALUE with NAME one of {known}")
        try:
            changes[name] = convert(hints[name], text.strip())
        except ValueError as exc:
            raise ValueError(f"--set {pair!r}: {exc}") from None
    return dataclasses.replace(settings, **changes)


def parse_settings(
    settings_class: type[SettingsT], algorithm: str, argv: Sequence[str] | None
) -> tuple[SettingsT, Path]:
    """Parse a command line into settings: every field is an option, its docstring the help.

    Options not given take the challenge's defaults (DEFAULTS), then the dataclass's.
    """
    parser = argparse.ArgumentParser(
        prog=f"python -m aigc.baselines.{algorithm}",
        description=(settings_class.__doc__ or "").strip(),
        epilog="Options left out take the challenge's defaults (DEFAULTS in "
        "aigc/baselines/common.py), then the defaults shown.",
    )
    parser.add_argument("--out", type=Path, required=True, help="the agent package folder")
    add_options(parser, settings_class)
    given = options_given(parser.parse_args(argv))
    out = given.pop("out")
    challenge = given.pop("challenge", settings_class.challenge)
    return settings_for(settings_class, algorithm, challenge, **given), out


def flushing_denormals(train: Callable[..., Any]) -> Callable[..., Any]:
    """Run a torch ``train`` function with denormal floats flushed to zero (tiny gradients
    otherwise slow Adam down many times), then set the process back to torch's default:
    the setting is global, and other code (tests of floating point, say) relies on it."""

    @functools.wraps(train)
    def flushed(*args: Any, **kwargs: Any) -> Any:
        import torch

        torch.set_flush_denormal(True)
        try:
            return train(*args, **kwargs)
        finally:
            torch.set_flush_denormal(False)

    return flushed


# --- environments ------------------------------------------------------------------------


def make_env(challenge: str) -> gym.Env:
    """Create one environment exactly as the challenge's evaluation does."""
    return get_challenge(challenge).environment.make()


def make_vector_env(
    challenge: str, num_envs: int
) -> gym.vector.VectorEnv[np.ndarray, np.ndarray, np.ndarray]:
    """Create ``num_envs`` copies side by side; an episode that ends restarts in the same step
    (its last observation is in ``infos["final_obs"]``)."""
    spec = get_challenge(challenge).environment
    return gym.vector.SyncVectorEnv(
        [spec.make for _ in range(num_envs)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )


# --- progress bar and learning curve -----------------------------------------------------


class TrainingLog:
    """Show a progress bar (steps/s, recent episodic return) and keep the learning curve."""

    def __init__(self, total_steps: int, label: str, show: bool = True, window: int = 20) -> None:
        self.total_steps, self.window = total_steps, window
        self.started = time.perf_counter()
        # One row per finished episode: environment steps so far, seconds, return, length.
        self.rows: list[tuple[int, float, float, int]] = []
        self.recent: deque[float] = deque(maxlen=window)
        self.steps = 0
        self.wall_time = 0.0
        self._next_refresh = 0.0
        self._progress: Progress | None = None
        if show:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
                TextColumn("{task.fields[rate]} steps/s"),
                TextColumn("return {task.fields[recent]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self._task = self._progress.add_task(label, total=total_steps, rate="—", recent="—")
            self._progress.start()

    def episode(self, step: int, episodic_return: float, length: int) -> None:
        """Record an episode that ended after ``step`` environment steps in all."""
        seconds = time.perf_counter() - self.started
        self.rows.append((step, seconds, float(episodic_return), int(length)))
        self.recent.append(float(episodic_return))

    def recent_mean(self) -> float | None:
        """The mean return of the last ``window`` episodes (None before the first)."""
        return float(np.mean(self.recent)) if self.recent else None

    def update(self, step: int) -> None:
        """Move the bar to ``step`` environment steps (redrawn at most 10 times a second)."""
        self.steps = step
        self.wall_time = time.perf_counter() - self.started
        if self._progress is None or self.wall_time < self._next_refresh:
            return
        self._next_refresh = self.wall_time + 0.1
        mean = self.recent_mean()
        self._progress.update(
            self._task,
            completed=step,
            rate=f"{step / max(self.wall_time, 1e-9):,.0f}",
            recent="—" if mean is None else f"{mean:.2f}",
        )

    def close(self) -> None:
        """Stop the bar, showing the final numbers."""
        self._next_refresh = 0.0
        self.update(self.steps)
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def first_reached(self, threshold: float) -> tuple[int, float] | None:
        """Steps and seconds when the mean of the last ``window`` episodes first reached
        ``threshold``, or None if it never did."""
        return first_reached(self.rows, threshold, self.window)

    def write(self, folder: Path, title: str) -> tuple[Path, Path]:
        """Write the learning curve as ``learning_curve.csv`` and ``learning_curve.png``."""
        folder.mkdir(parents=True, exist_ok=True)
        csv_path, png_path = folder / "learning_curve.csv", folder / "learning_curve.png"
        recent: deque[float] = deque(maxlen=self.window)
        means = []
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["step", "seconds", "return", "length", f"mean_return_{self.window}"])
            for step, seconds, episodic_return, length in self.rows:
                recent.append(episodic_return)
                means.append(float(np.mean(recent)))
                writer.writerow(
                    [step, f"{seconds:.3f}", f"{episodic_return:.4g}", length, f"{means[-1]:.4g}"]
                )
        plot_curve(self.rows, means, self.window, title, png_path)
        return csv_path, png_path


def first_reached(
    rows: Sequence[tuple[int, float, float, int]], threshold: float, window: int = 20
) -> tuple[int, float] | None:
    """Steps and seconds at the first episode where the mean return of the last ``window``
    episodes reached ``threshold`` (needs ``window`` episodes), or None."""
    recent: deque[float] = deque(maxlen=window)
    for step, seconds, episodic_return, _ in rows:
        recent.append(episodic_return)
        if len(recent) == window and np.mean(recent) >= threshold:
            return step, seconds
    return None


def plot_curve(
    rows: Sequence[tuple[int, float, float, int]],
    means: Sequence[float],
    window: int,
    title: str,
    path: Path,
) -> None:
    """Draw each episode's return and the running mean against environment steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    steps = [row[0] for row in rows]
    axes.scatter(steps, [row[2] for row in rows], s=4, alpha=0.3, label="episode return")
    axes.plot(steps, means, color="C1", linewidth=2, label=f"mean of last {window}")
    axes.set_xlabel("environment steps")
    axes.set_ylabel("episodic return")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    if rows:
        axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


# --- agent packages ----------------------------------------------------------------------


def write_manifest(
    folder: Path, *, name: str, challenge: str, framework: str, description: str
) -> None:
    """Write the ``aigc.toml`` of a package whose entry point is ``agent:Agent``."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = (
        f'name = "{name}"\n'
        'entry_point = "agent:Agent"\n'
        f"description = {json.dumps(description)}\n"
        f'challenge = "{challenge}"\n'
        f'framework = "{framework}"\n'
    )
    (folder / MANIFEST).write_text(manifest, encoding="utf-8")


def write_package(
    folder: Path,
    *,
    name: str,
    challenge: str,
    framework: str,
    description: str,
    agent_program: Path,
    settings: TrainingSettings,
    save_weights: Callable[[Path], None],
) -> None:
    """Write a self-contained agent package: ``aigc.toml``, ``agent.py`` (a copy of
    ``agent_program``), the weights (by ``save_weights(folder)``) and ``settings.json`` (how
    it was trained, which the agent reads its layer widths from)."""
    write_manifest(
        folder, name=name, challenge=challenge, framework=framework, description=description
    )
    shutil.copyfile(agent_program, folder / "agent.py")
    save_weights(folder)
    (folder / "settings.json").write_text(
        json.dumps(dataclasses.asdict(settings), indent=2) + "\n", encoding="utf-8"
    )


def run(algorithm: str, settings: TrainingSettings, out: Path, show: bool = True) -> TrainingLog:
    """Train ``algorithm`` with ``settings``, then write the agent package and its learning
    curve into ``out``; return the log (curve, steps, wall time)."""
    module = algorithm_module(algorithm)
    log = TrainingLog(settings.total_steps, f"{algorithm} {settings.challenge}", show)
    try:
        model = module.train(settings, log)
    finally:
        log.close()
    module.write_agent(model, settings, out)
    log.write(out, f"{algorithm} on {settings.challenge} (seed {settings.seed})")
    return log


def load_agent(
    folder: Path, observation_space: gym.Space, action_space: gym.Space
) -> Agent | BatchAgent:
    """Build a written package's agent in this process, as the runtime does (for tests and
    benchmarks): its manifest's entry point, constructed inside the package folder."""
    manifest = read_manifest(folder)
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        return load_agent_class(folder, manifest)(observation_space, action_space)
    finally:
        os.chdir(cwd)
        if str(folder) in sys.path:  # load_agent_class put it first
            sys.path.remove(str(folder))
