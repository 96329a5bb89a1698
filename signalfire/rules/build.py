"""Validation of one raw rule mapping into a `Rule`, collecting every problem with its line."""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import urlsplit

import orjson

from signalfire.durations import DurationError, parse_duration_ms, parse_time_ms
from signalfire.entities import DEFAULT_MODEL
from signalfire.events import MAX_TS_MS
from signalfire.rules.detect import MAX_WHOLE, parse_detect
from signalfire.rules.model import LIVE, MODES, OCCURRENCE_TYPES, SEVERITIES, Rule, TestCase
from signalfire.rules.problems import Problems
from signalfire.rules.template import unknown_placeholders
from signalfire.rules.where import is_scalar, parse_filter, parse_path
from signalfire.rules.yamlsrc import LineDict, LineList

RULE_ID = re.compile(r"^[a-z0-9_.-]+$")
MAX_ID_LENGTH = 200
TOP_LEVEL_KEYS = (
    "id",
    "title",
    "description",
    "severity",
    "owner",
    "labels",
    "annotations",
    "where",
    "group_by",
    "detect",
    "for",
    "resolve_after",
    "throttle",
    "evidence",
    "max_groups",
    "tests",
    "mode",
)
# Pages carry text up to 1024 characters whole (alerting.message.MAX_TEXT_CHARS); a runbook
# link cut there would lead nowhere, so a longer one is refused here instead.
MAX_RUNBOOK_CHARS = 1024
OCCURRENCE_THROTTLE_MS = 600_000
CONDITION_RESOLVE_MS = 300_000


# Left out of a rule's version: they change neither what it detects nor its state, so a shadow
# rule promoted to live keeps its version (and its groups' state in the worker).
UNVERSIONED_KEYS = ("tests", "mode")


def rule_version(raw: LineDict) -> str:
    """sha256 of the rule's canonical form (sorted keys, tests and mode left out)."""
    canonical = {k: v for k, v in raw.items() if k not in UNVERSIONED_KEYS}
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


