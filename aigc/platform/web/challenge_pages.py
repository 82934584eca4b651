"""The public pages: the list of challenges, and one challenge with its rules."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, render_template
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from aigc.platform import challenges, visibility
from aigc.platform.context import platform
from aigc.platform.lru import LRU
from aigc.platform.models import Challenge, User
from aigc.platform.web.formatting import number
from aigc.platform.web.signin import current_user
from aigc.submissions.challenge import ChallengeSpec, EnvironmentSpec, Phase
from aigc.submissions.metrics import info_metric
from aigc.submissions.package import RUNTIME_PACKAGES
from aigc.submissions.spaces import describe_space

bp = Blueprint("pages", __name__)
_markdown = MarkdownIt("commonmark", {"html": False})  # organizers' raw HTML comes out escaped


@dataclass(frozen=True)
class EnvironmentFacts:
    observation_space: str
    action_space: str
    max_episode_steps: int | None
    reward_threshold: float | None
    problem: str | None = None  # why the environment could not be built here


_facts: LRU[str, EnvironmentFacts] = LRU(256)
_rendered: LRU[str, Markup] = LRU(256)


def environment_facts(environment: EnvironmentSpec) -> EnvironmentFacts:
    """Build the environment once per spec and keep what participants need to know of it."""
    key = json.dumps(
        [environment.id, environment.kwargs, environment.max_episode_steps],
        sort_keys=True,
        default=repr,
    )
    return _facts.get(key, lambda: _build_facts(environment))


def _build_facts(environment: EnvironmentSpec) -> EnvironmentFacts:
    if environment.in_bundle:  # the organizer's code: built only in its own sandbox
        told = "as the organizer's environment declares it"
        return EnvironmentFacts(told, told, environment.max_episode_steps, None)
    try:
        env = environment.make()
    except Exception as exc:
        return EnvironmentFacts("unknown", "unknown", None, None, str(exc)[:200])
    try:
        spec = env.spec
        return EnvironmentFacts(
            describe_space(env.observation_space),
            describe_space(env.action_space),
            spec.max_episode_steps if spec else environment.max_episode_steps,
            spec.reward_threshold if spec else None,
        )
    finally:
        env.close()


def markdown(text: str) -> Markup:
    """Render an organizer's Markdown; raw HTML in it is escaped, not passed through."""
    return _rendered.get(text, lambda: Markup(_markdown.render(text)))


def challenge_state(spec: ChallengeSpec) -> str:
    """Open while any phase is; else upcoming if one is still to come; else closed."""
    states = {challenges.phase_state(phase) for phase in spec.phases}
    return next(s for s in ("open", "upcoming", "closed") if s in states)


def phase_rows(spec: ChallengeSpec) -> list[dict[str, Any]]:
    """Each phase with its state, and its seed rule and seeds as everyone may see them."""
    rows = []
    for phase in spec.phases:
        seed_rule, seeds = visibility.phase_seeds(spec, phase)
        rows.append(
            {
                "phase": phase,
                "state": challenges.phase_state(phase),
                "seed_rule": seed_rule,
                "seeds": seeds,
            }
        )
    return rows


def duration(seconds: float) -> str:
    """Seconds as people say them: 500 ms, 1 s, 2 min, 1 h."""
    for unit, size in (("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{seconds / size:g} {unit}"
    return f"{seconds * 1000:g} ms" if seconds < 1 else f"{seconds:g} s"


def size(count: int) -> str:
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= factor:
            return f"{count / factor:g} {unit}"
    return f"{count} bytes"


def rules(spec: ChallengeSpec) -> dict[str, Any]:
    """The limits, metrics and quotas of a challenge, worded for its page."""
    limits, metrics, quotas = spec.limits, spec.metrics, spec.quotas
    success = {
        "terminated": "the episode ends by termination (the goal is reached)",
        "truncated": "the episode lasts until the step limit",
        "info": "the environment reports success in its info",
        "min_return": f"the return is at least {number(metrics.success_min_return)}",
    }.get(metrics.success or "")
    return {
        "limits": [
            ("Time per action", duration(limits.step_timeout)),
            ("Start-up time", duration(limits.startup_timeout)),
            ("Time per episode", duration(limits.episode_timeout)),
            ("Time for the whole evaluation", duration(limits.evaluation_timeout)),
            ("Memory", size(limits.memory_bytes)),
            ("CPUs", f"{limits.cpus:g}"),
        ],
        "primary": metrics.primary,
        "direction": "higher is better" if metrics.higher_is_better else "lower is better",
        "tie_breaker": metrics.tie_breaker,
        "tie_direction": "higher" if metrics.tie_breaker_higher_is_better else "lower",
        "success": success,
        "report": metrics.report,
        "info": [(info_metric(x), x) for x in metrics.info],
        "per_day": quotas.per_day,
        "total": quotas.total,
    }


def load(session: Session, slug: str) -> Challenge:
    """The challenge with this slug, or a 404 page."""
    challenge = challenges.find(session, slug)
    viewer = current_user()
    user = session.get(User, viewer.id) if viewer is not None else None
    if challenge is None or not challenges.reachable(session, challenge, user):
        abort(404, description=f"there is no challenge {slug!r}: the home page lists them all")
    return challenge


@bp.get("/")
def home() -> Any:
    """List the challenges with their state, phases and participants."""
    with platform().db.session() as session:
        counts = challenges.participants(session)
        query = (
            select(Challenge)
            .where(Challenge.archived_at.is_(None))
            .options(selectinload(Challenge.versions))
            .order_by(Challenge.slug)
        )
        rows = []
        for challenge in session.scalars(query):
            spec = challenges.spec_of(challenge)
            rows.append(
                {
                    "challenge": challenge,
                    "spec": spec,
                    "state": challenge_state(spec),
                    "unavailable": challenges.unavailable_reason(spec),
                    "phases": phase_rows(spec),
                    "participants": counts.get(challenge.id, 0),
                }
            )
    return render_template("home.html", rows=rows)


@bp.get("/challenges/<slug>")
def challenge_page(slug: str) -> Any:
    """Show a challenge: description, rules, environment, phases, how to take part."""
    with platform().db.session() as session:
        challenge = load(session, slug)
        spec = challenges.spec_of(challenge)
        count = challenges.participants(session).get(challenge.id, 0)
        version = challenge.current_version
        runtime = challenges.runtime_of(challenges.version_of(challenge))
    viewer = current_user()
    return render_template(
        "challenge.html",
        challenge=challenge,
        spec=spec,
        version=version,
        state=challenge_state(spec),
        unavailable=challenges.unavailable_reason(spec),
        description=markdown(spec.description),
        rules=rules(spec),
        facts=environment_facts(spec.environment),
        phases=phase_rows(spec),
        participants=count,
        organizer=viewer is not None and viewer.is_organizer,
        runtime=runtime,
        runtime_base=", ".join(RUNTIME_PACKAGES),
    )


def phase_dates(phase: Phase) -> str:
    """When a phase takes submissions, in words."""
    start = f"{phase.start:%Y-%m-%d %H:%M} UTC" if phase.start else None
    end = f"{phase.end:%Y-%m-%d %H:%M} UTC" if phase.end else None
    if start and end:
        return f"{start} to {end}"
    if start:
        return f"from {start}, no end"
    if end:
        return f"until {end}"
    return "always open"
