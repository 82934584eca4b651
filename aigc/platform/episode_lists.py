"""A submission's episodes: per-episode rows, the recording of one, and text samples.

Who may see them is :func:`aigc.platform.visibility.sees_episodes`'s; the API and the
pages call :func:`episodes_for` and get None where the viewer may not.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from aigc.platform import challenges, visibility
from aigc.platform.models import EpisodeRow, Submission, User
from aigc.submissions.challenge import ChallengeSpec
from aigc.submissions.results import EpisodeResult

SAMPLES_PER_GROUP = 5
SAMPLE_TITLES = {
    "best": "Highest reward-model score",
    "worst": "Lowest reward-model score",
    "random": "A random sample",
    "disagreement": "Reward model and gold judge disagree most (reward hacking?)",
}


@dataclass(frozen=True)
class Episodes:
    """The episodes of a submission a viewer may see, with what lays them out."""

    spec: ChallengeSpec
    rows: list[EpisodeRow]
    show_seeds: bool


def episodes_for(session: Session, submission: Submission, viewer: User) -> Episodes | None:
    """The submission's stored episodes for this viewer, or None where they are hidden."""
    if not visibility.sees_episodes(submission, viewer) or submission.evaluation is None:
        return None
    spec = challenges.spec_of(submission.challenge, submission.challenge_version)
    phase = spec.phase(submission.phase)
    show_seeds = phase.visibility == "public" or viewer.is_organizer
    return Episodes(spec, list(submission.evaluation.episodes), show_seeds)


def episode_json(row: EpisodeRow, show_seed: bool) -> dict[str, Any]:
    """One row of the per-episode table."""
    return {
        "index": row.index,
        "seed": row.seed if show_seed else None,
        "return": row.total_return,
        "length": row.length,
        "wall_time": row.wall_time,
        "terminated": row.terminated,
        "truncated": row.truncated,
        "success": row.success,
        "values": row.values,
        "text": row.completion is not None,
    }


def environment_json(spec: ChallengeSpec) -> dict[str, Any]:
    """What a replay makes its environment from."""
    env = spec.environment
    return {
        "id": env.id,
        "kwargs": env.kwargs,
        "max_episode_steps": env.max_episode_steps,
        "entry_point": env.entry_point,  # a bundle's: replayed in its own sandbox
    }


def recorded(session: Session, submission: Submission, index: int) -> EpisodeRow | None:
    """One stored episode with its recorded actions loaded."""
    if submission.evaluation is None:
        return None
    query = (
        select(EpisodeRow)
        .options(undefer(EpisodeRow.actions))
        .where(EpisodeRow.evaluation_id == submission.evaluation.id, EpisodeRow.index == index)
    )
    return session.scalar(query)


def as_result(row: EpisodeRow) -> EpisodeResult:
    """A stored episode as the record a replay takes."""
    return EpisodeResult(
        index=row.index,
        seed=row.seed,
        total_return=math.nan if row.total_return is None else row.total_return,
        length=row.length,
        wall_time=row.wall_time,
        terminated=row.terminated,
        truncated=row.truncated,
        success=row.success,
        values=dict(row.values),
        actions=row.actions,
        prompt=row.prompt,
        completion=row.completion,
    )


def picked(rows: list[EpisodeRow]) -> dict[str, EpisodeRow]:
    """The best, median and worst episode by return (the replays a submission page shows)."""
    scored = sorted(
        (r for r in rows if r.total_return is not None), key=lambda r: (r.total_return, r.index)
    )
    if not scored:
        return {}
    return {"best": scored[-1], "median": scored[(len(scored) - 1) // 2], "worst": scored[0]}


def _zscores(values: list[float]) -> list[float]:
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) or 1.0
    return [(v - mean) / spread for v in values]


def text_samples(rows: list[EpisodeRow], seed: int) -> dict[str, list[dict[str, Any]]]:
    """Text episodes grouped for reading: best, worst, random, and the reward-hacking view.

    ``disagreement`` ranks episodes by how much higher the reward model scores them than
    the gold judge does, both standardised over this submission's episodes: a completion
    the proxy loves and the judge does not is the mark of gaming the reward model.
    """
    text = [r for r in rows if r.completion is not None and r.total_return is not None]
    samples: list[dict[str, Any]] = []
    golds = [r.values.get("gold") for r in text]
    with_gold = [i for i, g in enumerate(golds) if g is not None]
    gaps: dict[int, float] = {}
    if with_gold:
        scores = _zscores([float(text[i].total_return or 0.0) for i in with_gold])
        judged = _zscores([float(golds[i] or 0.0) for i in with_gold])
        gaps = {with_gold[k]: scores[k] - judged[k] for k in range(len(with_gold))}
    for position, row in enumerate(text):
        samples.append(
            {
                "index": row.index,
                "prompt": row.prompt or "",
                "completion": row.completion or "",
                "score": row.total_return,
                "gold": row.values.get("gold"),
                "nll": row.values.get("nll"),
                "gap": gaps.get(position),
            }
        )
    by_score = sorted(samples, key=lambda s: (s["score"], s["index"]))
    n = SAMPLES_PER_GROUP
    disagreeing = sorted(
        (s for s in samples if s["gap"] is not None), key=lambda s: (-s["gap"], s["index"])
    )
    return {
        "best": by_score[::-1][:n],
        "worst": by_score[:n],
        "random": sorted(
            random.Random(seed).sample(samples, min(n, len(samples))), key=lambda s: s["index"]
        ),
        "disagreement": disagreeing[:n],
    }