def build_rule(raw: object, line: int, problems: Problems) -> Rule | None:
    """A `Rule` if `raw` is valid; otherwise None with every problem recorded."""
    if not isinstance(raw, LineDict):
        problems.add(line, "a rule must be a mapping")
        return None
    before = len(problems.items)
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            problems.add(
                raw.line_of(key), f"unknown key {key!r} (known: {', '.join(TOP_LEVEL_KEYS)})"
            )
    rule_id = _rule_id(raw, problems)
    title = _text(raw, "title", problems, required=True)
    severity = raw.get("severity")
    if severity not in SEVERITIES:
        problems.add(
            raw.line_of("severity"),
            f"severity: expected one of {', '.join(SEVERITIES)}, got {severity!r}",
        )
    mode = raw.get("mode", LIVE)
    if mode not in MODES:
        problems.add(raw.line_of("mode"), f"mode: expected live or shadow, got {mode!r}")
    group_by = _group_by(raw, problems)
    detect = parse_detect(raw.get("detect"), raw.line_of("detect"), problems)
    labels = _string_map(raw, "labels", problems)
    annotations = _string_map(raw, "annotations", problems)
    summary = annotations.get("summary")
    if summary is not None:
        for name in unknown_placeholders(summary, (".".join(p) for p in group_by)):
            problems.add(
                raw.line_of("annotations"),
                f"annotations.summary: unknown placeholder {{{name}}} "
                "(use group fields, value, threshold, window, op, rule, title, field, group)",
            )
    runbook = annotations.get("runbook")
    if runbook is not None and not _is_http_url(runbook):
        node = raw.get("annotations")
        problems.add(
            _line_of(node, "runbook", raw.line_of("annotations")),
            f"annotations.runbook: must be an http(s) URL of at most {MAX_RUNBOOK_CHARS} "
            f"characters, got {runbook[:80]!r}",
        )
    where = parse_filter(raw.get("where"), raw.line_of("where"), problems)
    occurrence = detect is not None and detect.type in OCCURRENCE_TYPES
    for_ms = _duration(raw, "for", 0, problems)
    if occurrence and for_ms:
        problems.add(raw.line_of("for"), "for: only condition detectors hold over time")
    resolve_default = None if occurrence else CONDITION_RESOLVE_MS
    resolve_after = _duration(raw, "resolve_after", resolve_default, problems)
    throttle = _duration(raw, "throttle", OCCURRENCE_THROTTLE_MS if occurrence else 0, problems)
    evidence_top = _evidence(raw, problems)
    max_groups = raw.get("max_groups")
    if max_groups is not None and (
        isinstance(max_groups, bool) or not isinstance(max_groups, int) or max_groups < 1
    ):
        problems.add(raw.line_of("max_groups"), "max_groups: expected a whole number >= 1")
        max_groups = None
    elif max_groups is not None and max_groups > MAX_WHOLE:
        problems.add(raw.line_of("max_groups"), f"max_groups: expected <= {MAX_WHOLE:,}")
        max_groups = None
    tests = _tests(raw, problems)
    # Checked before the version is computed: that encodes the raw values (no bytes, no sets).
    description = _text(raw, "description", problems)
    owner = _text(raw, "owner", problems)
    if detect is None or len(problems.items) > before:
        return None
    return Rule(
        id=rule_id,
        title=title,
        description=description,
        severity=str(severity),
        owner=owner,
        labels=labels,
        annotations=annotations,
        where=where,
        group_by=group_by,
        detect=detect,
        for_ms=for_ms,
        resolve_after_ms=resolve_after,
        throttle_ms=throttle or 0,
        evidence_top=evidence_top,
        max_groups=max_groups,
        version=rule_version(raw),
        path=problems.path,
        line=raw.line,
        tests=tests,
        mode=str(mode),
        entities=DEFAULT_MODEL.for_group(tuple(".".join(p) for p in group_by)),
    )


def _rule_id(raw: LineDict, problems: Problems) -> str:
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
        problems.add(raw.line_of("id"), f"id: expected [a-z0-9_.-]+, got {rule_id!r}")
        return ""
    if len(rule_id) > MAX_ID_LENGTH:
        problems.add(raw.line_of("id"), f"id: longer than {MAX_ID_LENGTH} characters")
    return rule_id


def _text(raw: LineDict, key: str, problems: Problems, required: bool = False) -> str:
    value = raw.get(key)
    if value is None:
        if required:
            problems.add(raw.line, f"{key}: is required")
        return ""
    if not isinstance(value, str):
        problems.add(raw.line_of(key), f"{key}: expected text")
        return ""
    return value


def _is_http_url(text: str) -> bool:
    """An absolute http(s) URL with a host, no spaces or control characters: it becomes the
    page's `links[].href`, which PagerDuty requires to be a URL."""
    if len(text) > MAX_RUNBOOK_CHARS or any(c.isspace() or not c.isprintable() for c in text):
        return False
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _string_map(raw: LineDict, key: str, problems: Problems) -> dict[str, str]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, LineDict) or not all(
        isinstance(k, str) and is_scalar(v) for k, v in value.items()
    ):
        problems.add(raw.line_of(key), f"{key}: expected a mapping of name: text")
        return {}
    return {k: str(v) for k, v in value.items()}


def _group_by(raw: LineDict, problems: Problems) -> tuple[tuple[str, ...], ...]:
    value = raw.get("group_by", [])
    line = raw.line_of("group_by")
    if not isinstance(value, list):
        problems.add(line, "group_by: expected a list of field names, e.g. [org_id, api_key_id]")
        return ()
    paths = []
    for i, item in enumerate(value):
        item_line = value.line_of(i) if isinstance(value, LineList) else line
        path = parse_path(item, item_line, problems, "group_by")
        if path is not None:
            if path in paths:
                problems.add(item_line, f"group_by: {item!r} is listed twice")
            paths.append(path)
    return tuple(paths)


