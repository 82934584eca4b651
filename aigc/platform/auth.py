"""Passwords, API tokens, browsers' sign-ins, and who is asking."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from aigc.platform.models import ApiToken, User, WebSession, now

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{2,31}")
MIN_PASSWORD = 8
TOKEN_PREFIX = "aigc_"
DEFAULT_LIFETIME = timedelta(days=30)
LAST_USED_STEP = timedelta(minutes=1)  # how finely a token's last use is kept
TOKEN_EXPIRED = "the API token expired: sign in again (aigc login)"


class AuthError(ValueError):
    """A credential problem; the message says what to do."""


class TokenExpired(AuthError):
    """A token that was valid once, past its lifetime."""


_dummy_hash: str | None = None


def _hash_for_unknown_users() -> str:
    """A hash made as account passwords are (made once per process), never matched."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = generate_password_hash(secrets.token_urlsafe(16))
    return _dummy_hash


def check_username(username: str) -> str:
    if not isinstance(username, str) or not USERNAME.fullmatch(username):
        raise AuthError(
            "a username is 3 to 32 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return username


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AuthError(f"a password needs at least {MIN_PASSWORD} characters")
    return password


def create_user(session: Session, username: str, password: str, role: str) -> User:
    """Create an account; raise AuthError if the name is taken or the input is invalid."""
    check_username(username)
    check_password(password)
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise AuthError(f"the username {username!r} is taken: choose another")
    user = User(username=username, password_hash=generate_password_hash(password), role=role)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The user whose password this is, or None.

    Exactly one password hash is computed either way, for an unknown user (or one that
    cannot sign in) against a dummy hash: the answer takes as long whether the name exists.
    """
    user = session.scalar(select(User).where(User.username == username))
    usable = user is not None and "$" in user.password_hash
    stored = user.password_hash if user is not None and usable else _hash_for_unknown_users()
    matches = check_password_hash(stored, password)
    return user if usable and matches else None


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session, user: User, name: str = "", expires_at: datetime | None = None
) -> str:
    """Create an API token; only its hash is stored, so this is the one time it is seen."""
    moment = now()
    # The user's expired tokens go: no one can use them any more.
    session.execute(
        delete(ApiToken).where(ApiToken.user_id == user.id, ApiToken.expires_at <= moment)
    )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id,
            token_hash=_hash_token(token),
            name=name[:64],
            expires_at=expires_at or moment + DEFAULT_LIFETIME,
        )
    )
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """The token's user, or None for a token never issued or revoked; raise TokenExpired."""
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(token)))
    if record is None:
        return None
    moment = now()
    if record.expires_at <= moment:
        raise TokenExpired(TOKEN_EXPIRED)
    # Kept to the minute: writing it on every request would make each one a write, which on
    # SQLite waits its turn behind the workers' writes.
    if record.last_used_at is None or moment - record.last_used_at >= LAST_USED_STEP:
        record.last_used_at = moment
    return record.user


def revoke_token(session: Session, token: str) -> bool:
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(token)))
    if record is None:
        return False
    session.delete(record)
    return True


def start_web_session(session: Session, user: User, lifetime: timedelta) -> str:
    """Record a browser's sign-in; return the key its cookie carries (only its hash is kept)."""
    moment = now()
    session.execute(delete(WebSession).where(WebSession.expires_at <= moment))
    key = secrets.token_urlsafe(32)
    session.add(
        WebSession(user_id=user.id, token_hash=_hash_token(key), expires_at=moment + lifetime)
    )
    session.flush()
    return key


def user_for_web_session(session: Session, key: str) -> User | None:
    """The user signed in with this key, while the sign-in lasts and is not ended."""
    record = session.scalar(
        select(WebSession).where(
            WebSession.token_hash == _hash_token(key), WebSession.expires_at > now()
        )
    )
    return record.user if record is not None else None


def end_web_session(session: Session, key: str) -> None:
    """Sign a browser out: its cookie, and every copy of it, no longer signs anyone in."""
    session.execute(delete(WebSession).where(WebSession.token_hash == _hash_token(key)))
