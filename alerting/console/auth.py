"""Who may do what in the console: users with hashed secrets, roles, sessions and CSRF tokens.

Passwords and tokens are never stored: the config holds their hashes. A password is hashed
with scrypt (memory-hard, in the standard library) under a random salt; a token is a long
random string, so a SHA-256 of it is enough. A session is a random id in an HttpOnly cookie,
held in this process only (a restart logs everyone out) with its own CSRF token, which every
form carries back and every POST must match.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024
TOKEN_BYTES = 32


class Role(IntEnum):
    """Each role can do what the ones below it can."""

    viewer = 1  # read pages, entities, snoozes
    investigator = 2  # acknowledge, give verdicts, snooze and lift snoozes
    admin = 3  # read the audit log

    @classmethod
    def named(cls, name: str) -> Role | None:
        return cls.__members__.get(name)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """`scrypt$N$r$p$<salt>$<hash>` (base64), what a user's `password_hash` holds."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=SCRYPT_MAXMEM
    )
    return "$".join(
        ("scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest))
    )


def hash_token(token: str) -> str:
    """`sha256$<hex>`, what a user's `token_hash` holds."""
    return "sha256$" + hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def check_hash(stored: str) -> str | None:
    """Why `stored` is not a hash this module wrote, or None."""
    parts = stored.split("$")
    if parts[0] == "sha256":
        ok = len(parts) == 2 and len(parts[1]) == 64 and _is_hex(parts[1])
        return None if ok else "a sha256 hash is `sha256$<64 hex digits>`"
    if parts[0] == "scrypt":
        try:
            n, r, p = (int(x) for x in parts[1:4])
            base64.b64decode(parts[4], validate=True)
            base64.b64decode(parts[5], validate=True)
        except (ValueError, IndexError):
            return "an scrypt hash is `scrypt$N$r$p$<salt>$<hash>` (from `console hash-password`)"
        if len(parts) != 6 or n < 2**10 or n & (n - 1) or not (0 < r <= 64 and 0 < p <= 16):
            return "scrypt parameters out of range (N a power of two >= 1024, r <= 64, p <= 16)"
        return None
    return "unknown hash scheme (scrypt$... for passwords, sha256$... for tokens)"


def verify(stored: str, secret: str) -> bool:
    """Whether `secret` hashes to `stored`, compared in constant time."""
    parts = stored.split("$")
    if parts[0] == "sha256" and len(parts) == 2:
        return hmac.compare_digest(hash_token(secret), stored)
    if parts[0] == "scrypt" and len(parts) == 6 and check_hash(stored) is None:
        n, r, p = (int(x) for x in parts[1:4])
        salt, want = base64.b64decode(parts[4]), base64.b64decode(parts[5])
        got = hashlib.scrypt(
            secret.encode(), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=len(want)
        )
        return hmac.compare_digest(got, want)
    return False


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    password_hash: str | None = None
    token_hash: str | None = None

    def can(self, needed: Role) -> bool:
        return self.role >= needed

    def accepts(self, secret: str) -> bool:
        """A login with this secret: the password, or the token."""
        return any(
            h is not None and verify(h, secret) for h in (self.password_hash, self.token_hash)
        )


@dataclass(slots=True)
class Session:
    id: str
    user: User
    csrf: str
    expires: float


@dataclass(slots=True)
class Sessions:
    """The open sessions of this process, each ending `ttl_s` after it was opened."""

    ttl_s: float
    clock: Callable[[], float] = time.time
    _open: dict[str, Session] = field(default_factory=dict)

    def open(self, user: User) -> Session:
        self._expire()
        session = Session(
            secrets.token_urlsafe(32), user, secrets.token_urlsafe(32), self.clock() + self.ttl_s
        )
        self._open[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self._open.get(session_id)
        if session is None or session.expires <= self.clock():
            self._open.pop(session_id, None)
            return None
        return session

    def close(self, session_id: str) -> None:
        self._open.pop(session_id, None)

    def _expire(self) -> None:
        now = self.clock()
        for sid in [sid for sid, s in self._open.items() if s.expires <= now]:
            del self._open[sid]


def csrf_ok(session: Session, sent: str | None) -> bool:
    return sent is not None and hmac.compare_digest(session.csrf.encode(), sent.encode())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True