def _duration(raw: LineDict, key: str, default: int | None, problems: Problems) -> Any:
    if key not in raw:
        return default
    try:
        return parse_duration_ms(raw[key])
    except DurationError as exc:
        problems.add(raw.line_of(key), f"{key}: {exc}")
        return default


def _evidence(raw: LineDict, problems: Problems) -> tuple[tuple[str, ...], ...]:
    value = raw.get("evidence")
    if value is None:
        return ()
    line = raw.line_of("evidence")
    if not isinstance(value, LineDict) or set(value) - {"top"}:
        problems.add(line, "evidence: expected a mapping with `top: [field, ...]`")
        return ()
    top = value.get("top", [])
    if not isinstance(top, list):
        problems.add(value.line_of("top"), "evidence.top: expected a list of field names")
        return ()
    paths = (parse_path(f, value.line_of("top"), problems, "evidence.top") for f in top)
    return tuple(p for p in paths if p is not None)


def _tests(raw: LineDict, problems: Problems) -> tuple[TestCase, ...]:
    value = raw.get("tests")
    if value is None:
        return ()
    if not isinstance(value, LineList):
        problems.add(raw.line_of("tests"), "tests: expected a list of cases")
        return ()
    cases = []
    for i, case in enumerate(value):
        line = value.line_of(i)
        if not isinstance(case, LineDict):
            problems.add(line, f"tests[{i}]: expected a mapping with name, events, expect")
            continue
        name = case.get("name")
        events = case.get("events", [])
        expect = case.get("expect", [])
        if not isinstance(name, str):
            problems.add(line, f"tests[{i}].name: is required")
            name = f"case {i + 1}"
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            problems.add(case.line_of("events"), f"tests[{i}].events: expected a list of events")
            continue
        if not isinstance(expect, list) or not all(
            isinstance(x, dict) and x.get("action") in ("trigger", "resolve") for x in expect
        ):
            problems.add(
                case.line_of("expect"),
                f"tests[{i}].expect: expected a list of {{action: trigger|resolve, group: ...}}",
            )
            continue
        for n, event in enumerate(events):
            _case_event(event, f"tests[{i}].events[{n}]", _line_of(events, n, line), problems)
        for n, item in enumerate(expect):
            if "at" in item:
                _time(item, "at", f"tests[{i}].expect[{n}]", _line_of(expect, n, line), problems)
        until = _time(case, "until", f"tests[{i}]", line, problems)
        cases.append(TestCase(name, line, tuple(events), tuple(expect), until))
    return tuple(cases)


def _line_of(node: object, key: Any, default: int) -> int:
    return node.line_of(key) if isinstance(node, LineDict | LineList) else default


def _time(node: dict[str, Any], key: str, where: str, line: int, problems: Problems) -> int | None:
    if key not in node:
        return None
    try:
        return parse_time_ms(node[key])
    except DurationError as exc:
        problems.add(_line_of(node, key, line), f"{where}.{key}: {exc}")
        return None


def _case_event(event: dict[str, Any], where: str, line: int, problems: Problems) -> None:
    """Checked here, not only when the case runs, so that `rules check` reports them too."""
    start = _time(event, "ts", where, line, problems) if "ts" in event else 0
    every = 0
    if "every" in event:
        try:
            every = parse_duration_ms(event["every"])
        except DurationError as exc:
            problems.add(_line_of(event, "every", line), f"{where}.every: {exc}")
    repeat = event.get("repeat", 1)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        problems.add(
            _line_of(event, "repeat", line), f"{where}.repeat: expected a whole number >= 1"
        )
    elif start is not None and start + (repeat - 1) * every >= MAX_TS_MS:
        problems.add(
            _line_of(event, "repeat", line),
            f"{where}.repeat: the last event would fall at {start + (repeat - 1) * every} ms, "
            f"past the latest event time {MAX_TS_MS - 1} ms",
        )
