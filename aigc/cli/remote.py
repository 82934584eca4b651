"""The participant's and organizer's commands that talk to a platform server."""

from __future__ import annotations

import getpass
import json
import shutil
import time
from pathlib import Path
from typing import Any

import click
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from aigc.cli.client import (
    DEFAULT_SERVER,
    ApiFailure,
    Client,
    Login,
    forget_login,
    last_server,
    load_login,
    pack_folder,
    save_login,
    server_url,
)
from aigc.cli.console import err, fail, out, shown
from aigc.platform.statuses import ENDED, SubmissionStatus
from aigc.submissions.package import PackageError, open_package, read_manifest

QUOTAS_SHOWN = 5  # challenges whose quotas aigc status shows
TIMED_OUT = 124  # the exit status of submit --timeout when the time ran out, as timeout(1)
FOLLOW_WAIT = 10.0  # seconds submit --wait lets the server hold each request for a change


def _client(required: bool = True) -> Client:
    login = load_login()
    if login is None:
        if required:
            raise fail("not signed in: run aigc login --server URL first")
        return Client(last_server() or DEFAULT_SERVER)
    return Client(login.server, login.token)


def _server_option(
    _context: click.Context, _parameter: click.Parameter, value: str | None
) -> str | None:
    """``--server HOST:PORT`` as ``http://HOST:PORT``; a one-line error for what is no address."""
    if value is None:
        return None
    try:
        return server_url(value)
    except ApiFailure as exc:
        raise fail(f"--server: {exc}") from None


def _call(client: Client, method: str, path: str, **kwargs: Any) -> Any:
    try:
        return client.call(method, path, **kwargs)
    except ApiFailure as exc:
        raise fail(str(exc)) from None


@click.command()
@click.option(
    "--server",
    callback=_server_option,
    help=f"The platform, HOST:PORT or a URL (default: the last one, or {DEFAULT_SERVER}).",
)
@click.option("--username", "-u", help="Asked for when left out.")
@click.option("--password", help="Asked for when left out.")
def login(server: str | None, username: str | None, password: str | None) -> None:
    """Sign in to a platform server and keep the token for the other commands."""
    server = server or last_server() or DEFAULT_SERVER
    username = username or click.prompt("Username")
    password = password if password is not None else getpass.getpass("Password: ")
    body = _call(
        Client(server),
        "POST",
        "/tokens",
        json_body={"username": username, "password": password, "name": "aigc cli"},
    )
    login = Login(server, username, body["token"], body.get("expires_at"))
    path = save_login(login)
    out.print(f"signed in to {server} as {username} ({body['user']['role']}); token kept in {path}")


@click.command()
def logout() -> None:
    """Revoke the kept token on the server and forget it here (the server is kept)."""
    login = load_login()
    if login is None:
        out.print("not signed in")
        return
    try:
        Client(login.server, login.token, timeout=10).call("DELETE", "/tokens/current")
    except ApiFailure as exc:
        if exc.status != 401:  # a 401: the token was expired or revoked already
            forget_login()
            reason = "did not answer" if exc.status == 0 else f"refused to revoke it ({exc})"
            until = f"until {login.expires_at[:10]}" if login.expires_at else "until it expires"
            err.print(
                f"signed out here only: {login.server} {reason}, "
                f"so the token stays valid there {until}",
                markup=False,
            )
            return
    forget_login()
    out.print(f"signed out of {login.server}")


@click.command("challenges")
def list_challenges() -> None:
    """List the server's challenges (the built-in ones when not signed in)."""
    if load_login() is None:
        from aigc.submissions.challenge import builtin_challenge_ids  # loads gymnasium

        out.print("not signed in (aigc login): the challenges built into this installation are")
        for challenge_id in builtin_challenge_ids():
            out.print(f"  {challenge_id}")
        return
    body = _call(_client(), "GET", "/challenges")
    table = Table("id", "title", "environment", "phases", "participants")
    for c in body["challenges"]:
        phases = ", ".join(f"{p['id']} ({p['visibility']}, {p['state']})" for p in c["phases"])
        table.add_row(
            shown(c["id"]),
            shown(c["title"]),
            shown(c["environment"]),
            shown(phases),
            str(c["participants"]),
        )
    out.print(table)


