"""How platform records look in JSON, as each viewer may see them.

What a viewer may see is decided by :mod:`aigc.platform.visibility`; this module only
lays it out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aigc.platform import challenges
from aigc.platform.models import Challenge, Submission, Team, User
from aigc.platform.quotas import Remaining
from aigc.platform.visibility import (
    episode_seed,
    failure_message,
    phase_seeds,
    progress,
    sees_everything,
    sees_scores,
)
from aigc.submissions.challenge import ChallengeSpec


def when(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


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


def remaining_json(left: Remaining) -> dict[str, Any]:
    return {
        "phase": left.phase,
        "per_day": left.per_day,
        "total": left.total,
        "used_today": left.used_today,
        "used_total": left.used_total,
        "left_today": left.left_today,
        "left_total": left.left_total,
        "next_at": when(left.next_at),
    }


def phase_json(spec: ChallengeSpec, phase_id: str) -> dict[str, Any]:
    phase = spec.phase(phase_id)
    seed_rule, seeds = phase_seeds(spec, phase)
    return {
        "id": phase.id,
        "title": phase.title,
        "visibility": phase.visibility,
        "episodes": phase.episodes,
        "start": when(phase.start),
        "end": when(phase.end),
        "state": challenges.phase_state(phase),
        "seed_rule": seed_rule,
        "seeds": seeds,
    }


def challenge_json(challenge: Challenge, detail: bool, participants: int) -> dict[str, Any]:
    spec = challenges.spec_of(challenge)
    reason = challenges.unavailable_reason(spec)
    data: dict[str, Any] = {
        "id": challenge.slug,
        "title": challenge.title,
        "environment": spec.environment.id,
        "version": challenge.current_version,
        "builtin": challenge.builtin,
        "bundle": spec.environment.in_bundle,
        "environment_private": spec.environment.private,
        "available": reason is None,
        "unavailable_reason": reason,
        "archived": challenge.archived_at is not None,
        "participants": participants,
        "phases": [phase_json(spec, p.id) for p in spec.phases],
        "runtime": challenges.runtime_of(challenges.version_of(challenge)),
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
        "episodes_done": seen.episodes_done,
        "episodes_total": submission.episodes_total,
        "failure": None,
        "platform_failure": submission.platform_failure,
        "disqualified": submission.disqualified,
        "disqualified_reason": submission.disqualified_reason,
        "created_at": when(submission.created_at),
        "started_at": when(seen.started_at),
        "finished_at": when(seen.finished_at),
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
                    "seed": episode_seed(e.seed, full),
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
