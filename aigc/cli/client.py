"""A client for the platform's REST API, and where the ``aigc`` command keeps its sign-in."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import platformdirs
import requests

from aigc.safe_text import printable

DEFAULT_SERVER = "http://127.0.0.1:8000"
SKIPPED_WHEN_PACKING = {"__pycache__", ".git", ".venv", ".mypy_cache", ".pytest_cache"}


class ApiFailure(Exception):
    """The server refused a request, or could not be reached; ``str`` says what to do."""

    def __init__(self, message: str, status: int = 0, body: dict[str, Any] | None = None):
        super().__init__(message)
        self.status, self.body = status, body or {}


@dataclass
class Login:
    server: str
    username: str
    token: str
    expires_at: str | None = None  # as the server said, ISO 8601 (older sign-ins lack it)


def config_path() -> Path:
    """Where the sign-in is kept (``AIGC_CONFIG`` overrides it)."""
    return Path(
        os.environ.get("AIGC_CONFIG") or Path(platformdirs.user_config_dir("aigc")) / "login.json"
    )


def server_url(address: str) -> str:
    """A server's address as a URL: ``127.0.0.1:8311`` means ``http://127.0.0.1:8311``."""
    address = address.strip()
    scheme, separator, rest = address.partition("://")
    if not separator:
        scheme, rest = "http", address
    rest = rest.rstrip("/")
    if scheme.lower() not in ("http", "https") or not rest or "/" in rest:
        raise ApiFailure(
            f"{printable(address, one_line=True)!r} is not a server address: "
            "give HOST:PORT or http(s)://HOST:PORT, e.g. http://127.0.0.1:8000"
        )
    return f"{scheme.lower()}://{rest}"


def _kept() -> dict[str, Any]:
    try:
        kept = json.loads(config_path().read_text())
    except (OSError, ValueError):
        return {}
    return kept if isinstance(kept, dict) else {}


def load_login() -> Login | None:
    """The kept sign-in, or None when signed out (or never signed in)."""
    try:
        return Login(**_kept())
    except TypeError:  # signed out: only the server is kept
        return None


def last_server() -> str | None:
    """The server of the last sign-in, kept after signing out."""
    server = _kept().get("server")
    return server if isinstance(server, str) and server else None


def save_login(login: Login) -> Path:
    """Write the sign-in readable by the user only: it holds a token."""
    return _write(asdict(login))


def _write(kept: dict[str, Any]) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(kept, handle)
    os.replace(temporary, path)
    return path


def forget_login() -> None:
    """Forget the token, keep the server: the next ``aigc login`` goes to it again."""
    server = last_server()
    if server is None:
        config_path().unlink(missing_ok=True)
    else:
        _write({"server": server})


class _ProgressReader:
    """A body that reports how much of it has been sent."""

    def __init__(self, data: bytes, progress: Callable[[int, int], None]):
        self.data, self.sent, self.progress = data, 0, progress

    def __len__(self) -> int:
        return len(self.data)

    def read(self, size: int = -1) -> bytes:
        size = len(self.data) - self.sent if size < 0 else size
        chunk = self.data[self.sent : self.sent + min(size, 256 * 1024)]
        self.sent += len(chunk)
        self.progress(self.sent, len(self.data))
        return chunk


def pack_folder(folder: Path) -> Path:
    """Zip an agent folder as ``<folder name>.zip`` in a fresh temporary folder (caches
    and VCS folders left out); remove that folder when done with the archive."""
    members = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if SKIPPED_WHEN_PACKING & set(relative.parts) or path.suffix == ".pyc":
            continue
        if path.is_symlink():
            raise ApiFailure(f"{relative} is a symbolic link: replace it with the file itself")
        if path.is_file():
            members.append((path, relative.as_posix()))
    archive = (
        Path(tempfile.mkdtemp(prefix="aigc-upload-")) / f"{folder.resolve().name or 'agent'}.zip"
    )
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, name in members:
            zf.write(path, name)
    return archive


