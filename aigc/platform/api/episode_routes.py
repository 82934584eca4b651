"""A submission's episodes: the per-episode table, one episode's recording, text samples.

Where :func:`aigc.platform.visibility.sees_episodes` says no (a participant on a hidden
phase), each answers 403 and says so; another participant's submission is a 404.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from aigc.platform import visibility
from aigc.platform.api.errors import ApiError
from aigc.platform.api.routes import RouteTable, require_user
from aigc.platform.api.submission_routes import _own
from aigc.platform.context import platform
from aigc.platform.episode_lists import (
    SAMPLE_TITLES,
    Episodes,
    environment_json,
    episode_json,
    episodes_for,
    recorded,
    text_samples,
)
from aigc.platform.models import Submission, User

routes = RouteTable()
HIDDEN = (
    "the episodes of a hidden phase are not shown to participants: "
    "evaluate on a public phase to see them"
)


def _visible(session: Session, submission_id: int) -> tuple[Submission, Episodes]:
    user: User = require_user(session)
    submission = _own(session, submission_id, user)
    if not visibility.sees_episodes(submission, user):
        raise ApiError(403, HIDDEN)
    episodes = episodes_for(session, submission, user)
    if episodes is None:
        raise ApiError(404, f"submission {submission_id} has no result yet: wait for it to end")
    return submission, episodes


@routes.route(
    "/submissions/<id:submission_id>/episodes",
    "GET",
    "Every episode of a submission: seed, return, length, success, info values",
    "user",
    response="EpisodeList",
    errors=(401, 403, 404),
)
def list_episodes(submission_id: int) -> Any:
    with platform().db.session() as session:
        submission, episodes = _visible(session, submission_id)
        failure = None
        if submission.failure_code:
            failure = {
                "code": submission.failure_code,
                "message": visibility.failure_message(submission, True),
                # Who sees the episodes sees everything of the submission (sees_episodes).
                "episode": None,
                "step": None,
                **(visibility.failure_place(submission, True) or {}),
            }
        return {
            "id": submission.id,
            "challenge": submission.challenge.slug,
            "phase": submission.phase,
            "info": list(episodes.spec.metrics.info),
            "episodes": [episode_json(r, episodes.show_seeds) for r in episodes.rows],
            "failure": failure,
        }


@routes.route(
    "/submissions/<id:submission_id>/episodes/<index>",
    "GET",
    "One episode with what a replay needs: its environment, seed and recorded actions",
    "user",
    response="EpisodeRecording",
    errors=(401, 403, 404),
)
def episode_recording(submission_id: int, index: str) -> Any:
    with platform().db.session() as session:
        submission, episodes = _visible(session, submission_id)
        # An index is a small number: anything else (², 10**20) names no episode.
        number = index.isascii() and index.isdigit() and len(index) <= 9
        row = recorded(session, submission, int(index)) if number else None
        if row is None:
            raise ApiError(
                404,
                f"submission {submission_id} has no episode {index}: "
                f"it has {len(episodes.rows)} (numbered from 0)",
            )
        body = episode_json(row, episodes.show_seeds)
        body.update(actions=row.actions, prompt=row.prompt, completion=row.completion)
        return {"environment": environment_json(episodes.spec), "episode": body}


@routes.route(
    "/submissions/<id:submission_id>/samples",
    "GET",
    "A text submission's samples: best, worst, random, and where the reward model and the "
    "gold judge disagree most",
    "user",
    response="Samples",
    errors=(401, 403, 404),
)
def samples(submission_id: int) -> Any:
    with platform().db.session() as session:
        submission, episodes = _visible(session, submission_id)
        return {
            "id": submission.id,
            "titles": SAMPLE_TITLES,
            "samples": text_samples(episodes.rows, seed=submission.id),
        }
