"""Helpers for the baselines' tests: train quietly, then run the package as the platform does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aigc.baselines import common
from aigc.submissions.challenge import get_challenge
from aigc.submissions.checks import check_package
from aigc.submissions.evaluator import evaluate
from aigc.submissions.results import EvaluationResult
from aigc.submissions.sandbox import LocalSandbox


def train_package(algorithm: str, challenge: str, folder: Path, **changes: Any) -> Any:
    """Train with the challenge's defaults and ``changes``, without a progress bar; write the
    package into ``folder`` and return the trained model and the log."""

    module = common.algorithm_module(algorithm)
    settings = common.settings_for(module.Settings, algorithm, challenge, **changes)
    log = common.TrainingLog(settings.total_steps, algorithm, show=False)
    model = module.train(settings, log)
    module.write_agent(model, settings, folder)
    log.write(folder, f"{algorithm} on {challenge}")
    return model, log


def assert_package_runs(folder: Path, challenge: str, episodes: int = 3) -> EvaluationResult:
    """The package passes every check and evaluates through the evaluator without failure."""
    report = check_package(folder, challenge, LocalSandbox())
    assert all(item.ok for item in report), [(i.name, i.message) for i in report]
    result = evaluate(
        folder, get_challenge(challenge), "dev", sandbox=LocalSandbox(), episodes=episodes
    )
    assert result.failure is None, result.failure
    assert len(result.episodes) == episodes
    return result
