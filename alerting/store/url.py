"""Store URLs: `sqlite:///relative.db`, `sqlite:////absolute.db`, `sqlite:///:memory:`, and
`postgresql://user:password@host:port/db?sslmode=...` (also `postgres://`).

The SQLite forms follow SQLAlchemy's, which operators already know: three slashes then the path,
so an absolute path has four. A PostgreSQL URL goes to libpq as it is. Its password must never
reach a log or an error: everything shown goes through `StoreUrl.shown` or `StoreUrl.scrub`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

Dialect = Literal["sqlite", "postgresql"]
MEMORY = ":memory:"
HIDDEN = "***"


class StoreUrlError(ValueError):
    """A URL the store cannot use; the message never holds the URL's password."""


@dataclass(frozen=True, slots=True)
class StoreUrl:
    dialect: Dialect
    target: str  # the SQLite file path (or :memory:), or the libpq connection URI
    password: str | None = None  # kept only to scrub it out of driver messages

    def __repr__(self) -> str:
        return f"StoreUrl({self.shown!r})"

    @property
    def shown(self) -> str:
        """The URL with any password replaced by ***: what logs and errors may print."""
        if self.dialect == "sqlite":
            return f"sqlite:///{self.target}"
        return _hide_password(self.target)

    def scrub(self, text: str) -> str:
        """`text` (a driver's error message) with the password, plain or URL-quoted, hidden."""
        if self.password:
            for spelling in sorted({self.password, _quoted_password(self.target)}, key=len)[::-1]:
                if spelling:
                    text = text.replace(spelling, HIDDEN)
        return text


def parse_store_url(url: str, base: Path | None = None) -> StoreUrl:
    """The URL as the store opens it; a relative SQLite path is taken from `base` when given."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise StoreUrlError("store url: expected sqlite:///PATH or postgresql://HOST/DB")
    scheme = scheme.lower()
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise StoreUrlError("store url: sqlite:///PATH (three slashes, then the file)")
        path = rest[1:]
        if path != MEMORY and base is not None and not Path(path).is_absolute():
            path = str(base / path)
        return StoreUrl("sqlite", path)
    if scheme in ("postgresql", "postgres"):
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 -- raises on a port that is not a number
        except ValueError:
            raise StoreUrlError("store url: not a valid postgresql:// URL") from None
        if not parts.hostname and "host=" not in parts.query:
            raise StoreUrlError("store url: postgresql:// needs a host")
        password = unquote(parts.password) if parts.password else None
        query = dict(parse_qsl(parts.query))
        password = password or query.get("password")
        return StoreUrl("postgresql", url, password)
    raise StoreUrlError(f"store url: scheme {scheme!r} is not sqlite or postgresql")


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is not None:
        userinfo, _, host = parts.netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        parts = parts._replace(netloc=f"{user}:{HIDDEN}@{host}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(k == "password" for k, _ in query):
        hidden = [(k, HIDDEN if k == "password" else v) for k, v in query]
        parts = parts._replace(query=urlencode(hidden, safe="*"))
    return urlunsplit(parts)


def _quoted_password(url: str) -> str:
    userinfo = urlsplit(url).netloc.rpartition("@")[0]
    return userinfo.split(":", 1)[1] if ":" in userinfo else ""
