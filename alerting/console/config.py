"""The console's YAML config; problems come out as `file:line: message`, all at once.

    store: sqlite:///pages.db   # relative to this file; or postgresql://host/db; or store_env: VAR
    listen: 127.0.0.1:8080
    session_ttl: 12h            # a login lasts this long
    max_snooze: 30d             # the longest snooze anyone may set
    secure_cookie: true         # behind a TLS proxy: the session cookie only travels over HTTPS
    metrics_lookback: 30d       # /metrics: rule quality over the episodes started this recently
    users:
      - name: alice
        role: investigator      # viewer | investigator | admin
        password_hash: "scrypt$16384$8$1$..."    # `signalfire console hash-password`
      - name: grafana
        role: viewer
        token_hash: "sha256$..."                  # `signalfire console new-token`

Secrets never sit in the file: only their hashes, and the store URL (which may hold a database
password) can come from an environment variable instead. The console shows pages as the store
holds them: values the worker or the bridge redacted are `[redacted]` there, and stay so.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alerting.config_file import duration_ms, read_config
from alerting.console.auth import Role, User, check_hash
from alerting.store.url import StoreUrlError, parse_store_url
from signalfire.rules.problems import Problem, Problems
from signalfire.rules.yamlsrc import LineDict, LineList

KEYS = (
    "store",
    "store_env",
    "listen",
    "session_ttl",
    "max_snooze",
    "secure_cookie",
    "metrics_lookback",
    "users",
)
USER_KEYS = ("name", "role", "password_hash", "token_hash")
_USER_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
_LISTEN = re.compile(r"(?P<host>[A-Za-z0-9.:\[\]-]+):(?P<port>\d{1,5})")


class ConsoleConfigError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    store_url: str
    users: dict[str, User]
    host: str = "127.0.0.1"
    port: int = 8080
    session_ttl_s: float = 12 * 3600
    max_snooze_ms: int = 30 * 86_400_000
    secure_cookie: bool = False
    metrics_lookback_ms: int = 30 * 86_400_000


def load_console_config(path: str | Path, env: Mapping[str, str] | None = None) -> ConsoleConfig:
    path = Path(path)
    problems = Problems(str(path))
    doc = read_config(path, problems)
    if problems:
        raise ConsoleConfigError(problems.items)
    config = _Reader(problems, os.environ if env is None else env, path.parent).config(doc)
    if problems or config is None:
        raise ConsoleConfigError(problems.items)
    return config


class _Reader:
    def __init__(self, problems: Problems, env: Mapping[str, str], base: Path) -> None:
        self.p = problems
        self.env = env
        self.base = base

    def config(self, doc: Any) -> ConsoleConfig | None:
        if not isinstance(doc, LineDict):
            self.p.add(getattr(doc, "line", 1), "expected a mapping with `store` and `users`")
            return None
        for key in doc:
            if key not in KEYS:
                self.p.add(doc.line_of(key), f"unknown key {key!r} ({', '.join(KEYS)})")
        store = self.store(doc)
        host, port = self.listen(doc)
        secure = doc.get("secure_cookie", False)
        if not isinstance(secure, bool):
            self.p.add(doc.line_of("secure_cookie"), "secure_cookie: true or false")
            secure = False
        return ConsoleConfig(
            store_url=store,
            users=self.users(doc.get("users"), doc.line_of("users")),
            host=host,
            port=port,
            session_ttl_s=self.duration(doc, "session_ttl", 12 * 3_600_000) / 1000,
            max_snooze_ms=self.duration(doc, "max_snooze", 30 * 86_400_000),
            secure_cookie=secure,
            metrics_lookback_ms=self.duration(doc, "metrics_lookback", 30 * 86_400_000),
        )

    def store(self, doc: LineDict) -> str:
        if ("store" in doc) == ("store_env" in doc):
            self.p.add(doc.line, "give the page store as `store: URL` or `store_env: VARIABLE`")
            return ""
        if "store_env" in doc:
            name = doc["store_env"]
            value = self.env.get(name, "") if isinstance(name, str) else ""
            if not value:
                self.p.add(doc.line_of("store_env"), f"store_env: variable {name!r} is not set")
            return value
        url = doc["store"]
        if not isinstance(url, str):
            self.p.add(doc.line_of("store"), "store: a sqlite:///path or postgresql:// URL")
            return ""
        try:
            parsed = parse_store_url(url, self.base)
        except StoreUrlError as exc:
            self.p.add(doc.line_of("store"), str(exc))
            return ""
        # A relative SQLite path is the config file's neighbour, as in the bridge's config.
        return f"sqlite:///{parsed.target}" if parsed.dialect == "sqlite" else url

    def listen(self, doc: LineDict) -> tuple[str, int]:
        value = doc.get("listen", "127.0.0.1:8080")
        found = _LISTEN.fullmatch(value) if isinstance(value, str) else None
        if found is None or not 0 < int(found["port"]) < 65536:
            self.p.add(doc.line_of("listen"), "listen: HOST:PORT, e.g. 127.0.0.1:8080")
            return "127.0.0.1", 8080
        return found["host"].strip("[]"), int(found["port"])

    def users(self, items: Any, line: int) -> dict[str, User]:
        if not isinstance(items, LineList) or not items:
            self.p.add(line, "users: expected a non-empty list of users")
            return {}
        users: dict[str, User] = {}
        for i, item in enumerate(items):
            user = self.user(item, items.line_of(i))
            if user is None:
                continue
            if user.name in users:
                self.p.add(items.line_of(i), f"user {user.name!r} is defined twice")
            users[user.name] = user
        return users

    def user(self, d: Any, line: int) -> User | None:
        if not isinstance(d, LineDict):
            self.p.add(line, "a user is a mapping with name, role and a password or token hash")
            return None
        for key in d:
            if key not in USER_KEYS:
                self.p.add(d.line_of(key), f"unknown key {key!r} ({', '.join(USER_KEYS)})")
        name = d.get("name")
        if not isinstance(name, str) or not _USER_NAME.fullmatch(name):
            self.p.add(d.line_of("name"), "user name: 1-64 of A-Z a-z 0-9 . _ @ -")
            return None
        role = Role.named(d["role"]) if isinstance(d.get("role"), str) else None
        if role is None:
            self.p.add(d.line_of("role"), f"user {name}: role is viewer, investigator or admin")
            return None
        hashes: dict[str, str | None] = {}
        for key, scheme in (("password_hash", "scrypt"), ("token_hash", "sha256")):
            value = d.get(key)
            if value is None:
                hashes[key] = None
                continue
            why = check_hash(value) if isinstance(value, str) else "expected a string"
            if why is None and isinstance(value, str) and not value.startswith(scheme + "$"):
                why = f"expected a {scheme}$... hash"
            if why is not None:
                self.p.add(d.line_of(key), f"user {name}: {key}: {why}")
                return None
            hashes[key] = value
        if not any(hashes.values()):
            self.p.add(line, f"user {name}: give a password_hash or a token_hash")
            return None
        return User(name, role, hashes["password_hash"], hashes["token_hash"])

    def duration(self, d: LineDict, key: str, default_ms: int) -> int:
        return duration_ms(self.p, d, key, default_ms)
