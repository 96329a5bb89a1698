"""The stream of the crash-determinism checks, on the in-memory Kafka and on a real one.

Partition BUSY carries an org that is busy up to T; partition QUIET an org that went quiet 25
minutes before T, so once read it idles and the worker moves its clock to T. Then `burst`: 1,100
requests of one key from one IP, all 401s, from 30 accounts, 20 minutes behind T -- enough to
page three rules had it been on time.
"""

from __future__ import annotations

from typing import Any

MINUTE = 60_000
T = 60 * MINUTE
BUSY, QUIET = 0, 1  # input partitions
LATE_START = T - 20 * MINUTE


def history() -> dict[int, list[dict[str, Any]]]:
    busy = [
        {"event_id": f"b{n}", "ts": n * 10_000, "org_id": "org-busy", "api_key_id": "kb",
         "ip": "10.0.0.1", "account_id": "acct-busy", "event_type": "request"}
        for n in range(T // 10_000 + 1)
    ]  # fmt: skip
    quiet = [
        {"event_id": f"q{n}", "ts": n * 10_000, "org_id": "org-quiet", "api_key_id": "kq",
         "ip": "10.0.0.2", "account_id": "acct-quiet", "event_type": "request"}
        for n in range((T - 25 * MINUTE) // 10_000 + 1)
    ]  # fmt: skip
    return {BUSY: busy, QUIET: quiet}


def burst(org: str, start: int = LATE_START) -> list[dict[str, Any]]:
    return [
        {"event_id": f"late{n}", "ts": start + n * 50, "org_id": org, "api_key_id": "k-late",
         "ip": "6.6.6.6", "account_id": f"acct-late-{n % 30}", "status": 401,
         "event_type": "request"}
        for n in range(1_100)
    ]  # fmt: skip
