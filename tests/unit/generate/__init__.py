"""Brute-force window counters used to check the generated traffic against rule thresholds.

Windows are (t - w, t] over event time, exactly as RULES.md defines them, recomputed from scratch
with two pointers over the sorted events of each group.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from ipaddress import ip_address, ip_network
from itertools import pairwise
from typing import Any

Event = dict[str, Any]


def group_by(
    events: Iterable[Event], fields: tuple[str, ...], where: Callable[[Event], bool] | None = None
) -> dict[tuple[Any, ...], list[Event]]:
    """Events per group (skipping events lacking a field), each list sorted by ts."""
    groups: dict[tuple[Any, ...], list[Event]] = defaultdict(list)
    for event in events:
        if where is not None and not where(event):
            continue
        if all(f in event for f in fields):
            groups[tuple(event[f] for f in fields)].append(event)
    for items in groups.values():
        items.sort(key=lambda e: e["ts"])
    return dict(groups)


def max_window_sum(events: list[Event], window_ms: int, value: Callable[[Event], float]) -> float:
    """Largest sum of `value` over any window (t - w, t] ending at an event."""
    best = 0.0
    total = 0.0
    lo = 0
    for event in events:
        total += value(event)
        while events[lo]["ts"] <= event["ts"] - window_ms:
            total -= value(events[lo])
            lo += 1
        best = max(best, total)
    return best


def max_window_count(events: list[Event], window_ms: int) -> int:
    return int(max_window_sum(events, window_ms, lambda _: 1))


def max_window_distinct(events: list[Event], window_ms: int, field: str) -> int:
    """Most distinct values of `field` in any window (t - w, t] ending at an event."""
    best = 0
    counts: Counter[Any] = Counter()
    lo = 0
    for event in events:
        counts[event[field]] += 1
        while events[lo]["ts"] <= event["ts"] - window_ms:
            old = events[lo][field]
            counts[old] -= 1
            if not counts[old]:
                del counts[old]
            lo += 1
        best = max(best, len(counts))
    return best


def window_count_at(events: list[Event], end_ms: int, window_ms: int) -> int:
    """Events with ts in (end - w, end]."""
    return sum(1 for e in events if end_ms - window_ms < e["ts"] <= end_ms)


def max_gap(events: list[Event]) -> int:
    times = sorted(e["ts"] for e in events)
    return max((b - a for a, b in pairwise(times)), default=0)


Group = tuple[tuple[str, Any], ...]
MINUTE = 60_000


def _key(fields: tuple[str, ...], values: tuple[Any, ...]) -> Group:
    return tuple(zip(fields, values, strict=True))


def _is_request(event: Event) -> bool:
    return bool(event["event_type"] == "request")


def _threshold(
    events: list[Event],
    fields: tuple[str, ...],
    window_ms: int,
    limit: float,
    where: Callable[[Event], bool],
    value: Callable[[Event], float],
) -> set[Group]:
    return {
        _key(fields, group)
        for group, items in group_by(events, fields, where).items()
        if max_window_sum(items, window_ms, value) > limit
    }


def _ratio_fires(items: list[Event], window_ms: int, limit: float, min_count: int) -> bool:
    lo = flagged = 0
    for n, event in enumerate(items):
        flagged += event["flagged"]
        while items[lo]["ts"] <= event["ts"] - window_ms:
            flagged -= items[lo]["flagged"]
            lo += 1
        count = n - lo + 1
        if count >= min_count and flagged / count > limit:
            return True
    return False


def spike_fires(
    times: list[int], first_seen: int, window_ms: int, factor: float, windows: int, min_count: int
) -> bool:
    """The `spike` detector (direction up) evaluated at each event of a group."""
    for t in times:
        if t - first_seen < (windows + 1) * window_ms:
            continue

        def count(end: int) -> int:
            return bisect_right(times, end) - bisect_right(times, end - window_ms)

        current = count(t)
        baseline = sum(count(t - k * window_ms) for k in range(1, windows + 1)) / windows
        if current >= min_count and baseline > 0 and current >= factor * baseline:
            return True
    return False


def _sequence_fires(items: list[Event], within_ms: int) -> bool:
    for i, first in enumerate(items):
        if first["event_type"] != "signup":
            continue
        step = 1
        for event in items[i + 1 :]:
            if event["ts"] - first["ts"] > within_ms:
                break
            if step == 1 and event["event_type"] == "key_created":
                step = 2
            elif step == 2 and event["event_type"] == "request" and event["flagged"]:
                return True
    return False


def _unpaid_fires(items: list[Event], within_ms: int, count: int, end: int) -> bool:
    """payment_failed, then `count` requests, then no payment_succeeded until the deadline
    (first + within), which the run must have reached."""
    for i, first in enumerate(items):
        if first["event_type"] != "payment_failed":
            continue
        deadline = first["ts"] + within_ms
        requests = [e["ts"] for e in items[i + 1 :] if _is_request(e) and e["ts"] <= deadline]
        if end < deadline or len(requests) < count:
            continue
        done = requests[count - 1]
        paid = (e["ts"] for e in items if e["event_type"] == "payment_succeeded")
        if not any(done <= t <= deadline for t in paid):
            return True
    return False


AUTOMATION_UA = re.compile(r"(?i)(scrapy|headless|phantomjs|selenium|puppeteer|playwright)")
INTERNAL = (ip_network("10.0.0.0/8"), ip_network("192.168.0.0/16"))


def _automated(event: Event) -> bool:
    return (
        _is_request(event)
        and event["attrs"].get("plan") == "free"
        and bool(AUTOMATION_UA.search(event["attrs"].get("user_agent", "")))
        and not any(ip_address(event["ip"]) in net for net in INTERNAL)
    )


def firing_groups(events: list[Event]) -> dict[str, set[Group]]:
    """Groups for which each rule of the shipped catalogue would fire, by brute force."""
    key = ("org_id", "api_key_id")
    org = ("org_id",)
    account = ("org_id", "account_id")
    by_org = group_by(events, org)
    end = max(e["ts"] for e in events)
    fired: dict[str, set[Group]] = {
        "api_key_burst": _threshold(events, key, MINUTE, 1000, _is_request, lambda _: 1),
        "token_drain": _threshold(
            events, key, 5 * MINUTE, 200_000, _is_request, lambda e: e["completion_tokens"]
        ),
        "new_country_for_key": {
            _key(key, g)
            for g, items in group_by(events, key, _is_request).items()
            if len({e["country"] for e in items}) > 1
        },
        "trial_signup_burst": _threshold(
            events, ("ip",), 10 * MINUTE, 5, lambda e: e["event_type"] == "signup", lambda _: 1
        ),
        "ip_account_fanout": {
            _key(("ip",), g)
            for g, items in group_by(events, ("ip",)).items()
            if max_window_distinct(items, 10 * MINUTE, "account_id") > 20
        },
        "flagged_ratio": {
            _key(org, g)
            for g, items in group_by(events, org, _is_request).items()
            if _ratio_fires(items, 5 * MINUTE, 0.3, 50)
        },
        "flagged_surge": {
            _key(org, g)
            for g, items in group_by(events, org, lambda e: _is_request(e) and e["flagged"]).items()
            if spike_fires([e["ts"] for e in items], by_org[g][0]["ts"], 5 * MINUTE, 5, 6, 20)
        },
        "signup_key_flagged_sequence": {
            _key(("account_id",), g)
            for g, items in group_by(events, ("account_id",)).items()
            if _sequence_fires(items, 30 * MINUTE)
        },
        "source_silent": {
            _key(org, g)
            for g, items in by_org.items()
            if max(max_gap(items), end - items[-1]["ts"]) > 10 * MINUTE
        },
        "auth_failure_burst": _threshold(
            events, ("ip",), 5 * MINUTE, 50, lambda e: e["status"] in (401, 403), lambda _: 1
        ),
        "automation_user_agent": {_key(account, g) for g in group_by(events, account, _automated)},
        "child_safety_flag": {
            _key(account, g)
            for g in group_by(
                events,
                account,
                lambda e: "sexual/minors" in e.get("categories", ()) and e["flagged"],
            )
        },
        "max_prompt_tokens": {
            _key(key, g)
            for g in group_by(
                events, key, lambda e: _is_request(e) and e["prompt_tokens"] > 100_000
            )
        },
        "unpaid_heavy_usage": {
            _key(org, g)
            for g, items in by_org.items()
            if _unpaid_fires(items, 60 * MINUTE, 100, end)
        },
    }
    return fired
