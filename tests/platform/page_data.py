"""Data for the pages people compare: a text board, a failed submission, baselines.

:func:`seed_pages` writes it into a platform's database before its server starts, through
the platform's own code (uploads, claims, results), so the pages show what they would
show after real evaluations: a textgen board whose entries all came in within a minute,
two baselines with the same scores, a FrozenLake board of success rates, and a submission
that failed with an output of both streams.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from flask import Flask

from aigc.platform import worker_run as ev
from aigc.platform.baseline_submissions import seed_baselines
from aigc.platform.settings import Settings
from aigc.platform.startup import start
from aigc.submissions import results as r
from aigc.submissions.agent_output import LogBuffer
from aigc.submissions.challenge import builtin_challenges
from aigc.submissions.results import EpisodeResult, EvaluationResult, Failure

from .conftest import AGENTS, Api, RecordingQueue, zip_agent

LONG_NAME = "a-participant-with-a-long-name32"  # 32 characters, the longest allowed
FAILED_USER, FAILED_PASSWORD = "fay", "fay-password"
# What the failed agent wrote, in this order, on these streams.
FAILED_OUTPUT = [
    ("out", "loading the policy"),
    ("err", "warning: no GPU, using the CPU"),
    ("out", "policy loaded"),
    ("err", "Traceback (most recent call last):"),
    ("err", "RuntimeError: act failed"),
]
TEXT_SCORES = {"ada": 0.91, LONG_NAME: 0.47, "bob": -0.12}


def _spec(challenge_id: str):  # type: ignore[no-untyped-def]
    return next(s for s in builtin_challenges() if s.id == challenge_id)


def _record(api: Api, submission_id: int, result: EvaluationResult, challenge: str) -> None:
    held = ev.claim(api.db, submission_id, 60, "page-data")
    assert held is not None
    assert ev.record_result(api.db, held, result, _spec(challenge).metrics)


def _text_result(agent: str, score: float, spread: float = 0.4) -> EvaluationResult:
    episodes = []
    for i in range(12):
        value = score + spread * ((i % 5) - 2) / 2
        values = {"gold": 0.5 + score / 4, "nll": 3.2 - score, "distinct_2": 0.81}
        episodes.append(EpisodeResult(i, 1000 + i, value, 20 + i, 0.01, True, False, None, values))
    returns = [e.total_return for e in episodes]
    mean = sum(returns) / len(returns)
    std = (sum((x - mean) ** 2 for x in returns) / len(returns)) ** 0.5
    metrics = {
        "mean_return": mean,
        "std_return": std,
        "mean_gold": 0.5 + score / 4,
        "mean_nll": 3.2 - score,
        "mean_distinct_2": 0.81,
        "mean_length": 25.5,
    }
    return EvaluationResult("textgen", "dev", agent, 12, episodes, metrics, steps=306)


def _lake_result(successes: list[bool]) -> EvaluationResult:
    episodes = [
        EpisodeResult(i, i, float(s), 8, 0.01, True, False, s) for i, s in enumerate(successes)
    ]
    rate = sum(successes) / len(successes)
    metrics = {"success_rate": rate, "mean_return": rate, "mean_length": 8.0}
    return EvaluationResult(
        "frozenlake", "dev", "lake", len(successes), episodes, metrics, "success_rate"
    )


def _baselines(api: Api, app: Flask, folder: Path, result: EvaluationResult) -> None:
    """Two baseline packages on every phase of textgen, as the platform seeds them, all scored
    the same: their lines over time coincide."""
    for name in ("baseline-a", "baseline-b"):
        package = folder / "textgen" / name
        shutil.copytree(AGENTS / "good", package)
        (package / "aigc.toml").write_text(f'name = "{name}"\nentry_point = "agent:Agent"\n')
    with api.db.session() as session:
        created = seed_baselines(session, app.extensions["aigc"].store, folder)
    for submission_id in created:
        _record(api, submission_id, result, "textgen")


def failed_logs() -> str:
    buffer = LogBuffer()
    for stream, line in FAILED_OUTPUT:
        buffer.write((line + "\n").encode(), stream)
    return buffer.text()


def seed_pages(settings: Settings, folder: Path) -> int:
    """Write the pages' data into the platform of ``settings``; return the failed submission."""
    app = start(settings, queue=RecordingQueue()).app
    api = Api(app, app.extensions["aigc"].db)
    for name, score in TEXT_SCORES.items():
        who = api.account(name)
        submission_id = api.upload(who, zip_agent("good"), challenge="textgen").json["id"]
        _record(api, submission_id, _text_result(name, score), "textgen")
    _baselines(api, app, folder, _text_result("baseline", 0.3))

    lake = api.account("lou")
    submission_id = api.upload(lake, zip_agent("good"), challenge="frozenlake").json["id"]
    _record(api, submission_id, _lake_result([True] * 7 + [False] * 3), "frozenlake")

    fay = api.account(FAILED_USER)
    failed = api.upload(fay, zip_agent("good"), challenge="textgen").json["id"]
    result = _text_result(FAILED_USER, 0.0)
    result.episodes, result.steps = [], 0
    result.metrics = dict.fromkeys(result.metrics)
    result.failure = Failure(r.AGENT_ERROR, "act raised RuntimeError: act failed", 0, 0)
    result.logs = failed_logs()
    _record(api, failed, result, "textgen")
    return int(failed)