def terminal_safe(value: Any) -> Any:
    """Show control characters in every string of a JSON answer as visible escapes.

    Much of what the server sends was written by participants (agents' output, failure
    messages, names, filenames); none of it may move the reader's cursor, recolour their
    terminal, set its title or write to its clipboard.
    """
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list):
        return [terminal_safe(item) for item in value]
    if isinstance(value, dict):
        return {terminal_safe(key): terminal_safe(item) for key, item in value.items()}
    return value


class Client:
    """Calls the REST API; errors become ApiFailure with the server's one-line message."""

    def __init__(self, server: str, token: str | None = None, timeout: float = 60.0):
        self.server = server_url(server)
        self.token = token
        self.timeout = timeout
        self.http = requests.Session()

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json", **(extra or {})}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _send(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        data: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        try:
            response = self.http.request(
                method,
                f"{self.server}/api/v1{path}",
                json=json_body,
                data=data,
                params=params,
                headers=self._headers(headers),
                timeout=self.timeout,
            )
        except requests.ConnectionError:
            raise ApiFailure(
                f"cannot reach {self.server}: is the server running (aigc serve)? "
                "Sign in to another one with aigc login --server URL"
            ) from None
        except requests.Timeout:
            raise ApiFailure(f"{self.server} did not answer within {self.timeout:g} s") from None
        except requests.RequestException as exc:
            reason = printable(str(exc), one_line=True)
            raise ApiFailure(
                f"cannot send to {self.server} ({reason}): check the address"
            ) from None
        if response.status_code >= 400:
            try:
                error = response.json().get("error", {})
            except (ValueError, AttributeError):
                error = {}
            message = error.get("message") or f"the server answered {response.status_code}"
            raise ApiFailure(
                printable(str(message), one_line=True), response.status_code, terminal_safe(error)
            )
        return response

    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send a request and return its JSON answer (None for 204), safe to print."""
        response = self._send(method, path, json_body, data, params, headers)
        if response.status_code == 204:
            return None
        try:
            return terminal_safe(response.json())
        except ValueError:
            raise ApiFailure(f"{self.server} answered something that is not JSON") from None

    def text(self, path: str, params: dict[str, Any] | None = None) -> str:
        """GET a text answer (a CSV export, say), safe to print."""
        return printable(self._send("GET", path, params=params).text)

    def download(self, path: str, limit: int) -> bytes:
        """GET a file's bytes (a challenge's bundle, say), refusing more than ``limit``."""
        response = self._send("GET", path, headers={"Accept": "*/*"})
        data = response.content
        if len(data) > limit:
            raise ApiFailure(f"{self.server}{path} sent more than {limit} bytes: not kept")
        return data

    def upload(
        self, archive: Path, challenge: str, phase: str, progress: Callable[[int, int], None]
    ) -> dict[str, Any]:
        """Upload a package archive as a multipart form, reporting bytes sent."""
        boundary = secrets.token_hex(16)
        fields = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in (("challenge", challenge), ("phase", phase))
        )
        head = (
            f'{fields}--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{_header_safe(archive.name)}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        body = head + archive.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        return self.call(
            "POST",
            "/submissions",
            data=_ProgressReader(body, progress),
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(len(body)),
            },
        )

    def send_file(self, method: str, path: str, data: bytes, filename: str) -> dict[str, Any]:
        """Send one file (a challenge bundle, say) as the ``file`` field of a multipart form."""
        boundary = secrets.token_hex(16)
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{_header_safe(filename)}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        body = head + data + f"\r\n--{boundary}--\r\n".encode()
        return self.call(
            method,
            path,
            data=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )


def _header_safe(name: str) -> str:
    """A file name that cannot end or split the multipart header it is written into."""
    return "".join("_" if ch in '"\\' or not ch.isprintable() else ch for ch in name)
