"""Challenges on this machine: built in, a YAML file, or downloaded from a server.

``aigc challenge get ID`` keeps a server's challenge in the user's data folder
(``AIGC_CHALLENGES_DIR`` overrides it), one folder per challenge id:
``challenge.yaml`` (the spec as participants may read it: no hidden seeds),
``bundle/`` (the organizer's environment code, unless they keep it private) and
``source.json`` (the server and the version). ``--challenge ID`` of ``init-agent``,
``check`` and ``evaluate`` finds built-in challenges first, then these.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from aigc.submissions.bundle import find_bundle_root
from aigc.submissions.challenge import (
    ChallengeSpec,
    SpecError,
    builtin_challenge_ids,
    get_challenge,
    parse_challenge_yaml,
)

SPEC_FILE, BUNDLE_FOLDER, SOURCE_FILE = "challenge.yaml", "bundle", "source.json"
_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


@dataclass(frozen=True)
class LocalChallenge:
    """A challenge to play here; ``bundle`` is the folder of its environment's code, if any."""

    spec: ChallengeSpec
    bundle: Path | None = None
    server: str | None = None  # where it was downloaded from; None when built in or a file

    @property
    def private(self) -> bool:
        return self.spec.environment.in_bundle and self.bundle is None


def challenges_dir() -> Path:
    """Where downloaded challenges are kept (``AIGC_CHALLENGES_DIR`` overrides it)."""
    return Path(
        os.environ.get("AIGC_CHALLENGES_DIR")
        or Path(platformdirs.user_data_dir("aigc")) / "challenges"
    )


def downloaded_ids() -> list[str]:
    """The ids of the challenges ``aigc challenge get`` kept here."""
    root = challenges_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / SPEC_FILE).is_file())


def private_message(challenge_id: str) -> str:
    return (
        f"the environment of {challenge_id!r} is private: its organizer does not publish its "
        "code, so only the platform can evaluate it (aigc submit)"
    )


def find_challenge(name: str) -> LocalChallenge:
    """A built-in challenge, a YAML file, a bundle folder, or one ``aigc challenge get`` kept."""
    if Path(name).is_dir() and (Path(name) / SOURCE_FILE).is_file():
        return _downloaded(Path(name))  # kept by aigc challenge get --out
    if Path(name).is_dir():
        bundle = find_bundle_root(Path(name))
        text = (bundle / SPEC_FILE).read_text(encoding="utf-8")
        return LocalChallenge(parse_challenge_yaml(text, bundle=bundle), bundle)
    if name in builtin_challenge_ids() or not _ID.fullmatch(name) or Path(name).is_file():
        return LocalChallenge(get_challenge(name))
    folder = challenges_dir() / name
    if not (folder / SPEC_FILE).is_file():
        known = [*builtin_challenge_ids(), *downloaded_ids()]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}? Or " if close else ""
        raise SpecError(
            f"unknown challenge {name!r}: it is neither built in nor downloaded; "
            f"{hint}run aigc challenge get {name} (after aigc login --server URL)"
        )
    return _downloaded(folder)


def _downloaded(folder: Path) -> LocalChallenge:
    text = (folder / SPEC_FILE).read_text(encoding="utf-8")
    try:
        server = json.loads((folder / SOURCE_FILE).read_text()).get("server")
    except (OSError, ValueError, AttributeError):
        server = None
    bundle = folder / BUNDLE_FOLDER
    if not bundle.is_dir():
        spec = parse_challenge_yaml(text, build_environment=False)
        if not spec.environment.in_bundle:  # a registered environment: checked as any spec
            spec = parse_challenge_yaml(text)
        return LocalChallenge(spec, None, server)
    return LocalChallenge(parse_challenge_yaml(text, bundle=bundle), bundle, server)


def save_challenge(
    spec_yaml: str,
    bundle_folder: Path | None,
    server: str,
    version: int,
    out: Path | None = None,
) -> tuple[Path, ChallengeSpec]:
    """Keep a downloaded challenge in the data folder, or in ``out`` (an older download
    replaced); return its folder and spec."""
    spec = (
        parse_challenge_yaml(spec_yaml, bundle=bundle_folder)
        if bundle_folder is not None
        else parse_challenge_yaml(spec_yaml, build_environment=False)
    )
    if out is not None and out.exists() and not (out / SOURCE_FILE).is_file():
        if any(out.iterdir()):
            raise SpecError(f"{out} is not empty: choose a new folder for the challenge")
        out.rmdir()
    root = challenges_dir() if out is None else out.resolve().parent
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{spec.id}-", dir=root))
    try:
        (staging / SPEC_FILE).write_text(spec_yaml, encoding="utf-8")
        (staging / SOURCE_FILE).write_text(json.dumps({"server": server, "version": version}))
        if bundle_folder is not None:
            shutil.copytree(bundle_folder, staging / BUNDLE_FOLDER)
            (staging / BUNDLE_FOLDER / SPEC_FILE).write_text(spec_yaml, encoding="utf-8")
        target = root / spec.id if out is None else out.resolve()
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{spec.id}-old-", dir=root))
            target.rename(old / "previous")
            shutil.rmtree(old, ignore_errors=True)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target, spec
