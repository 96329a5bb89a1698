"""The synthetic customer base: orgs, accounts, API keys, IPs, and how traffic is shared out.

Everything here is a pure function of a `random.Random` passed in. Ids look like the real thing
(`org_1a2b3c4d`, `acct_...`, `key_...`) and are never secrets; IPs are unique per account (plus
office IPs shared by at most `OFFICE_SHARE` accounts of one org), so an IP never serves more
than a handful of accounts.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

KEY_CAP_EPS = 1.0  # background requests/s per API key: 60/min, far below any burst rule
MIN_ORG_EPS = 1.0 / 120.0  # every org sends at least one event per ~2 min on average
OFFICE_SHARE = 4  # accounts sharing one office IP, at most
TOKEN_TABLE_SIZE = 1024

COUNTRIES: tuple[tuple[str, int], ...] = (
    ("US", 34), ("GB", 7), ("DE", 7), ("IN", 8), ("FR", 5), ("BR", 5), ("JP", 4), ("CA", 4),
    ("NL", 3), ("SG", 3), ("KR", 3), ("ES", 3), ("AU", 3), ("SE", 2), ("PL", 2), ("MX", 2),
    ("IT", 2), ("CH", 1), ("IE", 1), ("IL", 1),
)  # fmt: skip
PLANS: tuple[str, ...] = ("free", "pro", "enterprise")
USER_AGENTS: tuple[str, ...] = (
    "openai-python/1.54.3", "openai-node/4.71.1", "python-requests/2.32.3", "curl/8.5.0",
    "langchain/0.3.7", "Go-http-client/2.0", "okhttp/4.12.0", "axios/1.7.7", "httpx/0.27.2",
)  # fmt: skip

CHAT = "/v1/chat/completions"
EMBEDDINGS = "/v1/embeddings"
IMAGES = "/v1/images/generations"
MODERATIONS = "/v1/moderations"
# (endpoint, model, weight when a key picks its profiles)
PROFILES: tuple[tuple[str, str, int], ...] = (
    (CHAT, "atlas-4o", 30), (CHAT, "atlas-4o-mini", 30), (CHAT, "atlas-reasoner", 8),
    (EMBEDDINGS, "embed-3-small", 14), (EMBEDDINGS, "embed-3-large", 5),
    (IMAGES, "pixel-3", 4), (MODERATIONS, "guard-2", 9),
)  # fmt: skip
_PUBLIC_FIRST_OCTETS = (
    23, 31, 37, 45, 51, 62, 66, 73, 78, 81, 84, 89, 92, 98, 104, 109, 122, 136, 145, 151, 176,
    185, 188, 195, 203, 212, 217,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Key:
    """One API key: who owns it, where it is used from, what it calls."""

    org_id: str
    account_id: str
    key_id: str
    ips: tuple[str, ...]
    country: str
    plan: str
    user_agent: str
    profiles: tuple[int, ...]  # indices into PROFILES, repeated by weight
    weight: float  # share of the org's traffic before capping


@dataclass(frozen=True, slots=True)
class Account:
    org_id: str
    account_id: str
    ips: tuple[str, ...]
    country: str


@dataclass(frozen=True, slots=True)
class Org:
    org_id: str
    plan: str
    country: str
    weight: float  # zipf-like share of all traffic before capping
    accounts: tuple[Account, ...]
    keys: tuple[Key, ...]


class Ids:
    """Unique random ids and IPs drawn from one generator."""

    def __init__(self, rng: random.Random, seen: set[str] | None = None) -> None:
        self._rng = rng
        self._seen: set[str] = set() if seen is None else seen

    def fork(self, rng: random.Random) -> Ids:
        """Ids drawn from another generator, unique against everything drawn here so far (what
        the fork draws is not seen here, so forking twice from one point repeats itself)."""
        return Ids(rng, set(self._seen))

    def new(self, prefix: str) -> str:
        while True:
            value = f"{prefix}_{self._rng.getrandbits(32):08x}"
            if value not in self._seen:
                self._seen.add(value)
                return value

    def ip(self, v6: bool = False) -> str:
        rng = self._rng
        while True:
            if v6:
                words = [rng.getrandbits(16) for _ in range(4)]
                head = f"2a0{rng.randrange(1, 10)}"
                value = f"{head}:{words[0]:x}:{words[1]:x}:{words[2]:x}::{words[3]:x}"
            else:
                first = _PUBLIC_FIRST_OCTETS[rng.randrange(len(_PUBLIC_FIRST_OCTETS))]
                value = f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            if value not in self._seen:
                self._seen.add(value)
                return value


def pick_country(rng: random.Random, exclude: str = "") -> str:
    names = [c for c, _ in COUNTRIES if c != exclude]
    weights = [w for c, w in COUNTRIES if c != exclude]
    return rng.choices(names, weights)[0]


def token_tables(rng: random.Random) -> dict[str, tuple[tuple[int, int], ...]]:
    """Per endpoint, a table of (prompt_tokens, completion_tokens) samples indexed at random."""

    def logn(median: float, sigma: float, lo: int, hi: int) -> int:
        return max(lo, min(hi, int(rng.lognormvariate(math.log(median), sigma))))

    n = TOKEN_TABLE_SIZE
    return {
        CHAT: tuple((logn(600, 1.0, 5, 31_000), logn(180, 0.9, 1, 4096)) for _ in range(n)),
        EMBEDDINGS: tuple((logn(250, 1.0, 1, 8191), 0) for _ in range(n)),
        IMAGES: tuple((logn(60, 0.5, 3, 1000), 0) for _ in range(n)),
        MODERATIONS: tuple((logn(150, 1.0, 1, 8000), 0) for _ in range(n)),
    }


def build_population(rng: random.Random, n_orgs: int, ids: Ids) -> list[Org]:
    """Orgs with zipf-like weights; bigger orgs have more accounts and keys."""
    ranks = list(range(n_orgs))
    rng.shuffle(ranks)
    profile_weights = [w for _, _, w in PROFILES]
    orgs: list[Org] = []
    for i in range(n_orgs):
        rank = ranks[i]
        weight = 1.0 / (rank + 1) ** 1.05
        size = 1.0 - rank / n_orgs  # 1 for the biggest, ~0 for the smallest
        plan = rng.choices(PLANS, (0.65 * (1.0 - size) + 0.05, 0.35, 0.05 + 0.6 * size))[0]
        country = pick_country(rng)
        org_id = ids.new("org")
        n_accounts = max(1, min(20, int(1 + size * 16 + rng.randrange(0, 5))))
        accounts: list[Account] = []
        keys: list[Key] = []
        office: list[str] = []
        office_used = OFFICE_SHARE
        v6_org = rng.random() < 0.12
        for _ in range(n_accounts):
            acc_country = country if rng.random() < 0.85 else pick_country(rng)
            ips = [ids.ip(v6_org and rng.random() < 0.7) for _ in range(rng.randrange(1, 4))]
            if acc_country == country and n_accounts > 2 and rng.random() < 0.4:
                if office_used >= OFFICE_SHARE:
                    office.append(ids.ip())
                    office_used = 0
                office_used += 1
                ips[0] = office[-1]
            account = Account(org_id, ids.new("acct"), tuple(ips), acc_country)
            accounts.append(account)
            for _ in range(rng.randrange(1, 4)):
                primary = rng.choices(range(len(PROFILES)), profile_weights)[0]
                extra = rng.choices(range(len(PROFILES)), profile_weights, k=rng.randrange(0, 3))
                key_ips = tuple(rng.sample(account.ips, rng.randrange(1, len(account.ips) + 1)))
                keys.append(
                    Key(
                        org_id=org_id,
                        account_id=account.account_id,
                        key_id=ids.new("key"),
                        ips=key_ips,
                        country=acc_country,
                        plan=plan,
                        user_agent=USER_AGENTS[rng.randrange(len(USER_AGENTS))],
                        profiles=(primary, primary, primary, *extra),
                        weight=rng.lognormvariate(0.0, 1.0),
                    )
                )
        orgs.append(Org(org_id, plan, country, weight, tuple(accounts), tuple(keys)))
    return orgs


def allocate_rates(orgs: list[Org], total_eps: float) -> list[list[float]]:
    """Share `total_eps` over all keys: zipf over orgs, lognormal within an org, each key capped
    at KEY_CAP_EPS by water-filling (the excess goes to the other keys), every org at least
    MIN_ORG_EPS. Above the cap's capacity all keys share the rate evenly (quietness is then not
    guaranteed: use more orgs). Returns the rate of each key, per org."""
    flat: list[tuple[float, int, int]] = []
    for oi, org in enumerate(orgs):
        key_total = sum(k.weight for k in org.keys)
        for ki, key in enumerate(org.keys):
            flat.append((org.weight * key.weight / key_total, oi, ki))
    rates = [[0.0] * len(org.keys) for org in orgs]
    floor_total = MIN_ORG_EPS * len(orgs)
    remaining = max(total_eps - floor_total, 0.0)
    if remaining > KEY_CAP_EPS * len(flat) * 0.9:
        even = remaining / len(flat)
        for _, oi, ki in flat:
            rates[oi][ki] = even
    else:
        flat.sort(key=lambda item: (-item[0], item[1], item[2]))
        weight_left = sum(w for w, _, _ in flat)
        for w, oi, ki in flat:
            share = remaining * w / weight_left if weight_left > 0 else 0.0
            rate = min(share, KEY_CAP_EPS * 0.9)
            rates[oi][ki] = rate
            remaining -= rate
            weight_left -= w
    for oi, org in enumerate(orgs):
        key_total = sum(k.weight for k in org.keys)
        for ki, key in enumerate(org.keys):
            rates[oi][ki] += MIN_ORG_EPS * key.weight / key_total
    return rates
