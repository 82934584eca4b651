"""How platform records look in JSON, and what each viewer may see of them.

Hidden phases keep their seeds and scores from participants until an organizer reveals
them. Everything an agent can write into (its logs, its exception messages, the actions
it returns) could carry what it observed there, so on hidden phases participants see a
fixed description of a failure instead of its text, and no logs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import object_session

from aigc.platform import challenges
from aigc.platform.board_cache import revealed
from aigc.platform.models import Challenge, Submission, Team, User
from aigc.submissions import results
from aigc.submissions.challenge import ChallengeSpec

HIDDEN_FAILURES = {
    results.AGENT_START_FAILED: "the agent did not start",
    results.AGENT_ERROR: "the agent raised an exception",
    results.AGENT_EXITED: "the agent's process ended early",
    results.INVALID_ACTION: "the agent returned an action outside the action space",
    results.PROTOCOL_ERROR: "the agent broke the protocol",
    results.STEP_TIMEOUT: "the agent was too slow to answer",
    results.EPISODE_TIMEOUT: "an episode ran longer than allowed",
    results.EVALUATION_TIMEOUT: "the evaluation ran longer than allowed",
}
HIDDEN_NOTE = "details are hidden in hidden phases: evaluate on a public phase to see them"


def when(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def progress(submission: Submission, full: bool) -> dict[str, Any]:
    """How far a submission got and when, as a viewer may see it.

    An agent on a hidden phase could encode what it observed in how many episodes it
    finished before failing, or in how long it ran: without ``full`` sight there is no
    episode counter, and start and end show only to the minute.
    """
    if full:
        started, finished = submission.started_at, submission.finished_at
    else:
        started, finished = _minute(submission.started_at), _minute(submission.finished_at)
    return {
        "episodes_done": submission.episodes_done if full else None,
        "started_at": started,
        "finished_at": finished,
    }


def _minute(moment: datetime | None) -> datetime | None:
    return moment.replace(second=0, microsecond=0) if moment else None


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "team": user.team.name if user.team else None,
    }


def team_json(team: Team, with_code: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": team.id,
        "name": team.name,
        "members": sorted(member.username for member in team.members),
    }
    if with_code:
        data["join_code"] = team.join_code
    return data


def phase_json(spec: ChallengeSpec, phase_id: str) -> dict[str, Any]:
    phase = spec.phase(phase_id)
    return {
        "id": phase.id,
        "title": phase.title,
        "visibility": phase.visibility,
        "episodes": phase.episodes,
        "start": when(phase.start),
        "end": when(phase.end),
        "state": challenges.phase_state(phase),
        # Fresh seeds are drawn per submission and shown with its result; a hidden
        # phase's seeds stay hidden even when its spec lists them.
        "seed_rule": phase.seed_rule if phase.visibility == "public" else "secret",
        "seeds": phase.seeds(spec.id)
        if phase.visibility == "public" and phase.seed_rule == "fixed"
        else None,
    }


def challenge_json(challenge: Challenge, detail: bool, participants: int) -> dict[str, Any]:
    spec = challenges.spec_of(challenge)
    data: dict[str, Any] = {
        "id": challenge.slug,
        "title": challenge.title,
        "environment": spec.environment.id,
        "version": challenge.current_version,
        "builtin": challenge.builtin,
        "participants": participants,
        "phases": [phase_json(spec, p.id) for p in spec.phases],
        "updated_at": when(challenge.updated_at),
    }
    if detail:
        limits, metrics = spec.limits, spec.metrics
        data.update(
            description=spec.description,
            environment_kwargs=spec.environment.kwargs,
            max_episode_steps=spec.environment.max_episode_steps,
            limits={
                "step_timeout": limits.step_timeout,
                "startup_timeout": limits.startup_timeout,
                "episode_timeout": limits.episode_timeout,
                "evaluation_timeout": limits.evaluation_timeout,
                "memory_bytes": limits.memory_bytes,
                "cpus": limits.cpus,
            },
            metrics={
                "primary": metrics.primary,
                "higher_is_better": metrics.higher_is_better,
                "success": metrics.success,
                "success_min_return": metrics.success_min_return,
                "report": list(metrics.report),
                "info": list(metrics.info),
            },
            quotas={"per_day": spec.quotas.per_day, "total": spec.quotas.total},
            starter=f"aigc init-agent my-agent --challenge {challenge.slug}",
        )
    return data


def sees_everything(submission: Submission, viewer: User) -> bool:
    """Organizers see all; participants see all of a submission only in public phases."""
    if viewer.is_organizer:
        return True
    spec = challenges.spec_of(submission.challenge, submission.challenge_version)
    return spec.phase(submission.phase).visibility == "public"


def sees_scores(submission: Submission, viewer: User) -> bool:
    """Scores show where everything does, and on hidden phases once they are revealed."""
    if sees_everything(submission, viewer):
        return True
    session = object_session(submission)
    return session is not None and revealed(session, submission.challenge, submission.phase)


def failure_message(submission: Submission, full: bool) -> str:
    """Why the submission failed, as a viewer may read it: on hidden phases (``full`` false)
    a fixed description replaces the text, which the agent could have filled."""
    if not full and submission.failure_code in HIDDEN_FAILURES:
        return f"{HIDDEN_FAILURES[submission.failure_code]} ({HIDDEN_NOTE})"
    return submission.failure_message or ""


def submission_json(submission: Submission, viewer: User) -> dict[str, Any]:
    full = sees_everything(submission, viewer)
    seen = progress(submission, full)
    data: dict[str, Any] = {
        "id": submission.id,
        "user": submission.user.username,
        "team": submission.team.name if submission.team else None,
        "challenge": submission.challenge.slug,
        "challenge_version": submission.challenge_version,
        "phase": submission.phase,
        "package": {
            "name": submission.package_name,
            "filename": submission.filename,
            "size_bytes": submission.size_bytes,
            "sha256": submission.package_sha256,
        },
        "status": submission.status,
        "attempts": submission.attempts,
        "episodes_done": seen["episodes_done"],
        "episodes_total": submission.episodes_total,
        "failure": None,
        "platform_failure": submission.platform_failure,
        "disqualified": submission.disqualified,
        "disqualified_reason": submission.disqualified_reason,
        "created_at": when(submission.created_at),
        "started_at": when(seen["started_at"]),
        "finished_at": when(seen["finished_at"]),
        "result": None,
        "details_hidden": not full,
    }
    if submission.failure_code:
        data["failure"] = {
            "code": submission.failure_code,
            "message": failure_message(submission, full),
        }
    evaluation = submission.evaluation
    if evaluation is not None and (full or sees_scores(submission, viewer)):
        data["result"] = {
            "score": evaluation.score,
            "ci": [evaluation.ci_low, evaluation.ci_high],
            "metrics": evaluation.metrics,
            "episodes_requested": evaluation.episodes_requested,
            "steps": evaluation.steps,
            "wall_time": evaluation.wall_time,
            "startup_time": evaluation.startup_time,
            "episodes": [
                {
                    "index": e.index,
                    "seed": e.seed if full else None,  # a revealed phase keeps its seeds
                    "return": e.total_return,
                    "length": e.length,
                    "wall_time": e.wall_time,
                    "terminated": e.terminated,
                    "truncated": e.truncated,
                    "success": e.success,
                    "values": e.values,
                }
                for e in evaluation.episodes
            ],
        }
    return data