class _ChallengeGroup(click.Group):
    """``aigc challenge``: ``check`` and ``get`` (in :mod:`aigc.cli.challenges`) are imported
    when used."""

    LAZY = ("check", "get")

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.LAZY and cmd_name not in self.commands:
            from aigc.cli import challenges

            self.add_command(getattr(challenges, cmd_name))
        return self.commands.get(cmd_name)


@click.group(cls=_ChallengeGroup)
def challenge() -> None:
    """Check, create, update, show or archive a challenge: YAML spec or bundle (organizers)."""


# How long the server may take to resolve runtime packages and build their image.
RUNTIME_BUILD_TIMEOUT = 1800.0


def _client_for(spec: Any) -> Client:
    """A client that waits long enough for the server to build the spec's runtime."""
    client = _client()
    if spec.runtime.packages:
        out.print(
            f"the server resolves {', '.join(spec.runtime.packages)} and builds the challenge's "
            "image: the first time this can take minutes"
        )
        client.timeout = RUNTIME_BUILD_TIMEOUT
    return client


def _send_spec(method: str, file: Path) -> dict[str, Any]:
    from aigc.extras import MissingExtra
    from aigc.submissions.challenge import SpecError, parse_challenge_yaml  # loads gymnasium

    if file.is_dir() or not file.name.lower().endswith((".yaml", ".yml")):
        from aigc.cli.challenges import read_bundle  # a bundle: checked here, then uploaded

        try:
            data, filename, bundle_spec = read_bundle(file)
        except (SpecError, MissingExtra) as exc:
            raise fail(f"{file}: {exc}") from None
        where = "/challenges" if method == "POST" else f"/challenges/{bundle_spec.id}"
        try:
            return _client_for(bundle_spec).send_file(method, where, data, filename)
        except ApiFailure as exc:
            raise fail(str(exc)) from None
    text = file.read_text(encoding="utf-8")
    try:
        spec = parse_challenge_yaml(text)  # the same checks the server runs, without the trip
    except (SpecError, MissingExtra) as exc:
        raise fail(f"{file}: {exc}") from None
    path = "/challenges" if method == "POST" else f"/challenges/{spec.id}"
    return _call(
        _client_for(spec),
        method,
        path,
        data=text.encode(),
        headers={"Content-Type": "application/yaml"},
    )


@challenge.command("create")
@click.argument("file", metavar="PATH", type=click.Path(exists=True, path_type=Path))
def challenge_create(file: Path) -> None:
    """Create a challenge from a YAML spec, or a bundle folder or archive."""
    body = _send_spec("POST", file)
    out.print(f"created challenge {body['id']} (version {body['version']})")


@challenge.command("update")
@click.argument("file", metavar="PATH", type=click.Path(exists=True, path_type=Path))
def challenge_update(file: Path) -> None:
    """Update a challenge from YAML or a bundle (a new version; old submissions keep theirs)."""
    body = _send_spec("PUT", file)
    if body["changed"]:
        out.print(f"updated challenge {body['id']} to version {body['version']}")
    else:
        out.print(f"challenge {body['id']} is unchanged (version {body['version']})")


@challenge.command("show")
@click.argument("challenge_id", metavar="ID")
def challenge_show(challenge_id: str) -> None:
    """Show a challenge: its environment, phases and the packages its agents run with."""
    body = _call(_client(required=False), "GET", f"/challenges/{challenge_id}")
    out.print(f"{shown(body['id'])}: {shown(body['title'])} (version {body['version']})")
    out.print(f"environment  {shown(body['environment'])}")
    for phase in body["phases"]:
        out.print(
            f"phase        {shown(phase['id'])}: {phase['episodes']} episodes, {phase['state']}"
        )
    runtime = body.get("runtime") or {}
    out.print("runtime      Python 3.11, numpy, gymnasium, msgpack, torch")
    for pin in runtime.get("installed") or ():
        out.print(f"  + {shown(pin)}")
    if runtime.get("packages"):
        asked = ", ".join(shown(p) for p in runtime["packages"])
        out.print(f"  (the organizer asked for {asked})")


