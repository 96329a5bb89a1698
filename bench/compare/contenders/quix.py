"""Quix Streams, the way its docs teach: an Application, a StreamingDataFrame branched per rule,
`.hopping_window(...)` aggregations emitting every update (`.current()`), `group_by` to re-key
by ip, a custom `reduce` for the distinct count (Quix Streams has no distinct aggregation).

`.current()` emits one row per window an event updates (two here), so a branch has processed
everything once it has emitted twice as many rows as it had events.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from quixstreams import Application
from quixstreams.models import TimestampType

from bench.compare.shared import KEEP_WINDOWS_MS, Job, Progress, has_ip, is_request


def event_time(value: Any, headers: Any, timestamp: int, kind: TimestampType) -> int:
    return int(value["ts"])


def key_text(key: Any) -> str:
    return key.decode() if isinstance(key, bytes) else str(key)


def first_account(event: dict[str, Any]) -> list[str]:
    return [event["account_id"]]


def add_account(seen: list[str], event: dict[str, Any]) -> list[str]:
    account = event["account_id"]
    return seen if account in seen else [*seen, account]


def main() -> None:
    job = Job.load(sys.argv[1])
    org, ip = job.spec.org, job.spec.ip
    progress = Progress(job, {"org": 2 * job.requests, "ip": 2 * job.with_ip})

    def org_window(row: dict[str, Any], key: Any, ts: int, headers: Any) -> None:
        if row["value"] > org.threshold:
            progress.breaches["org_requests"].add(key_text(key))
        progress.add("org")

    def ip_window(row: dict[str, Any], key: Any, ts: int, headers: Any) -> None:
        if len(row["value"]) > ip.threshold:
            progress.breaches["ip_accounts"].add(key_text(key))
        progress.add("ip")

    def started(event: Any) -> None:
        progress.start()

    app = Application(
        broker_address=job.brokers,
        consumer_group=job.group,
        auto_offset_reset="earliest",
        state_dir=str(Path(job.workdir) / "quix-state"),
        loglevel="WARNING",
    )
    topic = app.topic(job.topic, value_deserializer="json", timestamp_extractor=event_time)
    sdf = app.dataframe(topic).update(started)

    requests = sdf.filter(is_request)
    (
        requests.hopping_window(org.size_ms, org.step_ms, grace_ms=KEEP_WINDOWS_MS)
        .count()
        .current()
        .update(org_window, metadata=True)
    )

    by_ip = sdf.filter(has_ip).group_by("ip")
    (
        by_ip.hopping_window(ip.size_ms, ip.step_ms, grace_ms=KEEP_WINDOWS_MS)
        .reduce(add_account, first_account)
        .current()
        .update(ip_window, metadata=True)
    )
    app.run()


if __name__ == "__main__":
    main()
