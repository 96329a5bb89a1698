"""The pieces of `python -m bench.state` that need no Kafka: the generated rule, the events that
give it N distinct active groups, and reading the worker's log and /metrics."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from signalfire.generate import DEFAULT_START_MS

RULE_ID = "bench_state_count"
FIELDS = ("account_id", "ip")
ORGS = 300
# Every group's event lies in the first SPAN_MS of event time; one end-of-data event per input
# partition at END_GAP_MS lets the repartition merge release them (it waits for the allowed
# lateness, 30 s) while the 60 s window still holds every bucket (they drain 61 s after).
SPAN_MS = 20_000
END_GAP_MS = 31_000
_MASK = 0xFFFFFFFF


def mix32(x: int) -> int:
    """A bijection of 32-bit integers (xorshift-multiply): distinct, random-looking keys without
    a set of the ones already drawn, and keys that do not compress like a counter would."""
    x &= _MASK
    x ^= x >> 16
    x = (x * 0x7FEB352D) & _MASK
    x ^= x >> 15
    x = (x * 0x846CA68B) & _MASK
    x ^= x >> 16
    return x


def group_value(field: str, i: int) -> str:
    """The i-th distinct value of `field`, shaped like the generator's ids and addresses."""
    if not 0 <= i <= _MASK:
        raise ValueError("at most 2**32 groups")
    h = mix32(i)
    if field == "ip":
        return f"{h >> 24}.{(h >> 16) & 255}.{(h >> 8) & 255}.{h & 255}"
    return f"acct_{h:08x}"


def rule_yaml(field: str, max_groups: int, threshold: int = 100) -> str:
    """One threshold count over 60 s grouped by a high-cardinality field, with a group cap above
    the groups the bench creates (the default cap, 100k, would evict them)."""
    return (
        f"id: {RULE_ID}\n"
        f"title: Requests per {field} (bench.state)\n"
        "severity: info\n"
        "where: {event_type: request}\n"
        f"group_by: [{field}]\n"
        f"max_groups: {max_groups}\n"
        "detect: {type: threshold, aggregate: count, window: 60s, op: '>', "
        f"threshold: {threshold}}}\n"
    )


def write_rules_dir(directory: Path, field: str, groups: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    max_groups = max(groups * 2, 1_000_000)
    (directory / f"{RULE_ID}.yaml").write_text(rule_yaml(field, max_groups))
    return directory


def iter_events(
    groups: int, field: str, start_ms: int = DEFAULT_START_MS
) -> Iterator[dict[str, Any]]:
    """One request per group, in event-time order over SPAN_MS: every group is active at once."""
    for i in range(groups):
        yield {
            "event_id": f"ev_{i:08x}",
            "ts": start_ms + i * SPAN_MS // groups,
            "org_id": f"org_{mix32(i ^ 0x5BD1E995) % ORGS:03d}",
            "event_type": "request",
            "endpoint": "/v1/chat/completions",
            field: group_value(field, i),
        }


def end_event(partition: int, start_ms: int = DEFAULT_START_MS) -> dict[str, Any]:
    """Moves an input partition's event time past the data; no rule of the bench selects it."""
    return {
        "event_id": f"end_{partition}",
        "ts": start_ms + SPAN_MS + END_GAP_MS,
        "org_id": "org_end",
        "event_type": "heartbeat",
    }


# -- the worker's log and /metrics ---------------------------------------------------------------

PHASES = ("first_log", "faust_joined", "started", "restored")
_STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")
_RESTORED = re.compile(r"restored (\S+)\[(\d+)\] at offset (\d+) \(committed (\d+|None)")
_REBUILT = re.compile(r"rebuilding (\S+)\[(\d+)\] from the start up to offset (\d+|None)")


def _stamp(line: str) -> float | None:
    m = _STAMP.match(line)
    if m is None:
        return None
    return datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def log_phases(text: str) -> dict[str, Any]:
    """From the worker's log: wall-clock times (epoch s; the worker logs local time) of its
    start-up steps, the offset each restored partition resumes from, and the records it
    replays with outputs suppressed (up to the committed offset)."""
    found: dict[str, Any] = dict.fromkeys(PHASES)
    starts: dict[tuple[str, int], int] = {}
    replay = 0
    for line in text.splitlines():
        at = _stamp(line)
        if at is None:
            continue
        if found["first_log"] is None:
            found["first_log"] = at
        # Faust's own consumer group hosts the process; a killed member holds its join back
        # until the member's session times out
        if "Joined group '" in line and found["faust_joined"] is None:
            found["faust_joined"] = at
        if "signalfire worker:" in line and found["started"] is None:
            found["started"] = at
        if (m := _RESTORED.search(line)) is not None:
            found["restored"] = at
            starts[(m.group(1), int(m.group(2)))] = int(m.group(3))
            if m.group(4) != "None":
                replay += max(0, int(m.group(4)) - int(m.group(3)))
        elif (m := _REBUILT.search(line)) is not None:
            found["restored"] = at
            starts[(m.group(1), int(m.group(2)))] = 0
            if m.group(3) != "None":
                replay += int(m.group(3))
    found["starts"] = starts
    found["replay_records"] = replay
    return found


def caught_up_at(timeline: list[tuple[float, float]], expected: float) -> float | None:
    """The first time the worker's consumed-records counter reached `expected`."""
    return next((at for at, consumed in timeline if consumed >= expected), None)


def http_get(url: str) -> tuple[int, str]:
    """(status, body); status 0 while nothing listens yet."""
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:
        return 0, ""


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of every sample of metric family `name` (without `_total`)."""
    return [
        (dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        if family.name == name
        for s in family.samples
        if s.name in (name, f"{name}_total")
    ]


def histogram_totals(text: str, name: str) -> tuple[float, float]:
    """(observations, their sum) of histogram `name`."""
    count = total = 0.0
    for family in text_string_to_metric_families(text):
        if family.name == name:
            for s in family.samples:
                if s.name == f"{name}_count":
                    count += s.value
                elif s.name == f"{name}_sum":
                    total += s.value
    return count, total


def lags(text: str) -> dict[tuple[str, int], float]:
    """Records behind the end per partition, as the worker reports them: on a topic written in
    transactions (the repartition topics) this counts commit markers after the last record
    too, so it only reaches 0 on the input topic."""
    return {
        (labels["topic"], int(labels["partition"])): value
        for labels, value in samples(text, "signalfire_consumer_lag_records")
    }


def consumed(text: str) -> float:
    return sum(v for _, v in samples(text, "signalfire_events_consumed"))


def group_total(text: str) -> int:
    return int(sum(v for _, v in samples(text, "signalfire_rule_groups")))


def per_group(total: float, groups: int) -> float:
    return total / groups if groups else float("nan")
