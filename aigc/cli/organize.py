"""``aigc organize``: an organizer's work on the submissions and phases of a challenge."""

from __future__ import annotations

import click
from rich.table import Table

from aigc.cli.console import fail, out, shown
from aigc.cli.remote import _call, _client, _show
from aigc.platform.statuses import SubmissionStatus


@click.group()
def organize() -> None:
    """See everyone's submissions; rerun, disqualify, reveal (organizers)."""


@organize.command("submissions")
@click.argument("challenge_id")
@click.option("--phase", "-p", help="Only this phase's submissions.")
@click.option(
    "--status",
    "-s",
    "wanted",
    type=click.Choice([s.value for s in SubmissionStatus]),
    help="Only these.",
)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
def organize_submissions(
    challenge_id: str, phase: str | None, wanted: str | None, limit: int
) -> None:
    """List everyone's submissions to a challenge, newest first."""
    params: dict[str, object] = {"all": 1, "challenge": challenge_id, "limit": limit}
    if phase:
        params["phase"] = phase
    if wanted:
        params["status"] = wanted
    client = _client()
    if _call(client, "GET", "/me")["role"] != "organizer":
        raise fail("only organizers may do this")  # the API would list their own only
    _call(client, "GET", f"/challenges/{challenge_id}")  # an unknown challenge: its 404
    body = _call(client, "GET", "/submissions", params=params)
    table = Table("id", "entrant", "phase", "package", "status", "score", "version", "submitted")
    for s in body["submissions"]:
        score = s["result"]["score"] if s.get("result") else None
        entrant = s["user"] + (f" ({s['team']})" if s["team"] else "")
        table.add_row(
            str(s["id"]),
            shown(entrant),
            shown(s["phase"]),
            shown(s["package"]["name"]),
            s["status"] + (" (disqualified)" if s["disqualified"] else ""),
            "—" if score is None else f"{score:.4g}",
            str(s["challenge_version"]),
            (s["created_at"] or "")[:16].replace("T", " "),
        )
    out.print(table)
    out.print(f"{len(body['submissions'])} submissions")


@organize.command("rerun")
@click.argument("submission_id", type=int)
def organize_rerun(submission_id: int) -> None:
    """Evaluate a submission again, on the challenge's current version (no quota used)."""
    submission = _call(_client(), "POST", f"/submissions/{submission_id}/rerun")
    out.print(
        f"submission {submission_id} is queued again (version {submission['challenge_version']})"
    )


@organize.command("disqualify")
@click.argument("submission_id", type=int)
@click.option("--reason", "-r", required=True, help="Why: the participant sees it.")
def organize_disqualify(submission_id: int, reason: str) -> None:
    """Take a submission off every leaderboard (it is kept, with the reason)."""
    _show(
        _call(
            _client(),
            "POST",
            f"/submissions/{submission_id}/disqualify",
            json_body={"reason": reason},
        )
    )


@organize.command("reveal")
@click.argument("challenge_id")
@click.argument("phase")
def organize_reveal(challenge_id: str, phase: str) -> None:
    """Reveal a hidden phase: its leaderboard and scores become public."""
    _call(_client(), "POST", f"/challenges/{challenge_id}/phases/{phase}/reveal")
    out.print(f"phase {shown(challenge_id)}/{shown(phase)} is revealed: its leaderboard is public")


@organize.command("rerun-phase")
@click.argument("challenge_id")
@click.argument("phase")
def organize_rerun_phase(challenge_id: str, phase: str) -> None:
    """Evaluate every finished or failed submission of a phase again, on the current
    version of the challenge (no quota used)."""
    body = _call(_client(), "POST", f"/challenges/{challenge_id}/phases/{phase}/rerun")
    out.print(
        f"{len(body['queued'])} submissions of {shown(challenge_id)}/{shown(phase)} are "
        f"queued again, on version {body['version']}"
    )
