"""Who may see what: every rule that keeps hidden phases hidden, for the API and the pages.

Hidden phases keep their seeds and scores from participants until an organizer reveals
them. Everything an agent can write into (its logs, its exception messages, the actions
it returns) or shape (how many episodes it finished before failing, how long it ran) could
carry what it observed there, so on hidden phases participants see a fixed description
of a failure instead of its text, no logs, no episode counter, no seeds, and times only
to the minute. Organizers see everything; a reveal shows the scores, never the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from aigc.platform import challenges
from aigc.platform.board_cache import bump_board
from aigc.platform.models import Challenge, PhaseReveal, Submission, User, now
from aigc.submissions import results
from aigc.submissions.challenge import ChallengeSpec, Phase

HIDDEN_FAILURES = {
    results.AGENT_START_FAILED: "the agent did not start",
    results.AGENT_ERROR: "the agent raised an exception",
    results.AGENT_EXITED: "the agent's process ended early",
    results.INVALID_ACTION: "the agent returned an action outside the action space",
    results.PROTOCOL_ERROR: "the agent broke the protocol",
    results.STEP_TIMEOUT: "the agent was too slow to answer",
    results.EPISODE_TIMEOUT: "an episode ran longer than allowed",
    results.EVALUATION_TIMEOUT: "the evaluation ran longer than allowed",
    results.ENVIRONMENT_ERROR: "the challenge's environment failed, not the agent; its "
    "organizers see why",
}
HIDDEN_NOTE = "details are hidden in hidden phases: evaluate on a public phase to see them"


def revealed(session: Session, challenge: Challenge, phase: str) -> bool:
    """Whether an organizer has revealed this phase."""
    query = select(PhaseReveal.id).where(
        PhaseReveal.challenge_id == challenge.id, PhaseReveal.phase == phase
    )
    return session.scalar(query) is not None


def reveal(session: Session, challenge: Challenge, phase: str, by: User) -> bool:
    """Reveal a hidden phase; return False if it was revealed already."""
    if revealed(session, challenge, phase):
        return False
    session.add(
        PhaseReveal(challenge_id=challenge.id, phase=phase, revealed_by_id=by.id, revealed_at=now())
    )
    bump_board(session, challenge_id=challenge.id)
    return True


def board_visible(phase: Phase, organizer: bool, is_revealed: bool) -> bool:
    """Public phases' boards are for everyone; hidden ones for organizers until revealed."""
    return phase.visibility == "public" or organizer or is_revealed


def phase_seeds(spec: ChallengeSpec, phase: Phase) -> tuple[str, list[int] | None]:
    """The seed rule and the seeds of a phase as everyone may read them.

    Fresh seeds are drawn per submission and shown with its result; a hidden phase's
    seeds stay hidden even when its spec lists them.
    """
    if phase.visibility != "public":
        return "secret", None
    return phase.seed_rule, phase.seeds(spec.id) if phase.seed_rule == "fixed" else None


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


def sees_episodes(submission: Submission, viewer: User) -> bool:
    """Per-episode results, replays and text samples: organizers see them in every phase;
    participants only in public phases, never in hidden ones, revealed or not (each
    episode is something the agent shaped, and hidden seeds stay hidden).

    Who may look at the submission at all (its author or an organizer) is the caller's
    check.
    """
    return sees_everything(submission, viewer)


def failure_message(submission: Submission, full: bool) -> str:
    """Why the submission failed, as a viewer may read it: on hidden phases (``full`` false)
    a fixed description replaces the text, which the agent could have filled."""
    if not full and submission.failure_code in HIDDEN_FAILURES:
        return f"{HIDDEN_FAILURES[submission.failure_code]} ({HIDDEN_NOTE})"
    return submission.failure_message or ""


def failure_place(submission: Submission, full: bool) -> dict[str, int] | None:
    """The episode (and step) the failure happened in, or None where it is hidden or was in
    no episode. On hidden phases where an agent fails is something it chose: never shown."""
    if not full or submission.failure_code is None or submission.failure_episode is None:
        return None
    place = {"episode": submission.failure_episode}
    if submission.failure_step is not None:
        place["step"] = submission.failure_step
    return place


def logs(submission: Submission, full: bool) -> str | None:
    """The agent's output, or None where the viewer may not read it."""
    return submission.logs if full else None


def episode_seed(seed: int, full: bool) -> int | None:
    """An episode's seed, or None where it is hidden (a revealed phase keeps its seeds)."""
    return seed if full else None


@dataclass(frozen=True)
class Progress:
    """How far a submission got and when, as one viewer may see it."""

    episodes_done: int | None
    started_at: datetime | None
    finished_at: datetime | None


def progress(submission: Submission, full: bool) -> Progress:
    """How far a submission got and when: without ``full`` sight there is no episode
    counter, and start and end show only to the minute."""
    if full:
        return Progress(submission.episodes_done, submission.started_at, submission.finished_at)
    return Progress(None, _minute(submission.started_at), _minute(submission.finished_at))


def _minute(moment: datetime | None) -> datetime | None:
    return moment.replace(second=0, microsecond=0) if moment else None