@challenge.command("archive")
@click.argument("challenge_id")
def challenge_archive(challenge_id: str) -> None:
    """Archive a challenge: off the lists, no new submissions; results and pages kept."""
    _call(_client(), "POST", f"/challenges/{challenge_id}/archive")
    out.print(
        f"archived challenge {shown(challenge_id)}: it takes no more submissions "
        f"(aigc challenge unarchive {shown(challenge_id)} brings it back)"
    )


@challenge.command("unarchive")
@click.argument("challenge_id")
def challenge_unarchive(challenge_id: str) -> None:
    """Bring an archived challenge back to the lists and open it to submissions again."""
    _call(_client(), "POST", f"/challenges/{challenge_id}/unarchive")
    out.print(f"challenge {shown(challenge_id)} is back: listed and open to submissions")


def _archive_for(package: Path) -> tuple[Path, bool, str | None]:
    """Return (archive, made_here, challenge in aigc.toml), checking the manifest first."""
    try:
        with open_package(package) as folder:
            manifest = read_manifest(folder)
    except PackageError as exc:
        raise fail(str(exc)) from None
    if package.is_dir():
        try:
            return pack_folder(package), True, manifest.challenge
        except ApiFailure as exc:
            raise fail(str(exc)) from None
    return package, False, manifest.challenge


