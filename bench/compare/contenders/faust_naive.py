"""Naive Faust, the way its docs teach: an agent per rule iterating the stream event by event,
windowed tables (`app.Table(...).hopping(...)`), `group_by` to re-key the stream by ip.

Each event lies in two hopping windows; after updating both, the agent reads both (the window
current at the event's time and the one a step earlier) and records a key over the threshold.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import faust

from bench.compare.shared import Job, Progress, faust_expires_s, has_ip, is_request

job = Job.load(sys.argv[1])
org, ip = job.spec.org, job.spec.ip
progress = Progress(job, {"org": job.records, "ip": job.with_ip})
expires = faust_expires_s(job.oldest_ms, time.time())

app = faust.App(
    job.group,
    broker=f"kafka://{job.brokers}",
    value_serializer="json",
    topic_partitions=job.partitions,
    consumer_auto_offset_reset="earliest",
    datadir=str(Path(job.workdir) / "faust-data"),
    web_enabled=False,
)
events = app.topic(job.topic)


def event_time(event: Any) -> float:
    return float(event.value["ts"]) / 1000


def step_earlier(step_ms: int) -> Any:
    def at(event: Any) -> float:
        return event_time(event) - step_ms / 1000

    return at


# faust's WindowWrapperT type lacks relative_to(); the class has it.
requests: Any = app.Table("org_requests", default=int).hopping(
    org.size_ms / 1000, org.step_ms / 1000, expires=expires
)
requests = requests.relative_to(event_time)
requests_before = requests.relative_to(step_earlier(org.step_ms))
accounts: Any = app.Table("ip_accounts", default=set).hopping(
    ip.size_ms / 1000, ip.step_ms / 1000, expires=expires
)
accounts = accounts.relative_to(event_time)
accounts_before = accounts.relative_to(step_earlier(ip.step_ms))


@app.agent(events)
async def count_requests(stream: Any) -> None:
    async for event in stream:
        progress.start()
        if is_request(event):
            key = event["org_id"]
            requests[key] += 1
            if max(requests[key].value(), requests_before[key].value()) > org.threshold:
                progress.breaches["org_requests"].add(key)
        progress.add("org", ident=event["event_id"])


def ip_of(event: dict[str, Any]) -> str:
    # Faust moves a stream's processors, `filter` among them, onto the stream `group_by`
    # returns: the key is taken from every event, and the filter runs after the repartition.
    return str(event.get("ip"))


@app.agent(events)
async def count_accounts(stream: Any) -> None:
    async for event in stream.filter(has_ip).group_by(ip_of, name="ip"):
        progress.start()
        key = event["ip"]
        accounts[key] |= {event["account_id"]}
        seen = max(len(accounts[key].value()), len(accounts_before[key].value()))
        if seen > ip.threshold:
            progress.breaches["ip_accounts"].add(key)
        progress.add("ip", ident=event["event_id"])


if __name__ == "__main__":
    worker = faust.Worker(app, loglevel="WARNING", quiet=True)
    # The startup spinner sets the root logger to DEBUG (even without a terminal), so every
    # aiokafka debug call would build a LogRecord: a cost no tuned deployment pays.
    worker.spinner = None
    worker.execute_from_commandline()
