"""Labelled abuse scenarios injected into the background: at least one for every rule of the
shipped catalogue.

Each scenario picks its victims from the population (distinct orgs, so no two scenarios share a
group), starts at a seeded time after the first 20% of the run (and late enough for its rules'
history needs), and yields a ground-truth label:
    {"scenario", "start_ts", "end_ts", "group": {field: value}, "rules": [rule ids]}
`start_ts` is the event time of the first abusive event (late delivery never moves an abusive
event before it), `start_ts`..`end_ts` spans the abusive activity, and each rule fires inside
it (for `source_silent`, once its absence window has passed after `start_ts`, the time the org
stops; for `unpaid_heavy_usage`, at `end_ts`, the hour after the failed payment). Orgs created
by a scenario keep sending until the run ends, so none of them goes silent.

Magnitudes (rule thresholds in brackets):
- stolen_key_token_drain: a mid-size org's busiest key, seen from the run's first minute, is used
  from a new country and IP: 3,000 requests over 10 min with 3,600-4,096 completion tokens each
  (~6M tokens per 5 min [>200k]); starts >= 65 min into the run, past a 1h new_value warmup.
- scraping_burst: one key, 7,200 embeddings requests in 3 min (~2,400 per 60 s [>1,000]), no
  completion tokens (so token_drain stays quiet).
- trial_account_farm: one IP signs up 30 free accounts of a new org within 7.5 min [>5 signups,
  >20 distinct accounts per 10 min]; each creates a key and sends 3-5 requests; the farm keeps a
  trickle (one request per 1-2.5 min) until the run ends.
- flagged_content_surge: an org whose normal rate is near 0.5 req/s gets as many extra flagged
  requests as its own traffic for 10 min (>=0.4/s, so >=120 flagged of >=240 requests per 5 min
  [ratio >0.3, min 50]); a trickle of one flagged request per 1-2.5 min from the run's start gives
  it a non-zero baseline (~3 per 5 min), so the spike factor is ~40 [>=5, min 20]. Starts >= 40
  min into the run (6 baseline windows of 5 min + the current one).
- signup_key_flagged: a new account in an existing org: signup, key_created 2 min later, then 6
  flagged (and 2 normal) requests within the next 9 min [5 flagged within 30 min of signup].
- silent_source: one of the busiest orgs sends nothing after 70% of the run (>= 15 min of
  silence [10 min absence]).
- scripted_free_tier: a new free-plan org, signed up from a cloud IP by a headless browser, whose
  one account calls the API with the HeadlessChrome user agent: 80 requests in 10 min, then one
  per 1-2.5 min until the run ends [any free-plan request from an automation client].
- child_safety_content: an established account of a mid-size org sends 3 requests flagged
  sexual/minors within 5 min [any].
- context_stuffing: an established key of a mid-size org sends 6 prompts of 110k-127k tokens
  (many-shot jailbreaks near the 128k context) within 8 min [>100k].
- failed_payment_usage: a new pro-plan org's first charge fails, then it consumes on credit at
  ~0.4 requests/s for 20 min (100 requests within 5 min of the failure [100 within the hour])
  and one request per 20-90 s after, never paying [no payment_succeeded within 1h].
- credential_stuffing: one IP tries a leaked list of 90 accounts of uninvolved orgs, a second
  password for half of them: ~130 logins in 4 min, 97% of them 401 [>50 auth failures per 5
  min, >20 distinct accounts per 10 min].
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from signalfire.generate.background import CATEGORY_SETS, Event, action_event, request_event
from signalfire.generate.config import SCENARIO_NAMES
from signalfire.generate.population import CHAT, EMBEDDINGS, Account, Key, Org, pick_country
from signalfire.generate.world import MINUTE, SILENT_SHARE, TIMINGS, Scenario, World

HEADLESS_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/131.0.0.0 Safari/537.36"
)
CSAM_CATEGORIES = ("sexual", "sexual/minors")
STUFFED_ACCOUNTS = 90
TRICKLE = (60_000, 150_000)  # ms between the requests of an org that must not fall silent


def _spread(rng: random.Random, start: int, span_ms: int, n: int) -> list[int]:
    return sorted(start + int(rng.random() * span_ms) for _ in range(n))


def _normal(key: Key, ts: int, w: World, rng: random.Random, **kw: Any) -> Event:
    tokens = w.tables[CHAT][rng.randrange(len(w.tables[CHAT]))]
    ip = key.ips[rng.randrange(len(key.ips))]
    return request_event(key, ts, endpoint=CHAT, model="atlas-4o-mini", tokens=tokens, ip=ip, **kw)


def _categories(rng: random.Random) -> tuple[str, ...]:
    return CATEGORY_SETS[rng.randrange(len(CATEGORY_SETS))]


def _act(
    kind: str, ts: int, where: dict[str, str], plan: str, api_key_id: str = "", **kw: Any
) -> Event:
    return action_event(
        kind,
        ts,
        org_id=where["org_id"],
        account_id=where["account_id"],
        ip=where["ip"],
        country=where["country"],
        plan=plan,
        api_key_id=api_key_id,
        **kw,
    )


def _past_the_end(w: World) -> int:
    """Where the trickles of new orgs stop: past the run's end, which the event count (not the
    plan) decides to within a minute or so."""
    return w.start_ms + w.duration_ms + 20 * MINUTE


def _keep_sending(
    key: Key, ts: int, w: World, rng: random.Random, gap_ms: tuple[int, int], **kw: Any
) -> list[Event]:
    """Requests from `ts` on, one per `gap_ms` (uniform), until past the run's end: a new org
    that stopped would be a source_silent page that no label explains."""
    events = []
    while ts <= _past_the_end(w):
        events.append(_normal(key, ts, w, rng, **kw))
        ts += rng.randrange(*gap_ms)
    return events


def _new_key(where: dict[str, str], account_id: str, key_id: str) -> Key:
    """A key created during the run: used only from the IP it was created from."""
    return Key(
        where["org_id"],
        account_id,
        key_id,
        (where["ip"],),
        where["country"],
        where["plan"],
        "curl/8.5.0",
        (0,),
        1.0,
    )


def stolen_key_token_drain(w: World, rng: random.Random, start: int) -> Scenario:
    key = w.busiest_key(w.pick_org(rng, 5, 40))
    country = pick_country(rng, exclude=key.country)
    ip = w.ids.ip()
    # the key is seen in the run's first minute, so its home country is learned long before
    events = [_normal(key, ts, w, rng) for ts in _spread(rng, w.start_ms, MINUTE, 3)]
    times = _spread(rng, start, 10 * MINUTE, 3000)
    for ts in times:
        tokens = (rng.randrange(150, 900), rng.randrange(3600, 4097))
        events.append(
            request_event(
                key,
                ts,
                endpoint=CHAT,
                model="atlas-4o",
                tokens=tokens,
                ip=ip,
                country=country,
                user_agent="python-requests/2.31.0",
            )
        )
    group = {"org_id": key.org_id, "api_key_id": key.key_id}
    rules = ("token_drain", "new_country_for_key")
    return Scenario("stolen_key_token_drain", times[0], start + 10 * MINUTE, group, rules, events)


def scraping_burst(w: World, rng: random.Random, start: int) -> Scenario:
    key = w.busiest_key(w.pick_org(rng, 10, 80))
    events = []
    times = _spread(rng, start, 3 * MINUTE, 7200)
    for ts in times:
        status = 429 if rng.random() < 0.08 else 200
        tokens = (rng.randrange(20, 400), 0)
        events.append(
            request_event(
                key, ts, endpoint=EMBEDDINGS, model="embed-3-small", tokens=tokens, status=status
            )
        )
    group = {"org_id": key.org_id, "api_key_id": key.key_id}
    rules = ("api_key_burst",)
    return Scenario("scraping_burst", times[0], start + 3 * MINUTE, group, rules, events)


def trial_account_farm(w: World, rng: random.Random, start: int) -> Scenario:
    org_id, ip, country = w.ids.new("org"), w.ids.ip(), pick_country(rng)
    w.used.add(org_id)
    where = {"org_id": org_id, "ip": ip, "country": country, "plan": "free"}
    keys: list[Key] = []
    events: list[Event] = []
    for ts in [start, *_spread(rng, start, int(7.5 * MINUTE), 29)]:
        account_id, key_id = w.ids.new("acct"), w.ids.new("key")
        where["account_id"] = account_id
        events.append(_act("signup", ts, where, "free"))
        created = ts + rng.randrange(20_000, 90_000)
        events.append(_act("key_created", created, where, "free", key_id))
        key = _new_key(where, account_id, key_id)
        keys.append(key)
        for rts in _spread(rng, created + 10_000, 140_000, rng.randrange(3, 6)):
            events.append(_normal(key, rts, w, rng))
    end = max(e["ts"] for e in events)
    ts = end + rng.randrange(*TRICKLE)
    while ts <= _past_the_end(w):  # a trickle: the org never goes silent
        events.append(_normal(keys[rng.randrange(len(keys))], ts, w, rng))
        ts += rng.randrange(*TRICKLE)
    rules = ("trial_signup_burst", "ip_account_fanout")
    return Scenario("trial_account_farm", start, end, {"ip": ip}, rules, events)


def flagged_content_surge(w: World, rng: random.Random, start: int) -> Scenario:
    ranked = [i for i in w.by_rate() if w.orgs[i].org_id not in w.used]
    candidates = ranked[5:] or ranked
    index = min(candidates, key=lambda i: (abs(math.log(max(w.org_rate(i), 1e-9) / 0.5)), i))
    w.used.add(w.orgs[index].org_id)
    org = w.orgs[index]
    rates = w.key_rates[index]
    surge_eps = max(1.1 * w.org_rate(index), 0.4)
    events = []
    ts = w.start_ms + rng.randrange(0, MINUTE)
    while ts < start:  # baseline trickle of flagged requests
        key = rng.choices(org.keys, rates)[0]
        events.append(_normal(key, ts, w, rng, categories=_categories(rng)))
        ts += rng.randrange(60_000, 150_000)
    times = _spread(rng, start, 10 * MINUTE, int(surge_eps * 600))
    for ts in times:
        key = rng.choices(org.keys, rates)[0]
        events.append(_normal(key, ts, w, rng, categories=_categories(rng)))
    group = {"org_id": org.org_id}
    rules = ("flagged_ratio", "flagged_surge")
    return Scenario("flagged_content_surge", times[0], start + 10 * MINUTE, group, rules, events)


def signup_key_flagged(w: World, rng: random.Random, start: int) -> Scenario:
    org = w.orgs[w.pick_org(rng, 40, 200)]
    account_id, key_id, ip = w.ids.new("acct"), w.ids.new("key"), w.ids.ip()
    where = {"org_id": org.org_id, "account_id": account_id, "ip": ip, "country": org.country}
    events = [_act("signup", start, where, org.plan)]
    created = start + 2 * MINUTE
    events.append(_act("key_created", created, where, org.plan, key_id))
    key = _new_key({**where, "plan": org.plan}, account_id, key_id)
    times = _spread(rng, created + 30_000, 8 * MINUTE, 8)
    for n, ts in enumerate(times):
        categories = _categories(rng) if n not in (0, 4) else ()
        events.append(_normal(key, ts, w, rng, categories=categories))
    group = {"account_id": account_id}
    rules = ("signup_key_flagged_sequence",)
    return Scenario("signup_key_flagged", start, times[-1], group, rules, events)


def silent_source(w: World, rng: random.Random, start: int) -> Scenario:
    org = w.orgs[w.pick_org(rng, 1, 6)]
    end = w.start_ms + w.duration_ms
    group = {"org_id": org.org_id}
    stop = {org.org_id: start}
    return Scenario("silent_source", start, end, group, ("source_silent",), [], stop)


def scripted_free_tier(w: World, rng: random.Random, start: int) -> Scenario:
    org_id, account_id, key_id = w.ids.new("org"), w.ids.new("acct"), w.ids.new("key")
    w.used.add(org_id)
    where = {"org_id": org_id, "ip": w.ids.ip(), "country": pick_country(rng), "plan": "free"}
    where["account_id"] = account_id
    ua = {"user_agent": HEADLESS_UA}
    events = [
        _act("signup", start - 4 * MINUTE, where, "free", **ua),
        _act("key_created", start - 3 * MINUTE, where, "free", key_id, **ua),
    ]
    key = _new_key(where, account_id, key_id)
    times = [start, *_spread(rng, start, 10 * MINUTE, 79)]
    events += [_normal(key, ts, w, rng, **ua) for ts in times]
    # the script keeps running (resold free quota), so the new org never falls silent
    events += _keep_sending(key, times[-1] + rng.randrange(*TRICKLE), w, rng, TRICKLE, **ua)
    group = {"org_id": org_id, "account_id": account_id}
    end = w.start_ms + w.duration_ms
    return Scenario("scripted_free_tier", start, end, group, ("automation_user_agent",), events)


def child_safety_content(w: World, rng: random.Random, start: int) -> Scenario:
    key = w.busiest_key(w.pick_org(rng, 20, 120))
    times = [start, *_spread(rng, start, 5 * MINUTE, 2)]
    events = [_normal(key, ts, w, rng, categories=CSAM_CATEGORIES) for ts in times]
    group = {"org_id": key.org_id, "account_id": key.account_id}
    rules = ("child_safety_flag",)
    return Scenario("child_safety_content", start, times[-1], group, rules, events)


def context_stuffing(w: World, rng: random.Random, start: int) -> Scenario:
    key = w.busiest_key(w.pick_org(rng, 10, 100))
    times = [start, *_spread(rng, start, 8 * MINUTE, 5)]
    events = []
    for ts in times:
        tokens = (rng.randrange(110_000, 127_001), rng.randrange(40, 400))
        ip = key.ips[rng.randrange(len(key.ips))]
        events.append(request_event(key, ts, endpoint=CHAT, model="atlas-4o", tokens=tokens, ip=ip))
    group = {"org_id": key.org_id, "api_key_id": key.key_id}
    return Scenario("context_stuffing", start, times[-1], group, ("max_prompt_tokens",), events)


def failed_payment_usage(w: World, rng: random.Random, start: int) -> Scenario:
    org_id, account_id, key_id = w.ids.new("org"), w.ids.new("acct"), w.ids.new("key")
    w.used.add(org_id)
    where = {"org_id": org_id, "ip": w.ids.ip(), "country": pick_country(rng), "plan": "pro"}
    where["account_id"] = account_id
    events = [
        _act("signup", start - 5 * MINUTE, where, "pro"),
        _act("key_created", start - 4 * MINUTE, where, "pro", key_id),
    ]
    key = _new_key(where, account_id, key_id)
    events += [_normal(key, ts, w, rng) for ts in _spread(rng, start - 3 * MINUTE, 2 * MINUTE, 4)]
    failed = _act("payment_failed", start, where, "pro", status=402)
    failed["attrs"]["amount_usd"] = round(rng.uniform(50.0, 500.0), 2)
    events.append(failed)
    ts = start + rng.randrange(5_000, 30_000)
    while ts < start + 20 * MINUTE:  # ~0.4 requests/s on credit, 100 requests within 5 min
        events.append(_normal(key, ts, w, rng))
        ts += rng.randrange(1_000, 4_000)
    events += _keep_sending(key, ts, w, rng, (20_000, 90_000))
    group = {"org_id": org_id}
    # the abuse is complete when the hour after the failure passes without a payment
    end = start + 60 * MINUTE
    return Scenario("failed_payment_usage", start, end, group, ("unpaid_heavy_usage",), events)


def credential_stuffing(w: World, rng: random.Random, start: int) -> Scenario:
    ip, country = w.ids.ip(), pick_country(rng)
    # built last: the leaked list spares the other scenarios' orgs while enough accounts remain
    pool = [(org, acct) for org in w.orgs if org.org_id not in w.used for acct in org.accounts]
    if len(pool) < STUFFED_ACCOUNTS:
        pool = [(org, acct) for org in w.orgs for acct in org.accounts]
    targets = rng.sample(pool, min(STUFFED_ACCOUNTS, len(pool)))
    # one password per account, then a second one for half of them, unless the first worked
    attempts: list[tuple[Org, Account, int]] = []
    broken: set[str] = set()
    for org, acct in targets + rng.sample(targets, len(targets) // 2):
        if acct.account_id in broken:
            continue
        status = 200 if rng.random() < 0.03 else 401
        if status == 200:
            broken.add(acct.account_id)
        attempts.append((org, acct, status))
    times = [start, *_spread(rng, start, 4 * MINUTE, len(attempts) - 1)]
    events = [
        action_event(
            "login",
            ts,
            org_id=org.org_id,
            account_id=acct.account_id,
            ip=ip,
            country=country,
            plan=org.plan,
            status=status,
        )
        for ts, (org, acct, status) in zip(times, attempts, strict=True)
    ]
    rules = ("auth_failure_burst", "ip_account_fanout")
    return Scenario("credential_stuffing", start, times[-1], {"ip": ip}, rules, events)


BUILDERS: dict[str, Callable[[World, random.Random, int], Scenario]] = {
    "silent_source": silent_source,
    "stolen_key_token_drain": stolen_key_token_drain,
    "scraping_burst": scraping_burst,
    "flagged_content_surge": flagged_content_surge,
    "signup_key_flagged": signup_key_flagged,
    "trial_account_farm": trial_account_farm,
    "scripted_free_tier": scripted_free_tier,
    "child_safety_content": child_safety_content,
    "context_stuffing": context_stuffing,
    "failed_payment_usage": failed_payment_usage,
    "credential_stuffing": credential_stuffing,
}


def build_scenarios(w: World, seed: int, names: tuple[str, ...]) -> list[Scenario]:
    """Every scenario is built (so victims do not depend on the selection); `names` are kept."""
    out: list[Scenario] = []
    if not names:
        return out
    for name, builder in BUILDERS.items():
        rng = random.Random(f"{seed}:scenario:{name}")
        timing = TIMINGS[name]
        if name == "silent_source":
            start = w.start_ms + int(w.duration_ms * (1.0 - SILENT_SHARE))
        else:
            lo = max(int(w.duration_ms * 0.2), timing.earliest_ms)
            hi = max(lo, int(w.duration_ms * 0.9) - timing.duration_ms)
            start = w.start_ms + rng.randrange(lo, hi + 1)
        scenario = builder(w, rng, start)
        if name in names:
            out.append(scenario)
    return sorted(out, key=lambda s: SCENARIO_NAMES.index(s.name))
