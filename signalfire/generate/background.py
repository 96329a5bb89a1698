"""Normal background traffic: quiet for the detection catalogue, fast to produce.

Each org is its own arrival process (exponential gaps, never longer than MAX_GAP_MS, so no org
ever falls silent); a heap merges them in event-time order. Inside an org a key is picked by its
rate, an IP among the key's stable IPs; token counts come from seeded tables. About 0.5% of
requests are flagged, evenly over all orgs; a few events are logins, key creations, payments
and (rare, each from its own fresh IP) signups of accounts that then stay idle.

Event schema. Requests carry every field:
    event_id, ts, org_id, account_id, api_key_id, ip, country, endpoint, model, status,
    prompt_tokens, completion_tokens, flagged, categories, event_type ("request"), attrs
Other event types (signup, login, key_created, payment_succeeded, payment_failed) carry
    event_id, ts, org_id, account_id, ip, country, status, event_type, attrs
plus api_key_id for key_created. `attrs` always has `plan` and `user_agent`.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect
from collections.abc import Iterator
from typing import Any

from signalfire.generate.population import PROFILES, Ids, Key, Org

MAX_GAP_MS = 240_000.0
FLAGGED_P = 0.005
CATEGORY_SETS: tuple[tuple[str, ...], ...] = (
    ("harassment",), ("hate",), ("violence",), ("self-harm",), ("sexual",), ("illicit",),
    ("harassment", "hate"), ("violence", "illicit"),
)  # fmt: skip
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"
# cumulative probabilities of a request's outcome, drawn with one random number
_OK = 0.978
_STATUS_TAIL: tuple[tuple[float, int], ...] = ((0.993, 429), (0.997, 500), (0.999, 400), (1.1, 401))
# cumulative probabilities of the non-request event types (per event). The background has
# no payment failures: an unpaid org that keeps using the API is an abuse pattern
# (rule unpaid_heavy_usage), not background.
_ACTIONS: tuple[tuple[float, str], ...] = (
    (0.0020, "login"), (0.0024, "key_created"), (0.0030, "payment_succeeded"),
    (0.0031, "signup"),
)  # fmt: skip
_ACTION_P = _ACTIONS[-1][0]

Event = dict[str, Any]
TokenTables = dict[str, tuple[tuple[int, int], ...]]


def request_event(
    key: Key,
    ts: int,
    *,
    endpoint: str,
    model: str,
    tokens: tuple[int, int],
    ip: str = "",
    country: str = "",
    user_agent: str = "",
    status: int = 200,
    categories: tuple[str, ...] = (),
) -> Event:
    """One request with `key` (the same field order as the background's inline builder); `ip`,
    `country` and `user_agent` default to the key's own."""
    prompt, completion = tokens if status == 200 else (tokens[0] if status == 500 else 0, 0)
    return {
        "event_id": "",
        "ts": ts,
        "org_id": key.org_id,
        "account_id": key.account_id,
        "api_key_id": key.key_id,
        "ip": ip or key.ips[0],
        "country": country or key.country,
        "endpoint": endpoint,
        "model": model,
        "status": status,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "flagged": bool(categories),
        "categories": list(categories),
        "event_type": "request",
        "attrs": {"plan": key.plan, "user_agent": user_agent or key.user_agent},
    }


def action_event(
    event_type: str,
    ts: int,
    *,
    org_id: str,
    account_id: str,
    ip: str,
    country: str,
    plan: str,
    user_agent: str = BROWSER_UA,
    api_key_id: str = "",
    status: int = 200,
) -> Event:
    """A non-request event: signup, login, key_created (with api_key_id), payment_*."""
    event: Event = {"event_id": "", "ts": ts, "org_id": org_id, "account_id": account_id}
    if api_key_id:
        event["api_key_id"] = api_key_id
    event.update(ip=ip, country=country, status=status, event_type=event_type)
    event["attrs"] = {"plan": plan, "user_agent": user_agent}
    return event


def _action(kind: str, ts: int, key: tuple[Any, ...], ids: Ids, rng: random.Random) -> Event:
    org_id, account_id, _, ips, _, country, plan, user_agent = key[:8]
    who = {"org_id": org_id, "account_id": account_id, "ip": ips[0], "country": country}
    if kind == "signup":  # a new member of the org, from a fresh IP; the account stays idle
        who.update(account_id=ids.new("acct"), ip=ids.ip())
        return action_event(kind, ts, plan=plan, **who)
    if kind == "key_created":  # a spare key, never used in the run
        return action_event(
            kind, ts, plan=plan, user_agent=user_agent, api_key_id=ids.new("key"), **who
        )
    if kind == "login":
        status = 401 if rng.random() < 0.02 else 200
        return action_event(kind, ts, plan=plan, status=status, **who)
    event = action_event(kind, ts, plan=plan, **who)
    event["attrs"]["amount_usd"] = round(rng.uniform(5.0, 500.0), 2)
    return event


def nominal_rate(rate: float, max_gap_s: float) -> float:
    """The exponential rate whose gaps, capped at `max_gap_s`, average 1 / `rate`."""
    if rate * max_gap_s <= 1.0:
        raise ValueError("rate too low for the gap cap")
    lo, hi = 0.0, rate
    for _ in range(60):
        mid = (lo + hi) / 2
        if -math.expm1(-mid * max_gap_s) / mid > 1.0 / rate:
            lo = mid
        else:
            hi = mid
    return hi


def iter_background(
    orgs: list[Org],
    *,
    key_rates: list[list[float]],
    tables: TokenTables,
    rng: random.Random,
    ids: Ids,
    start_ms: int,
    stop_ms: dict[str, int],
) -> Iterator[Event]:
    """Endless background events in non-decreasing `ts` order (with an empty `event_id`).

    An org named in `stop_ms` sends nothing after that time.
    """
    rnd = rng.random
    log = math.log
    # per org: (keys as flat tuples, cumulative key rates, total, mean gap ms, stop ms)
    states: list[tuple[tuple[tuple[Any, ...], ...], list[float], float, float, float]] = []
    heap: list[tuple[float, int]] = []
    for oi, org in enumerate(orgs):
        org_keys: list[tuple[Any, ...]] = []
        for key in org.keys:
            profiles = tuple(
                (PROFILES[p][0], PROFILES[p][1], tables[PROFILES[p][0]]) for p in key.profiles
            )
            org_keys.append(
                (
                    key.org_id,
                    key.account_id,
                    key.key_id,
                    key.ips,
                    len(key.ips),
                    key.country,
                    key.plan,
                    key.user_agent,
                    profiles,
                    len(profiles),
                )
            )
        cum: list[float] = []
        total = 0.0
        for rate in key_rates[oi]:
            total += rate
            cum.append(total)
        stop = float(stop_ms.get(org.org_id, math.inf))
        mean_gap = 1000.0 / nominal_rate(total, MAX_GAP_MS / 1000.0)
        states.append((tuple(org_keys), cum, total, mean_gap, stop))
        first = start_ms + min(-log(1.0 - rnd()) * mean_gap, MAX_GAP_MS)
        if first <= stop:
            heap.append((first, oi))
    heapq.heapify(heap)
    table_n = len(tables[PROFILES[0][0]])
    n_cats = len(CATEGORY_SETS)
    heapreplace = heapq.heapreplace
    heappop = heapq.heappop
    while heap:
        t, oi = heap[0]
        keys, cum, total, mean_gap, stop = states[oi]
        k = keys[bisect(cum, rnd() * total)] if len(keys) > 1 else keys[0]
        ts = int(t)
        r = rnd()
        if r < _ACTION_P:
            kind = next(name for p, name in _ACTIONS if r < p)
            event = _action(kind, ts, k, ids, rng)
        else:
            endpoint, model, table = k[8][int(rnd() * k[9])]
            prompt, completion = table[int(rnd() * table_n)]
            r = rnd()
            flagged = False
            categories: list[str] = []
            status = 200
            if r < FLAGGED_P:
                flagged = True
                categories = list(CATEGORY_SETS[int(r / FLAGGED_P * n_cats)])
            elif r >= _OK:
                status = next(code for p, code in _STATUS_TAIL if r < p)
                completion = 0
                if status != 500:
                    prompt = 0
            event = {
                "event_id": "",
                "ts": ts,
                "org_id": k[0],
                "account_id": k[1],
                "api_key_id": k[2],
                "ip": k[3][int(rnd() * k[4])],
                "country": k[5],
                "endpoint": endpoint,
                "model": model,
                "status": status,
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "flagged": flagged,
                "categories": categories,
                "event_type": "request",
                "attrs": {"plan": k[6], "user_agent": k[7]},
            }
        gap = -log(1.0 - rnd()) * mean_gap
        nxt = t + (gap if gap < MAX_GAP_MS else MAX_GAP_MS)
        if nxt > stop:
            heappop(heap)
        else:
            heapreplace(heap, (nxt, oi))
        yield event
