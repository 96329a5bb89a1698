"""Checking of the `detect:` block, one small checker per detector type."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from signalfire.durations import DurationError, parse_duration_ms
from signalfire.rules.model import DETECTOR_TYPES, OPS, Detect, Step
from signalfire.rules.problems import Problems
from signalfire.rules.where import parse_filter, parse_path
from signalfire.rules.yamlsrc import LineDict, LineList

_WINDOWED = ("window", "bucket")
ALLOWED_KEYS: dict[str, tuple[str, ...]] = {
    "match": (),
    "threshold": (*_WINDOWED, "aggregate", "field", "op", "threshold"),
    "distinct": (*_WINDOWED, "field", "op", "threshold"),
    "ratio": (*_WINDOWED, "numerator", "op", "threshold", "min_count"),
    "spike": (
        *_WINDOWED,
        "aggregate",
        "field",
        "factor",
        "baseline_windows",
        "min_count",
        "direction",
        "baseline",
        "seasonality",
    ),
    "new_value": ("field", "lookback", "warmup"),
    "absence": ("window",),
    "sequence": ("steps", "within"),
}
BUCKETS_PER_WINDOW = 60
DEFAULT_LOOKBACK_MS = 7 * 86_400_000
DEFAULT_WARMUP_MS = 3_600_000

# Whole numbers in rules (counts, max_groups) are refused above this at their line: no detection
# needs more, and the compiled core would refuse them with no line to point at.
MAX_WHOLE = 2**31 - 1
# A spike keeps this many baseline windows per group: more is a mistake, not a baseline.
MAX_BASELINE_WINDOWS = 10_000


class _Reader:
    """Typed access to one `detect:` mapping, recording a problem for each bad value."""

    def __init__(self, node: LineDict, problems: Problems) -> None:
        self.node = node
        self.problems = problems

    def line(self, key: str) -> int:
        return self.node.line_of(key)

    def bad(self, key: str, message: str) -> None:
        self.problems.add(self.line(key), f"detect.{key}: {message}")

    def duration(self, key: str, default: int | None = None) -> int:
        if key not in self.node:
            if default is None:
                self.problems.add(self.node.line, f"detect: `{key}` is required")
                return 1
            return default
        try:
            value = parse_duration_ms(self.node[key])
        except DurationError as exc:
            self.bad(key, str(exc))
            return 1
        if value <= 0:
            self.bad(key, "must be longer than 0")
            return 1
        return value

    def number(self, key: str, default: float | None = None, minimum: float | None = None) -> float:
        value = self.node.get(key, default)
        if value is None:
            self.problems.add(self.node.line, f"detect: `{key}` is required")
            return 0.0
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.bad(key, f"expected a number, got {value!r}")
            return 0.0
        if not math.isfinite(value):  # .nan never compares true: the rule would never fire
            self.bad(key, f"expected a finite number, got {value!r}")
            return 0.0
        if minimum is not None and value < minimum:
            self.bad(key, f"must be at least {minimum:g}")
        return float(value)

    def integer(self, key: str, default: int, minimum: int = 1, maximum: int = MAX_WHOLE) -> int:
        value = self.node.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.bad(key, f"expected a whole number >= {minimum}, got {value!r}")
            return default
        if value > maximum:
            self.bad(key, f"expected a whole number <= {maximum:,}, got {value!r}")
            return default
        return value

    def choice(self, key: str, default: str, options: tuple[str, ...]) -> Any:
        value = self.node.get(key, default)
        if value not in options:
            self.bad(key, f"expected one of {', '.join(options)}, got {value!r}")
            return default
        return value

    def field(self, key: str = "field") -> tuple[str, ...] | None:
        if key not in self.node:
            self.problems.add(self.node.line, f"detect: `{key}` is required")
            return None
        return parse_path(self.node[key], self.line(key), self.problems, f"detect.{key}")


def parse_detect(node: object, line: int, problems: Problems) -> Detect | None:
    if not isinstance(node, LineDict):
        problems.add(line, "detect: expected a mapping with a `type`")
        return None
    kind = node.get("type")
    if not isinstance(kind, str) or kind not in DETECTOR_TYPES:  # a list or mapping: unhashable
        problems.add(
            node.line_of("type"),
            f"detect.type: unknown detector type {kind!r} "
            f"(known: {', '.join(sorted(DETECTOR_TYPES))})",
        )
        return None
    allowed = ALLOWED_KEYS[kind]
    for key in node:
        if key != "type" and key not in allowed:
            known = ", ".join(allowed) or "no options"
            problems.add(node.line_of(key), f"detect.{key}: not an option of {kind} ({known})")
    reader = _Reader(node, problems)
    return _PARSERS[kind](reader)


def _windowed(r: _Reader) -> tuple[int, int]:
    window = r.duration("window")
    bucket = r.duration("bucket", max(1, window // BUCKETS_PER_WINDOW))
    if bucket > window:
        r.bad("bucket", "must not be longer than the window")
        bucket = window
    return window, bucket


def _match(r: _Reader) -> Detect:
    return Detect(type="match")


def _threshold(r: _Reader) -> Detect:
    window, bucket = _windowed(r)
    aggregate = r.choice("aggregate", "count", ("count", "sum", "avg", "min", "max"))
    field = None
    if aggregate != "count":
        field = r.field()
    elif "field" in r.node:
        r.bad("field", "count takes no field (use distinct to count values)")
    op = r.choice("op", ">", OPS)
    return Detect(
        type="threshold",
        window_ms=window,
        bucket_ms=bucket,
        aggregate=aggregate,
        field=field,
        op=op,
        threshold=r.number("threshold"),
    )


def _distinct(r: _Reader) -> Detect:
    window, bucket = _windowed(r)
    return Detect(
        type="distinct",
        window_ms=window,
        bucket_ms=bucket,
        field=r.field(),
        op=r.choice("op", ">", OPS),
        threshold=r.number("threshold"),
    )


def _ratio(r: _Reader) -> Detect:
    window, bucket = _windowed(r)
    if "numerator" not in r.node:
        r.problems.add(r.node.line, "detect: `numerator` (a filter) is required")
    numerator = parse_filter(
        r.node.get("numerator"), r.line("numerator"), r.problems, "detect.numerator"
    )
    return Detect(
        type="ratio",
        window_ms=window,
        bucket_ms=bucket,
        numerator=numerator,
        op=r.choice("op", ">", OPS),
        threshold=r.number("threshold", minimum=0),
        min_count=r.integer("min_count", 1),
    )


def _spike(r: _Reader) -> Detect:
    # Spike windows are whole buckets, all the same length: the window must be a whole number
    # of buckets (by default the most buckets, up to 60, that divide it).
    window = r.duration("window")
    default = window // next(n for n in range(BUCKETS_PER_WINDOW, 0, -1) if window % n == 0)
    seasonality = r.duration("seasonality", 0) if "seasonality" in r.node else 0
    if seasonality:
        # Seasonal windows are whole periods apart, judged once per window: a bucket is a window.
        default = window
        if seasonality % window or seasonality <= window:
            r.bad("seasonality", f"must be a whole number (> 1) of windows ({window} ms)")
            seasonality = 0
        if "bucket" in r.node:
            r.bad("bucket", "a seasonal spike's bucket is its window")
    bucket = r.duration("bucket", default)
    if bucket > window or window % bucket:
        r.bad("bucket", f"spike windows are whole buckets: must divide the window ({window} ms)")
        bucket = default
    aggregate = r.choice("aggregate", "count", ("count", "sum"))
    field = r.field() if aggregate == "sum" else None
    factor = r.number("factor")
    if factor <= 1:
        r.bad("factor", "must be greater than 1")
    return Detect(
        type="spike",
        window_ms=window,
        bucket_ms=bucket,
        aggregate=aggregate,
        field=field,
        factor=factor,
        baseline_windows=r.integer("baseline_windows", 4, maximum=MAX_BASELINE_WINDOWS),
        min_count=r.integer("min_count", 1),
        direction=r.choice("direction", "up", ("up", "down", "both")),
        baseline=r.choice("baseline", "mean", ("mean", "median")),
        seasonality_ms=seasonality,
    )


def _new_value(r: _Reader) -> Detect:
    return Detect(
        type="new_value",
        field=r.field(),
        lookback_ms=r.duration("lookback", DEFAULT_LOOKBACK_MS),
        warmup_ms=_zero_or_duration(r, "warmup", DEFAULT_WARMUP_MS),
    )


def _zero_or_duration(r: _Reader, key: str, default: int) -> int:
    if r.node.get(key) in (0, "0s", "0ms"):
        return 0
    return r.duration(key, default)


def _absence(r: _Reader) -> Detect:
    return Detect(type="absence", window_ms=r.duration("window"))


def _sequence(r: _Reader) -> Detect:
    within = r.duration("within")
    raw = r.node.get("steps")
    steps: list[Step] = []
    if not isinstance(raw, LineList) or len(raw) < 2:
        r.problems.add(r.line("steps"), "detect.steps: expected a list of at least 2 steps")
        return Detect(type="sequence", within_ms=within)
    for i, item in enumerate(raw):
        where = f"detect.steps[{i}]"
        line = raw.line_of(i)
        if not isinstance(item, LineDict) or "where" not in item:
            r.problems.add(line, f"{where}: expected a mapping with `where`")
            continue
        for key in item:
            if key not in ("where", "count", "absent"):
                r.problems.add(item.line_of(key), f"{where}.{key}: unknown step option")
        count = item.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            r.problems.add(item.line_of("count"), f"{where}.count: expected a whole number >= 1")
            count = 1
        elif count > MAX_WHOLE:
            r.problems.add(
                item.line_of("count"), f"{where}.count: expected a whole number <= {MAX_WHOLE:,}"
            )
            count = 1
        absent = item.get("absent", False)
        if not isinstance(absent, bool):
            r.problems.add(item.line_of("absent"), f"{where}.absent: expected true or false")
            absent = False
        if absent and i != len(raw) - 1:
            r.problems.add(item.line_of("absent"), f"{where}.absent: only the last step")
        if absent and i == 0:
            r.problems.add(item.line_of("absent"), f"{where}.absent: the first step cannot")
        if absent and "count" in item:
            r.problems.add(item.line_of("count"), f"{where}.count: an absent step has no count")
        filt = parse_filter(item["where"], item.line_of("where"), r.problems, f"{where}.where")
        steps.append(Step(where=filt, count=count, absent=absent))
    return Detect(type="sequence", steps=tuple(steps), within_ms=within)


_PARSERS: dict[str, Callable[[_Reader], Detect]] = {
    "match": _match,
    "threshold": _threshold,
    "distinct": _distinct,
    "ratio": _ratio,
    "spike": _spike,
    "new_value": _new_value,
    "absence": _absence,
    "sequence": _sequence,
}
