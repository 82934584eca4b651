"""Passwords, API tokens, and who is asking."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from aigc.platform.models import ApiToken, User, now

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{2,31}")
MIN_PASSWORD = 8
TOKEN_PREFIX = "aigc_"


class AuthError(ValueError):
    """A credential problem; the message says what to do."""


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
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not check_password_hash(user.password_hash, password):
        return None
    return user


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, name: str = "") -> str:
    """Create an API token; only its hash is stored, so this is the one time it is seen."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_hash_token(token), name=name[:64]))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(token)))
    if record is None:
        return None
    record.last_used_at = now()
    return record.user


def revoke_token(session: Session, token: str) -> bool:
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(token)))
    if record is None:
        return False
    session.delete(record)
    return True