def _upload(client: Client, archive: Path, challenge_id: str, phase: str) -> dict[str, Any]:
    with Progress(
        TextColumn("uploading"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("upload", total=archive.stat().st_size)

        def sent(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            return client.upload(archive, challenge_id, phase, sent)
        except ApiFailure as exc:
            raise fail(str(exc)) from None


def _wait(
    client: Client, submission: dict[str, Any], timeout: float | None = None
) -> dict[str, Any]:
    """Follow a submission until it ends, or until ``timeout`` seconds have passed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(submission["status"], total=submission["episodes_total"] or None)
        while submission["status"] not in ENDED:
            left = FOLLOW_WAIT if deadline is None else deadline - time.monotonic()
            if left <= 0:
                break
            # The server answers once the submission changes; one that cannot wait (or an
            # older one) answers at once, and is then asked again a second later.
            asked, seen = time.monotonic(), (submission["status"], submission["episodes_done"])
            submission = _call(
                client,
                "GET",
                f"/submissions/{submission['id']}",
                params={"wait": f"{min(FOLLOW_WAIT, left):.3f}"},
            )
            unchanged = (submission["status"], submission["episodes_done"]) == seen
            if unchanged and time.monotonic() - asked < 0.5:
                time.sleep(max(0.0, min(1.0, left - (time.monotonic() - asked))))
            progress.update(
                task, description=submission["status"], completed=submission["episodes_done"]
            )
    return submission


def _show(submission: dict[str, Any]) -> None:
    status = submission["status"]
    colour = {
        SubmissionStatus.FINISHED: "green",
        SubmissionStatus.FAILED: "red",
        SubmissionStatus.CANCELLED: "yellow",
    }.get(status, "cyan")
    where = shown(f"{submission['challenge']}/{submission['phase']}")
    title = f"submission {submission['id']}: {where}"
    out.print(f"{title} — [{colour}]{status}[/]")
    result, failure = submission.get("result"), submission.get("failure")
    if result and result["episodes"]:
        metrics = ", ".join(
            f"{name} {value:.4g}" if value is not None else f"{name} —"
            for name, value in result["metrics"].items()
        )
        out.print(f"  {metrics} over {len(result['episodes'])} episodes")
    elif submission.get("details_hidden") and status == SubmissionStatus.FINISHED:
        out.print("  scored; the score of a hidden phase shows once the organizers reveal it")
    if failure:
        out.print(f"  [red]{shown(failure['code'])}[/]: {shown(failure['message'])}")
    if submission.get("disqualified"):
        out.print(f"  [red]disqualified[/]: {shown(submission['disqualified_reason'])}")


def _left(quota: dict[str, Any]) -> str:
    """What is left of a phase's quotas, in words."""
    today = "no daily limit" if quota["per_day"] is None else f"{quota['left_today']} left today"
    if quota["total"] is None:
        return today
    line = f"{today}, {quota['left_total']} of {quota['total']} in total"
    if quota["next_at"]:
        line += f" (next possible at {quota['next_at'][:16].replace('T', ' ')} UTC)"
    return line


def _check_size(archive: Path, quota: dict[str, Any]) -> None:
    """Refuse an archive the server would refuse, before sending it."""
    size, limit = archive.stat().st_size, quota["max_upload_bytes"]
    if size > limit:
        raise fail(
            f"the package archive has {size} bytes, more than the {limit} the server allows "
            f"({limit / 2**20:.1f} MiB): leave out data and checkpoints it does not need"
        )


@click.command()
@click.argument("package", type=click.Path(exists=True, path_type=Path))
@click.option("--challenge", "-c", "challenge_id", help="Default: the one in aigc.toml.")
@click.option("--phase", "-p", default="dev", show_default=True)
@click.option("--wait", "-w", is_flag=True, help="Follow the evaluation until it ends.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    help="Wait at most this many seconds (implies --wait); the evaluation goes on.",
)
def submit(
    package: Path, challenge_id: str | None, phase: str, wait: bool, timeout: float | None
) -> None:
    """Submit an agent folder or archive to a challenge phase on the server.

    With --wait it exits 0 once the submission is scored, 1 if it failed or was cancelled,
    and with --timeout 124 if it had not ended in time.
    """
    client = _client()
    archive, made_here, in_manifest = _archive_for(package)
    challenge_id = challenge_id or in_manifest
    if challenge_id is None:
        raise fail('no challenge given: pass --challenge ID or add challenge = "ID" to aigc.toml')
    try:
        try:
            _check_size(archive, client.call("GET", f"/challenges/{challenge_id}/quota"))
        except ApiFailure as exc:
            if exc.status != 404:  # an unknown or archived challenge: the upload says which
                raise fail(str(exc)) from None
        submission = _upload(client, archive, challenge_id, phase)
    finally:
        if made_here:
            shutil.rmtree(archive.parent, ignore_errors=True)
    out.print(f"submitted as {submission['id']} to {challenge_id}/{phase}: {submission['status']}")
    for left in _call(client, "GET", f"/challenges/{challenge_id}/quota")["phases"]:
        if left["phase"] == phase:
            out.print(f"quota of {shown(challenge_id)}/{shown(phase)}: {_left(left)}")
    if wait or timeout is not None:
        submission = _wait(client, submission, timeout)
        if submission["status"] not in ENDED:
            err.print(
                f"submission {submission['id']} is still {submission['status']} after "
                f"{timeout:g} s: it goes on; follow it with aigc status {submission['id']}"
            )
            raise SystemExit(TIMED_OUT)
        _show(submission)
        if submission["status"] != SubmissionStatus.FINISHED:
            raise SystemExit(1)
    else:
        out.print(f"follow it with aigc status {submission['id']}")


@click.command()
@click.argument("submission_id", required=False, type=int)
@click.option("--challenge", "-c", "challenge_id", help="Only this challenge's submissions.")
@click.option("--episodes", is_flag=True, help="With an ID: list every episode too.")
def status(submission_id: int | None, challenge_id: str | None, episodes: bool) -> None:
    """Show one submission, or list yours and what is left of your quotas."""
    client = _client()
    if submission_id is not None:
        _show(_call(client, "GET", f"/submissions/{submission_id}"))
        if episodes:
            from aigc.cli.replays import print_episodes

            print_episodes(submission_id)
        return
    params = {"challenge": challenge_id} if challenge_id else None
    body = _call(client, "GET", "/submissions", params=params)
    table = Table("id", "challenge/phase", "package", "status", "score", "submitted")
    for s in body["submissions"]:
        score = s["result"]["score"] if s.get("result") else None
        table.add_row(
            str(s["id"]),
            shown(f"{s['challenge']}/{s['phase']}"),
            shown(s["package"]["name"]),
            s["status"] + (" (disqualified)" if s["disqualified"] else ""),
            "—" if score is None else f"{score:.4g}",
            (s["created_at"] or "")[:16].replace("T", " "),
        )
    out.print(table)
    # What is left to submit: to the challenge asked about, or to those listed.
    listed = [challenge_id] if challenge_id else []
    listed += [s["challenge"] for s in body["submissions"] if s["challenge"] not in listed]
    for slug in listed[:QUOTAS_SHOWN]:
        quota = _call(client, "GET", f"/challenges/{slug}/quota")
        for left in quota["phases"]:
            out.print(f"quota of {shown(slug)}/{shown(left['phase'])}: {_left(left)}")


@click.command()
@click.argument("submission_id", type=int)
def logs(submission_id: int) -> None:
    """Print what a submission's agent wrote, in order, each line marked out| or err| (capped)."""
    from aigc.safe_text import printable

    body = _call(_client(), "GET", f"/submissions/{submission_id}/logs")
    if body.get("hidden"):
        out.print(body.get("note", "the logs of hidden phases are hidden"))
    else:
        click.echo(printable(body["logs"]) or "(the agent wrote nothing)")


@click.command()
@click.argument("submission_id", type=int)
def cancel(submission_id: int) -> None:
    """Cancel a queued or running submission."""
    submission = _call(_client(), "POST", f"/submissions/{submission_id}/cancel")
    if submission["status"] == SubmissionStatus.RUNNING:
        out.print(f"cancel requested: submission {submission_id} stops within moments")
    else:
        _show(submission)


def _figure(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


@click.command()
@click.argument("challenge_id")
@click.option("--phase", "-p", default="dev", show_default=True)
@click.option(
    "--format",
    "form",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option(
    "--server",
    callback=_server_option,
    help="Ask this server, HOST:PORT or a URL (default: the one signed in to).",
)
def leaderboard(challenge_id: str, phase: str, form: str, server: str | None) -> None:
    """Show a challenge phase's leaderboard (public phases need no sign-in)."""
    client = Client(server) if server else _client(required=False)
    params = {"phase": phase, "format": "csv" if form == "csv" else "json"}
    if form == "csv":
        try:
            click.echo(client.text(f"/challenges/{challenge_id}/leaderboard", params), nl=False)
        except ApiFailure as exc:
            raise fail(str(exc)) from None
        return
    board = _call(client, "GET", f"/challenges/{challenge_id}/leaderboard", params=params)
    if form == "json":
        click.echo(json.dumps(board, indent=2))
        return
    direction = "higher" if board["higher_is_better"] else "lower"
    out.print(
        f"{shown(challenge_id)}/{shown(phase)}: {shown(board['metric'])} ({direction} is better)"
    )
    columns = board.get("columns", [])
    table = Table(
        "rank",
        "participant",
        shown(board["metric"]),
        "95% interval",
        *map(shown, columns),
        "episodes",
        "submitted",
    )
    for row in board["rows"]:
        score = "failed" if row["score"] is None else f"{row['score']:.4g}"
        interval = "—"
        if row["ci_low"] is not None:
            interval = f"{row['ci_low']:.4g} – {row['ci_high']:.4g}"
            interval += " ≈" if row["overlaps_next"] else ""
        name = shown(row["name"]) + (" (baseline)" if row["baseline"] else "")
        if row.get("outdated"):
            name += f" (v{row['challenge_version']})"
        table.add_row(
            "—" if row["rank"] is None else str(row["rank"]),
            name,
            score,
            interval,
            *(_figure(row["metrics"].get(c)) for c in columns),
            str(row["episodes"]),
            row["submitted_at"][:16].replace("T", " "),
        )
    out.print(table)
    out.print("≈: its interval overlaps the next row's, so their order could be chance")
    if any(row.get("outdated") for row in board["rows"]):
        out.print(
            f"(vN): scored under version N of the challenge, before its current version "
            f"{board['challenge_version']}"
        )
