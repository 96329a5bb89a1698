"""Partitions changing hands: what a new owner restores, and what an old one leaves behind.

A new owner starts each partition's producer first (fencing the previous owner and aborting
its open transaction), then reads in one pass the last snapshot of every new partition, its
committed offset with the clock moves committed since, and the pages it produced since the
snapshot (and the shadow pages it ever produced: snapshots keep no shadow topic offsets). A
partition with a snapshot resumes from it; one with a committed offset (0 included) or moves
but no snapshot -- its owner died before the first checkpoint -- is rebuilt from the start of
its topic; one nothing was committed for starts at the beginning. An old owner commits a last
snapshot of each partition it hands over.
"""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.config import WorkerConfig
from streams.emit import PageLog
from streams.outputs import Partition
from streams.processor import Processor
from streams.state import (
    Snapshot,
    SnapshotRefused,
    committed_offsets,
    read_last,
    read_page_logs,
    state_key,
)
from streams.topics import state_topic
from streams.transactions import Transactions

log = logging.getLogger("signalfire.worker")


async def take_over(
    partitions: list[Partition],
    config: WorkerConfig,
    processor: Processor,
    txns: Transactions,
    consumer: AIOKafkaConsumer,
) -> bool:
    """Restore the partitions this worker does not own yet and position the consumer on each;
    whether any was restored from a snapshot."""
    reader = txns.reader
    assert reader is not None
    ours = [tp for tp in partitions if processor.family_of_topic(tp[0]) is not None]
    new = await txns.open(ours)
    state_tps = {TopicPartition(state_topic(config, t), p): (t, p) for t, p in new}
    blobs = await read_last(reader, {k: state_key(*tp) for k, tp in state_tps.items()})
    snapshots: dict[Partition, Snapshot] = {}
    for k, blob in blobs.items():
        try:
            snapshots[state_tps[k]] = Snapshot.decode(blob)
        except SnapshotRefused as exc:
            refused(state_tps[k], exc)
    committed = await committed_offsets(consumer, new)
    # Committed 0 counts: a family partition commits the oldest record still in its merge,
    # and its first record can hold events back while earlier ones of it have paged.
    from_start = [
        tp for tp, (offset, moves) in committed.items()
        if tp not in snapshots and (offset is not None or moves)
    ]  # fmt: skip
    everything = dict.fromkeys(range(txns.pager_partitions), 0)
    since = {state_key(*tp): snap.pager_ends for tp, snap in snapshots.items()}
    since.update({state_key(*tp): everything for tp in from_start})
    logs = await read_page_logs(reader, config.pager_topic, since)
    await add_shadow_pages(logs, reader, config, txns)
    for tp in new:
        ktp = TopicPartition(*tp)
        snapshot = snapshots.get(tp)
        offset, moves = committed[tp]
        if snapshot is None:
            if tp in from_start:
                processor.rebuild(tp, offset, logs[state_key(*tp)], moves)
                log.info(
                    "rebuilding %s[%d] from the start up to offset %s (%d clock move(s))",
                    tp[0], tp[1], offset, len(moves),
                )  # fmt: skip
            else:
                processor.assign([tp])
            await consumer.seek_to_beginning(ktp)
        else:
            page_log = logs[state_key(*tp)]
            try:
                start = processor.restore(tp, snapshot, offset, page_log, moves)
            except SnapshotRefused as exc:
                # Its pages since the snapshot are in the page log; those before, from the
                # start of the topic, were sent before that snapshot was taken.
                refused(tp, exc)
                everything = dict.fromkeys(range(txns.pager_partitions), 0)
                logs.update(
                    await read_page_logs(reader, config.pager_topic, {state_key(*tp): everything})
                )
                await add_shadow_pages(logs, reader, config, txns, [state_key(*tp)])
                processor.rebuild(tp, offset, logs[state_key(*tp)], moves)
                await consumer.seek_to_beginning(ktp)
                del snapshots[tp]
                continue
            consumer.seek(ktp, start)
            log.info(
                "restored %s[%d] at offset %d (committed %s, %d clock move(s), %d page(s) "
                "logged)", tp[0], tp[1], start, offset, len(moves), sum(page_log.values()),
            )  # fmt: skip
    txns.schedule(new)
    return bool(snapshots)


async def add_shadow_pages(
    logs: dict[bytes, PageLog],
    reader: AIOKafkaConsumer,
    config: WorkerConfig,
    txns: Transactions,
    sources: list[bytes] | None = None,
) -> None:
    """Add to each source's page log (all of `logs`, or `sources`) the shadow pages it sent,
    read from the start of the shadow topic, so that a replay does not send them twice. Those
    from before the snapshot, which the replay does not make again, cost memory only: the
    shadow topic holds the pages of rules on trial, few next to the events."""
    everything = dict.fromkeys(range(txns.shadow_partitions), 0)
    wanted = {src: everything for src in (list(logs) if sources is None else sources)}
    for src, pages in (await read_page_logs(reader, config.shadow_topic, wanted)).items():
        logs[src].update(pages)


def refused(tp: Partition, why: SnapshotRefused) -> None:
    log.warning("snapshot of %s[%d] refused (%s): rebuilding it from its topic", tp[0], tp[1], why)


async def hand_over(partitions: list[Partition], processor: Processor, txns: Transactions) -> None:
    """Partitions leaving this worker: a last snapshot, then their producers stop."""
    processor.revoke(await txns.close(partitions))
