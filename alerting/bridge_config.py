"""The bridge's YAML config: sinks, routes, redaction. Problems come out as `file:line: message`.

    sinks:
      - name: alertmanager            # [a-z0-9_-]+, unique; the `sink` metric label
        type: alertmanager            # alertmanager | pagerduty | webhook
        url: http://localhost:9093
        resend_interval: 1m           # alertmanager: re-send firing alerts this often
        resolved_retention: 15m       # alertmanager: re-send resolved alerts this long
        rate_limit: 50/s              # optional: N/s or N/m
        timeout: 10s                  # per request
        retry: {initial: 500ms, max: 30s, attempts: 10}
      - name: pagerduty
        type: pagerduty
        routing_key_env: PAGERDUTY_ROUTING_KEY     # or routing_key_file
      - name: hook
        type: webhook
        url: https://example.org/hook
        hmac_secret_env: SIGNALFIRE_WEBHOOK_SECRET   # or hmac_secret_file; optional
      - name: store                   # every page into the page store (alerting.store)
        type: store
        url: sqlite:///pages.db       # relative to this file; or url_env / url_file, which
        retention: 90d                # a postgresql:// URL with a password must use
    routes:                           # first match wins unless `continue: true`
      - sinks: [store]                # no match: every page; `continue` lets the rest route it
        continue: true
      - match: {severity: critical}   # severity, rule, class, action, labels.<name>
        sinks: [pagerduty]
        continue: true
      - sinks: [alertmanager]         # the last route has no match: the catch-all
    redact: [ip, attrs.*]             # fields whose values never leave the bridge
    incidents:                        # optional: correlate pages into incidents
      window: 30m                     # a page joins its root's open incident within this
      max_open: 100000                # open incidents kept per pager partition

Secrets (routing keys, HMAC secrets, database passwords) come only from environment variables
or files, named in the config; the config itself never holds them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerting.config_file import duration_ms, read_config
from alerting.delivery import RetryPolicy
from alerting.redact import Redaction
from alerting.routing import LABEL_PREFIX, MATCH_KEYS, Route
from alerting.sinks.alertmanager import AlertmanagerSink
from alerting.sinks.base import Sink
from alerting.sinks.pagerduty import EVENTS_URL, PagerDutySink
from alerting.sinks.store import StoreSink
from alerting.sinks.webhook import WebhookSink
from alerting.store.url import StoreUrlError, parse_store_url
from signalfire.rules.problems import Problem, Problems
from signalfire.rules.yamlsrc import LineDict, LineList

SINK_TYPES = ("alertmanager", "pagerduty", "webhook", "store")
DEFAULT_RETENTION_MS = 90 * 86_400_000
DEFAULT_INCIDENT_WINDOW_MS = 30 * 60_000
DEFAULT_MAX_OPEN = 100_000
_NAME = re.compile(r"[a-z0-9_-]{1,40}")
_RATE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*(s|m)\s*")
_SINK_KEYS = {
    "common": {"name", "type", "url", "rate_limit", "timeout", "retry"},
    "alertmanager": {"resend_interval", "resolved_retention"},
    "pagerduty": {"routing_key_env", "routing_key_file"},
    "webhook": {"hmac_secret_env", "hmac_secret_file"},
    "store": {"url_env", "url_file", "retention"},
}
_RETRY_KEYS = {"initial", "max", "attempts"}


class BridgeConfigError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class SinkSpec:
    sink: Sink
    policy: RetryPolicy
    rate_per_s: float | None  # None: no limit


@dataclass(frozen=True, slots=True)
class IncidentSettings:
    """`incidents:`: pages correlate into incidents (docs/triage.md#incidents)."""

    window_ms: int = DEFAULT_INCIDENT_WINDOW_MS
    max_open: int = DEFAULT_MAX_OPEN


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    sinks: dict[str, SinkSpec]
    routes: tuple[Route, ...]
    redaction: Redaction = field(default_factory=Redaction)
    incidents: IncidentSettings | None = None  # None: every page is delivered on its own

    def for_shadow(self) -> BridgeConfig | None:
        """The config of the bridge over the shadow topic: every page into each page store
        (as `<name>-shadow`), never to a pager; None when there is no page store."""
        sinks = {
            f"{name}-shadow": SinkSpec(spec.sink.twin(f"{name}-shadow"), spec.policy, None)
            for name, spec in self.sinks.items()
            if isinstance(spec.sink, StoreSink)
        }
        if not sinks:
            return None
        return BridgeConfig(sinks, (Route(tuple(sinks), {}),), self.redaction, None)


def load_bridge_config(path: str | Path, env: Mapping[str, str] | None = None) -> BridgeConfig:
    path = Path(path)
    env = os.environ if env is None else env
    problems = Problems(str(path))
    doc = read_config(path, problems)
    if problems:
        raise BridgeConfigError(problems.items)
    config = _Reader(problems, path.parent, env).config(doc)
    if problems or config is None:
        raise BridgeConfigError(problems.items)
    return config


class _Reader:
    def __init__(self, problems: Problems, base: Path, env: Mapping[str, str]) -> None:
        self.p = problems
        self.base = base
        self.env = env

    def config(self, doc: Any) -> BridgeConfig | None:
        if not isinstance(doc, LineDict):
            self.p.add(getattr(doc, "line", 1), "expected a mapping with `sinks` and `routes`")
            return None
        for key in doc:
            if key not in ("sinks", "routes", "redact", "incidents"):
                known = "sinks, routes, redact, incidents"
                self.p.add(doc.line_of(key), f"unknown key {key!r} ({known})")
        sinks = self.sinks(doc.get("sinks"), doc.line_of("sinks"))
        routes = self.routes(doc.get("routes"), doc.line_of("routes"), set(sinks))
        redact = doc.get("redact", [])
        if not isinstance(redact, list) or not all(isinstance(f, str) for f in redact):
            self.p.add(doc.line_of("redact"), "redact: expected a list of field names")
            redact = []
        incidents = (
            self.incidents(doc["incidents"], doc.line_of("incidents"))
            if ("incidents" in doc)
            else None
        )
        return BridgeConfig(sinks, tuple(routes), Redaction.of(redact), incidents)

    def incidents(self, d: Any, line: int) -> IncidentSettings | None:
        if d is None:
            return IncidentSettings()
        if not isinstance(d, LineDict):
            self.p.add(line, "incidents: expected a mapping (window, max_open)")
            return None
        for key in d:
            if key not in ("window", "max_open"):
                self.p.add(d.line_of(key), f"incidents: unknown key {key!r} (window, max_open)")
        window = self.duration(d, "window", DEFAULT_INCIDENT_WINDOW_MS)
        max_open = d.get("max_open", DEFAULT_MAX_OPEN)
        if isinstance(max_open, bool) or not isinstance(max_open, int) or max_open < 1:
            self.p.add(d.line_of("max_open"), "incidents: max_open: a whole number >= 1")
            max_open = DEFAULT_MAX_OPEN
        return IncidentSettings(window, max_open)

    def sinks(self, items: Any, line: int) -> dict[str, SinkSpec]:
        if not isinstance(items, LineList) or not items:
            self.p.add(line, "sinks: expected a non-empty list of sinks")
            return {}
        out: dict[str, SinkSpec] = {}
        for i, item in enumerate(items):
            spec = self.sink(item, items.line_of(i), out)
            if spec is not None:
                out[spec.sink.name] = spec
        return out

    def sink(self, d: Any, line: int, seen: Mapping[str, SinkSpec]) -> SinkSpec | None:
        if not isinstance(d, LineDict):
            self.p.add(line, "a sink is a mapping with name, type and url")
            return None
        name, kind = d.get("name"), d.get("type")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            self.p.add(d.line_of("name"), "sink name: 1-40 of a-z, 0-9, _ and -")
            return None
        if name in seen:
            self.p.add(d.line_of("name"), f"sink {name!r} is defined twice")
        if kind not in SINK_TYPES:
            self.p.add(d.line_of("type"), f"sink {name}: type must be one of {SINK_TYPES}")
            return None
        for key in d:
            if key not in _SINK_KEYS["common"] | _SINK_KEYS[kind]:
                self.p.add(d.line_of(key), f"sink {name}: unknown key {key!r} for type {kind}")
        policy = self.policy(d)
        if kind == "store":
            store = self.store(d, name, policy.timeout_s)
            return SinkSpec(store, policy, self.rate(d)) if store is not None else None
        url = d.get("url", EVENTS_URL if kind == "pagerduty" else None)
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            self.p.add(d.line_of("url"), f"sink {name}: url must be an http(s) URL")
            url = "http://invalid"
        sink: Sink
        if kind == "alertmanager":
            sink = AlertmanagerSink(
                name,
                url,
                self.duration(d, "resend_interval", 60_000) / 1000,
                self.duration(d, "resolved_retention", 900_000) / 1000,
            )
        elif kind == "pagerduty":
            key = self.secret(d, "routing_key", name, required=True)
            sink = PagerDutySink(name, url, key or "")
        else:
            secret = self.secret(d, "hmac_secret", name, required=False)
            sink = WebhookSink(name, url, secret.encode() if secret else None)
        return SinkSpec(sink, policy, self.rate(d))

    def store(self, d: LineDict, name: str, timeout_s: float) -> StoreSink | None:
        retention = self.duration(d, "retention", DEFAULT_RETENTION_MS)
        sources = [k for k in ("url", "url_env", "url_file") if k in d]
        if len(sources) != 1:
            line = d.line_of(sources[1]) if sources else d.line
            self.p.add(line, f"sink {name}: needs one of url, url_env or url_file")
            return None
        key = sources[0]
        given = d[key] if key == "url" else self.secret(d, "url", name, required=True)
        if given is None:
            return None
        if not isinstance(given, str):
            self.p.add(d.line_of(key), f"sink {name}: url: sqlite:///PATH or postgresql://...")
            return None
        try:
            url = parse_store_url(given, self.base)
        except StoreUrlError as exc:
            self.p.add(d.line_of(key), f"sink {name}: {exc}")
            return None
        if url.password and key == "url":
            self.p.add(
                d.line_of(key), f"sink {name}: a url with a password goes in url_env or url_file"
            )
            return None
        return StoreSink(name, url, retention, timeout_s)

    def duration(self, d: LineDict, key: str, default_ms: int) -> int:
        return duration_ms(self.p, d, key, default_ms)

    def policy(self, d: LineDict) -> RetryPolicy:
        default = RetryPolicy()
        retry = d.get("retry", LineDict())
        if not isinstance(retry, LineDict):
            self.p.add(d.line_of("retry"), "retry: expected {initial, max, attempts}")
            return default
        for key in retry:
            if key not in _RETRY_KEYS:
                self.p.add(retry.line_of(key), f"retry: unknown key {key!r}")
        attempts = retry.get("attempts", default.attempts)
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
            self.p.add(retry.line_of("attempts"), "retry attempts: a whole number from 1 to 100")
            attempts = default.attempts
        return RetryPolicy(
            initial_s=self.duration(retry, "initial", int(default.initial_s * 1000)) / 1000,
            max_s=self.duration(retry, "max", int(default.max_s * 1000)) / 1000,
            attempts=attempts,
            timeout_s=self.duration(d, "timeout", int(default.timeout_s * 1000)) / 1000,
        )

    def rate(self, d: LineDict) -> float | None:
        if "rate_limit" not in d:
            return None
        m = _RATE.fullmatch(str(d["rate_limit"]))
        if m is None or float(m.group(1)) <= 0:
            self.p.add(d.line_of("rate_limit"), "rate_limit: like 50/s or 120/m")
            return None
        return float(m.group(1)) / (1 if m.group(2) == "s" else 60)

    def secret(self, d: LineDict, key: str, name: str, *, required: bool) -> str | None:
        from_env, from_file = d.get(f"{key}_env"), d.get(f"{key}_file")
        if from_env is not None and from_file is not None:
            self.p.add(d.line_of(f"{key}_env"), f"sink {name}: {key}_env or {key}_file, not both")
            return None
        if from_env is not None:
            value = self.env.get(str(from_env), "")
            if not value:
                self.p.add(d.line_of(f"{key}_env"), f"sink {name}: ${from_env} is not set")
            return value or None
        if from_file is not None:
            file = self.base / str(from_file)
            try:
                value = file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                self.p.add(d.line_of(f"{key}_file"), f"sink {name}: cannot read {from_file}")
                return None
            if not value:
                self.p.add(d.line_of(f"{key}_file"), f"sink {name}: {from_file} is empty")
            return value or None
        if required:
            self.p.add(d.line, f"sink {name}: needs {key}_env or {key}_file")
        return None

    def routes(self, items: Any, line: int, sinks: set[str]) -> list[Route]:
        if not isinstance(items, LineList) or not items:
            self.p.add(line, "routes: expected a non-empty list of routes")
            return []
        routes = [self.route(r, items.line_of(i), sinks) for i, r in enumerate(items)]
        if routes and routes[-1].match:
            self.p.add(items.line_of(len(items) - 1), "the last route must have no `match`")
        return routes

    def route(self, d: Any, line: int, sinks: set[str]) -> Route:
        if not isinstance(d, LineDict):
            self.p.add(line, "a route is a mapping with sinks (and match, continue)")
            return Route((), {})
        for key in d:
            if key not in ("match", "sinks", "continue"):
                self.p.add(d.line_of(key), f"route: unknown key {key!r} (match, sinks, continue)")
        names = d.get("sinks")
        if not isinstance(names, list) or not names:
            self.p.add(d.line_of("sinks"), "route: sinks must be a non-empty list of sink names")
            names = []
        for n in names:
            if n not in sinks:
                self.p.add(d.line_of("sinks"), f"route: no sink named {n!r}")
        match: dict[str, tuple[str, ...]] = {}
        raw = d.get("match", {})
        if not isinstance(raw, dict):
            self.p.add(d.line_of("match"), "route: match must be a mapping")
            raw = {}
        for key, value in raw.items():
            if key not in MATCH_KEYS and not str(key).startswith(LABEL_PREFIX):
                where = raw.line_of(key) if isinstance(raw, LineDict) else d.line
                keys = ", ".join((*MATCH_KEYS, LABEL_PREFIX + "<name>"))
                self.p.add(where, f"route: cannot match on {key!r} ({keys})")
            values = value if isinstance(value, list) else [value]
            match[str(key)] = tuple(str(v) for v in values)
        cont = d.get("continue", False)
        if not isinstance(cont, bool):
            self.p.add(d.line_of("continue"), "route: continue must be true or false")
            cont = False
        return Route(tuple(str(n) for n in names), match, cont)
