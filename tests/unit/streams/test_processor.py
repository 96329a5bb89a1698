"""The worker's core without Kafka: decoding, dead letters, forwarding, merging, idleness."""

import itertools
import zlib

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalfire.engine.core import CoreEngine
from signalfire.engine.settings import EngineSettings
from signalfire.rules import load_rules
from streams.config import WorkerConfig
from streams.processor import Processor
from streams.repartition import BATCH_RECORD_BYTES
from streams.state import SnapshotRefused
from tests.reference.wire import read_any
from tests.unit.streams.memory_kafka import Record


class Wall:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def make(tmp_path=None, partitions=2):
    config = WorkerConfig(rules="rules", idle_timeout_ms=5_000)
    wall = Wall()
    p = Processor(config, load_rules(["rules"]).rules, wall)
    p.partitions = partitions
    return p, config, wall


def snapshot(p, tp, pager_ends):
    """The partition's snapshot now, as a checkpoint takes it (its engine saved at once)."""
    capture = p.capture(tp)
    assert capture is not None
    return capture.take(pager_ends)


def event(i, ts, org="o1", **f):
    return orjson.dumps({"event_id": f"e{i}", "ts": ts, "org_id": org, **f})


def test_bad_records_become_dead_letters_with_source_headers():
    p, cfg, _ = make()
    p.assign([(cfg.events_topic, 0)])
    recs = [
        Record(cfg.events_topic, 0, 7, b"k", b"{oops"),
        Record(cfg.events_topic, 0, 8, None, event(1, 5)),
    ]
    out = p.process((cfg.events_topic, 0), recs)
    (dead,) = out.dead
    assert dead.value == b"{oops" and dead.key == b"k"
    headers = dict(dead.headers)
    assert headers["source_offset"] == b"7" and headers["source_partition"] == b"0"
    assert headers["source_topic"] == cfg.events_topic.encode()
    assert headers["error"].startswith(b"not valid JSON")
    assert out.decoded == 1 and p.positions() == {(cfg.events_topic, 0): 9}


def test_oversized_record_rejected_before_parsing():
    p, cfg, _ = make()
    p.config = WorkerConfig(rules="rules", max_record_bytes=100)
    p.assign([(cfg.events_topic, 0)])
    big = b'{"event_id": "x", "ts": 1, "org_id": "o", "pad": "' + b"x" * 200 + b'"}'
    out = p.process((cfg.events_topic, 0), [Record(cfg.events_topic, 0, 0, None, big)])
    assert dict(out.dead[0].headers)["error"].startswith(b"record too large")


def test_input_sends_one_batch_with_its_watermark_to_every_repartition_partition():
    p, cfg, _ = make(partitions=2)
    p.assign([(cfg.events_topic, 0)])
    topic = cfg.events_topic
    recs = [
        Record(topic, 0, i, None, event(i, 100_000 + i, ip="1.2.3.4", account_id="a"))
        for i in range(3)
    ]
    out = p.process((topic, 0), recs)
    by_ip = cfg.repartition_topic("ip")
    batches = {part: read_any(v) for t, part, v in out.forwards if t == by_ip}
    assert set(batches) == {0, 1}
    target = zlib.crc32(b'["1.2.3.4"]') % 2  # the family partition of group 1.2.3.4
    assert [e["event_id"] for e in batches[target][2]] == ["e0", "e1", "e2"]
    assert batches[1 - target][2] == []
    assert all(source == 0 for source, _, _ in batches.values())
    assert all(mark == 100_002 - cfg.lateness_ms for _, mark, _ in batches.values())


def test_family_partition_applies_events_in_time_order_once_all_sources_report():
    p, cfg, _ = make(partitions=2)
    topic = cfg.repartition_topic("ip")
    p.assign([(topic, 0)])

    def batch(offset, source, watermark, *ts):
        events = [
            {"event_id": f"f{offset}-{t}", "ts": t, "org_id": "o", "ip": "9.9.9.9",
             "account_id": f"a{t}"}
            for t in ts
        ]  # fmt: skip
        value = orjson.dumps({"source": source, "watermark": watermark, "events": events})
        return Record(topic, 0, offset, b"", value)

    out = p.process((topic, 0), [batch(0, 0, 5_000, 2_000, 1_000)])
    assert out.decoded == 0 and p.positions()[(topic, 0)] == 0  # waiting for source 1
    out = p.process((topic, 0), [batch(1, 1, 1_500)])
    assert out.decoded == 1 and p.positions()[(topic, 0)] == 0  # ts 2000 of offset 0 waits
    out = p.process((topic, 0), [batch(2, 1, 9_000, 8_000)])
    assert out.decoded == 1 and p.positions()[(topic, 0)] == 2  # frontier 5000: 8000 waits
    out = p.process((topic, 0), [batch(3, 0, 9_000)])
    assert out.decoded == 1 and p.positions()[(topic, 0)] == 4
    assert p.works[(topic, 0)].engine.late == 0


def test_bad_repartition_record_is_dead_lettered():
    p, cfg, _ = make(partitions=1)
    topic = cfg.repartition_topic("ip")
    p.assign([(topic, 0)])
    out = p.process((topic, 0), [Record(topic, 0, 0, None, b"garbage")])
    assert dict(out.dead[0].headers)["error"].startswith(b"bad repartition batch")


def test_idle_input_partition_moves_to_the_furthest_clock():
    p, cfg, wall = make()
    p.assign([(cfg.events_topic, 0), (cfg.events_topic, 1)])
    p.process((cfg.events_topic, 0), [Record(cfg.events_topic, 0, 0, None, event(1, 0, "quiet"))])
    wall.t += 10
    busy = [
        Record(cfg.events_topic, 1, i, None, event(100 + i, i * 60_000, "busy")) for i in range(30)
    ]
    p.process((cfg.events_topic, 1), busy)
    outs = p.tick(pending=[])
    assert set(outs) == {(cfg.events_topic, 0)}  # only the idle partition moved
    silent = [a for a in outs[(cfg.events_topic, 0)].alerts if a.rule_id == "source_silent"]
    assert [dict(a.group) for a in silent] == [{"org_id": "quiet"}]
    # a partition with records still to read is never treated as idle
    p2, cfg2, wall2 = make()
    p2.assign([(cfg2.events_topic, 0), (cfg2.events_topic, 1)])
    p2.process(
        (cfg2.events_topic, 0), [Record(cfg2.events_topic, 0, 0, None, event(1, 0, "quiet"))]
    )
    wall2.t += 10
    p2.process((cfg2.events_topic, 1), busy)
    assert p2.tick(pending=[(cfg2.events_topic, 0)]) == {}


def test_large_batches_are_split_into_records_under_the_size_limit():
    p, cfg, _ = make(partitions=1)
    p.assign([(cfg.events_topic, 0)])
    pad = "x" * 2000
    recs = [
        Record(cfg.events_topic, 0, i, None,
            event(i, 100_000 + i, ip="1.2.3.4", account_id=f"a{i}", attrs={"pad": pad}))
        for i in range(400)
    ]  # fmt: skip
    out = p.process((cfg.events_topic, 0), recs)
    by_ip = [v for t, _, v in out.forwards if t == cfg.repartition_topic("ip")]
    assert len(by_ip) > 2 and all(len(v) <= BATCH_RECORD_BYTES + 4096 for v in by_ip)
    events = [e["event_id"] for v in by_ip for e in read_any(v)[2]]
    assert events == [f"e{i}" for i in range(400)]


def test_a_family_partition_takes_every_event_of_a_batch_cut_into_records():
    """Input partition 1 is far ahead; partition 0 then forwards a batch too large for one
    record, spanning more event time than the allowed lateness. Each event arrives before the
    watermark that passes it: none is late."""
    p, cfg, _ = make(partitions=2)
    inputs, by_ip = cfg.events_topic, cfg.repartition_topic("ip")
    p.assign([(inputs, 0), (inputs, 1), (by_ip, 0), (by_ip, 1)])
    pad = "x" * 2000
    far = p.process((inputs, 1), [Record(inputs, 1, 0, None, event(-1, 10**9))])
    big = [
        Record(inputs, 0, i, None,
            event(i, 100_000 + i * 1_000, ip="1.2.3.4", account_id=f"a{i}", attrs={"pad": pad}))
        for i in range(400)
    ]  # fmt: skip
    assert cfg.lateness_ms < 400 * 1_000
    ends = [Record(inputs, 0, 400, None, event(400, 10**9))]
    outs = [far, p.process((inputs, 0), big), p.process((inputs, 0), ends)]
    decoded = 0
    for part in (0, 1):
        forwards = [v for out in outs for t, n, v in out.forwards if (t, n) == (by_ip, part)]
        records = [Record(by_ip, part, n, None, v) for n, v in enumerate(forwards)]
        decoded += p.process((by_ip, part), records).decoded
        assert p.works[(by_ip, part)].engine.late == 0
    assert decoded == 400


def test_snapshot_round_trip_is_compressed():
    from streams.state import Snapshot

    p, cfg, _ = make()
    p.assign([(cfg.events_topic, 0)])
    recs = [
        Record(cfg.events_topic, 0, i, None, event(i, i * 100, org=f"o{i % 50}"))
        for i in range(2000)
    ]
    p.process((cfg.events_topic, 0), recs)
    snap = snapshot(p, (cfg.events_topic, 0), {0: 5})
    blob = snap.encode()
    assert len(blob) * 2 < len(snap.engine)
    back = Snapshot.decode(blob)
    assert back.offset == 2000 and back.pager_ends == {0: 5}
    assert back.work == snap.work and back.engine == snap.engine
    with pytest.raises(SnapshotRefused, match="not a snapshot of this worker's format"):
        Snapshot.decode(b"not a snapshot")


def test_a_snapshot_of_another_format_is_refused_in_one_line():
    import pickle
    import zlib

    from streams.state import Snapshot

    pickled = zlib.compress(pickle.dumps((3, {"work": None})), 1)  # what format 3 wrote
    damaged = b"SFWK" + (4).to_bytes(2, "little") + (5).to_bytes(4, "little") + b"{nope"
    for blob, words in (
        (pickled, "not a snapshot of this worker's format"),
        (b"SFWK" + (9).to_bytes(2, "little"), "snapshot format 9, this worker reads 4"),
        (damaged, "damaged snapshot"),
    ):
        with pytest.raises(SnapshotRefused, match=words) as err:
            Snapshot.decode(blob)
        assert "\n" not in str(err.value)


def test_pages_carry_no_value_of_a_redacted_field():
    config = WorkerConfig(rules="rules", idle_timeout_ms=5_000, redact=("api_key_id",))
    p = Processor(config, load_rules(["rules"]).rules, Wall())
    p.partitions = 2
    p.assign([(config.events_topic, 0)])
    recs = [
        Record(config.events_topic, 0, i, b"o1",
            event(i, 1_000 + i * 40, api_key_id="key_secretive", event_type="request"))
        for i in range(1_200)
    ]  # fmt: skip
    out = p.process((config.events_topic, 0), recs)
    bursts = [orjson.loads(v) for _, v in out.pages if b"api_key_burst" in v]
    assert bursts, "api_key_burst should page on 1,200 requests in 48 s"
    for _, value in out.pages:
        assert b"key_secretive" not in value
    group = bursts[0]["payload"]["custom_details"]["group"]
    assert group == {"org_id": "o1", "api_key_id": "[redacted]"}
    # The dedup key still follows the real group: repeats and resolves still collapse.
    unredacted, _, _ = make()
    unredacted.assign([(config.events_topic, 0)])
    plain = unredacted.process((config.events_topic, 0), recs)
    assert [k for k, _ in plain.pages] == [k for k, _ in out.pages]


def test_family_clock_stops_at_the_frontier_so_windows_match_a_backtest():
    """Released events are judged with the clock at their own time, as a backtest judges them:
    a family partition's clock never runs ahead of events it has still to release."""
    from signalfire.engine.core import CoreEngine
    from signalfire.engine.settings import EngineSettings

    p, cfg, _ = make(partitions=1)
    topic = cfg.repartition_topic("ip")
    p.assign([(topic, 0)])

    def ev(n, ts):
        return {"event_id": f"f{n}", "ts": ts, "org_id": "o", "ip": "9.9.9.9",
                "account_id": f"a{n:02}"}  # fmt: skip

    early = [ev(0, 0)]
    later = [ev(n, 590_000 + n * 100) for n in range(1, 21)]

    def rec(offset, watermark, events):
        value = orjson.dumps({"source": 0, "watermark": watermark, "events": events})
        return Record(topic, 0, offset, b"", value)

    out = p.process((topic, 0), [rec(0, 580_000, early)])
    assert p.works[(topic, 0)].engine.now == 580_000
    out.extend(p.process((topic, 0), [rec(1, 700_000, later)]))
    live = [(a.rule_id, a.action, a.at) for a in out.alerts if a.rule_id == "ip_account_fanout"]

    rules = [r for r in load_rules(["rules"]).rules if r.id == "ip_account_fanout"]
    engine = CoreEngine(rules, EngineSettings(allowed_lateness_ms=cfg.lateness_ms))
    batch = [orjson.dumps(e) for e in early + later]
    alerts = engine.process(batch).alerts + engine.advance(700_000 + cfg.lateness_ms)
    expected = [(a.rule_id, a.action, a.at) for a in alerts]
    assert expected and expected[0][1] == "trigger"
    assert live == expected


def test_family_snapshot_leaves_the_merge_buffer_in_the_topic_and_a_restore_refills_it():
    """Restored from a snapshot taken mid-stream and fed the topic again from the snapshot's
    offset, a family partition raises exactly what an uninterrupted one raises."""
    from collections import Counter

    from streams.state import Snapshot

    cfg = WorkerConfig(rules="rules", idle_timeout_ms=5_000)
    topic = cfg.repartition_topic("ip")
    tp = (topic, 0)

    def ev(n, ts):
        e = {"event_id": f"f{n}", "ts": ts, "org_id": "o", "ip": f"10.0.0.{n % 3}",
             "account_id": f"a{n}"}  # fmt: skip
        return {**e, "status": 401} if n % 10 == 0 else e

    # Two sources; each record's events span 30 s while records come 10 s apart, so the
    # frontier (the lower watermark, the allowed lateness behind) cuts through records: a
    # restore reads records whose events were partly applied already. Per ip: 20 distinct
    # accounts and 2 auth failures a record, so auth_failure_burst (a count: > 50 in 5 min)
    # crosses after the snapshot, at a time that moves if anything is counted twice.
    records = []
    for n in range(40):
        base = n * 10_000
        events = [ev(n * 100 + k, base + k * 500) for k in range(60)]
        value = orjson.dumps({"source": n % 2, "watermark": base - 500, "events": events})
        records.append(Record(topic, 0, n, b"", value))
    end = orjson.dumps({"source": 0, "watermark": 10**7, "events": []})
    end1 = orjson.dumps({"source": 1, "watermark": 10**7, "events": []})
    records += [Record(topic, 0, 40, b"", end), Record(topic, 0, 41, b"", end1)]

    def fresh():
        p = Processor(cfg, load_rules(["rules"]).rules, Wall())
        p.partitions = 2
        p.assign([tp])
        return p

    def sent(outs):
        found: Counter[tuple[str, str, str]] = Counter()
        for out in outs:
            for _, value in out.pages:
                page = orjson.loads(value)
                found[(page["dedup_key"], page["event_action"], page["payload"]["timestamp"])] += 1
        return found

    whole = fresh()
    expected = sent([whole.process(tp, records[n : n + 5]) for n in range(0, len(records), 5)])
    assert expected, "the stream should raise ip_account_fanout"

    first = fresh()
    before = [first.process(tp, records[n : n + 5]) for n in range(0, 20, 5)]
    snap = snapshot(first, tp, {0: 0})
    assert first.works[tp].engine.buffered > 0
    # the buffer stays in the topic: the snapshot starts at its oldest record
    assert snap.offset == first.works[tp].engine.safe_offset(20) < 20
    back = Snapshot.decode(snap.encode())
    # The old owner went on past the snapshot and died: its outputs up to offset 25 are
    # committed, its pages since the snapshot are in the page log.
    after = [first.process(tp, records[20:25])]
    second = fresh()
    start = second.restore(tp, back, committed=25, page_log=sent(after))
    assert start == snap.offset
    resumed = [second.process(tp, records[n : min(n + 5, len(records))])
               for n in range(start, len(records), 5)]  # fmt: skip
    # Every page once: what the old owner sent and what the new one adds.
    assert sent(before + after + resumed) == expected
    assert second.works[tp].engine.group_counts() == whole.works[tp].engine.group_counts()


def test_repartition_record_with_unusable_events_is_dead_lettered_whole():
    p, cfg, _ = make(partitions=1)
    topic = cfg.repartition_topic("ip")
    p.assign([(topic, 0)])
    bad = [
        orjson.dumps({"source": 0, "watermark": 5, "events": {"ts": 1}}),
        orjson.dumps({"source": 0, "watermark": 5, "events": [{"ts": 1}, {"no_ts": 2}]}),
        # buffered, it would stop the worker when the merge next orders its events
        orjson.dumps({"source": 0, "watermark": 5, "events": [{"ts": "soon"}]}),
    ]
    out = p.process((topic, 0), [Record(topic, 0, n, None, v) for n, v in enumerate(bad)])
    assert len(out.dead) == 3 and p.works[(topic, 0)].engine.safe_offset(3) == 3


def test_input_partition_forwards_no_late_event_and_counts_it_for_the_family_rules():
    p, cfg, _ = make(partitions=1)
    p.assign([(cfg.events_topic, 0)])
    topic = cfg.events_topic
    on_time = [
        event(i, 600_000 + i, ip="1.2.3.4", account_id=f"a{i}", status=401) for i in range(3)
    ]
    late = [event(10 + i, 100_000 + i, ip="1.2.3.4", account_id=f"b{i}", status=401)
            for i in range(2)]  # fmt: skip
    out = p.process(
        (topic, 0), [Record(topic, 0, i, None, v) for i, v in enumerate(on_time + late)]
    )
    forwarded = [
        e["event_id"]
        for t, _, v in out.forwards
        if t == cfg.repartition_topic("ip")
        for e in read_any(v)[2]
    ]
    assert forwarded == ["e0", "e1", "e2"]
    assert out.rule_deltas["auth_failure_burst"].late == 2
    assert out.rule_deltas["ip_account_fanout"].late == 2


def _family_records(topic):
    """Two sources, in order, with one record (from a writer that forwarded late events) whose
    burst is 20 minutes older than the frontier when it comes."""
    records: list[Record] = []
    for n in range(60):
        for src in (0, 1):
            ts = n * 60_000
            events = [{"event_id": f"e{n}-{src}", "ts": ts, "org_id": "o", "ip": "1.1.1.1",
                       "account_id": "a"}]  # fmt: skip
            value = orjson.dumps({"source": src, "watermark": ts - 30_000, "events": events})
            records.append(Record(topic, 0, len(records), b"", value))
    burst = [{"event_id": f"b{k}", "ts": 39 * 60_000 + k, "org_id": "o", "ip": "6.6.6.6",
              "account_id": f"x{k % 25}", "status": 401} for k in range(60)]  # fmt: skip
    value = orjson.dumps({"source": 0, "watermark": 59 * 60_000 - 30_000, "events": burst})
    records.append(Record(topic, 0, len(records), b"", value))
    end = [orjson.dumps({"source": s, "watermark": 10**8, "events": []}) for s in (0, 1)]
    records += [Record(topic, 0, len(records) + n, b"", v) for n, v in enumerate(end)]
    return records


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 123), max_size=8))
def test_family_partition_judges_lateness_the_same_however_its_records_are_batched(cuts):
    """A restarted worker reads a repartition partition in other batches than the first did
    (a rebuild from the start reads it in a few large ones): the pages must not change."""
    cfg = WorkerConfig(rules="rules", idle_timeout_ms=5_000)
    topic = cfg.repartition_topic("ip")
    records = _family_records(topic)

    def run(bounds):
        p = Processor(cfg, load_rules(["rules"]).rules, Wall())
        p.partitions = 2
        p.assign([(topic, 0)])
        pages: list[tuple[bytes, str]] = []
        late: dict[str, int] = {}
        for a, b in itertools.pairwise(bounds):
            out = p.process((topic, 0), records[a:b])
            pages += [(k, orjson.loads(v)["payload"]["timestamp"]) for k, v in out.pages]
            for rule_id, delta in out.rule_deltas.items():
                late[rule_id] = late.get(rule_id, 0) + delta.late
        return pages, late

    one_by_one = run(list(range(len(records) + 1)))
    assert one_by_one[0] == [] and one_by_one[1]["auth_failure_burst"] == 60
    assert run([0, len(records)]) == one_by_one
    assert run(sorted({0, len(records), *cuts})) == one_by_one


def _quiet_then_moved(p, cfg, wall):
    """Partition 1 reads five early events, sits idle while partition 0 reaches 30 minutes,
    and is moved there; returns the five records."""
    topic = cfg.events_topic
    p.assign([(topic, 0), (topic, 1)])
    quiet = [Record(topic, 1, i, None, event(i, i * 1_000, "quiet")) for i in range(5)]
    busy = [Record(topic, 0, i, None, event(100 + i, i * 60_000, "busy")) for i in range(31)]
    p.process((topic, 1), quiet)
    wall.t += 10
    p.process((topic, 0), busy)
    assert set(p.tick(pending=[])) == {(topic, 1)}
    return quiet


def test_an_idle_partitions_clock_moves_are_kept_until_a_snapshot_holds_them():
    from streams.recovery import CHECKPOINT_MOVES, MAX_MOVES

    p, cfg, wall = make()
    topic = cfg.events_topic
    _quiet_then_moved(p, cfg, wall)
    assert p.moves((topic, 1)) == [(5, 30 * 60_000)]
    more = [
        Record(topic, 0, 31 + i, None, event(200 + i, (31 + i) * 60_000, "busy")) for i in range(2)
    ]
    p.process((topic, 0), more)
    p.tick(pending=[])
    assert p.moves((topic, 1)) == [(5, 32 * 60_000)]  # one offset: only the last move counts
    snap = snapshot(p, (topic, 1), {0: 0})
    assert snap.work.moves == []
    assert CoreEngine([], EngineSettings(), snap.engine).now == 32 * 60_000
    held = p.moves((topic, 1))
    assert held == [(5, 32 * 60_000)]  # until that snapshot is committed
    # Its transaction runs while the next batch is processed: a move made meanwhile is not in
    # the snapshot, and stays.
    p.process((topic, 0), [Record(topic, 0, 33, None, event(300, 34 * 60_000, "busy"))])
    p.tick(pending=[])
    assert p.moves((topic, 1)) == [(5, 34 * 60_000)]
    p.checkpointed((topic, 1), held)
    assert p.moves((topic, 1)) == [(5, 34 * 60_000)]
    p.checkpointed((topic, 1), p.moves((topic, 1)))
    assert p.moves((topic, 1)) == []
    # Moves pile up only while snapshots fail; past a bound the partition stays where it is.
    work = p.works[(topic, 1)]
    work.moves = [(n, n) for n in range(CHECKPOINT_MOVES)]
    assert p.checkpoints_wanted() == {(topic, 1)}
    work.moves = [(n, n) for n in range(MAX_MOVES)]
    p.process((topic, 0), [Record(topic, 0, 40, None, event(300, 40 * 60_000, "busy"))])
    wall.t += 10
    assert (topic, 1) not in p.tick(pending=[])
    assert work.engine.now == 34 * 60_000


def test_an_empty_partition_moved_forward_has_offset_0_to_commit_its_moves_with():
    p, cfg, wall = make()
    topic = cfg.events_topic
    p.assign([(topic, 0), (topic, 1)])
    wall.t += 10
    p.process((topic, 0), [Record(topic, 0, 0, None, event(1, 600_000, "busy"))])
    p.tick(pending=[])
    assert p.positions()[(topic, 1)] == 0 and p.moves((topic, 1)) == [(0, 600_000)]


@pytest.mark.parametrize("cuts", [[10], [3, 10], [5, 10], [6, 10], [1, 2, 3, 4, 5, 6, 10]])
@pytest.mark.parametrize("tail_move", [False, True])
def test_a_rebuild_makes_the_committed_clock_moves_again_where_they_were_made(cuts, tail_move):
    """A late event after a move is late again after a crash, however the replay is batched,
    and a move after the last committed record is made again too."""
    from collections import Counter

    p, cfg, wall = make()
    topic, tp = cfg.events_topic, (cfg.events_topic, 1)
    quiet = _quiet_then_moved(p, cfg, wall)
    # After the move to 30 minutes: one event on time, four 20 minutes late.
    after = [Record(topic, 1, 5, None, event(50, 30 * 60_000, "quiet"))] + [
        Record(topic, 1, 5 + i, None, event(50 + i, 10 * 60_000 + i, "quiet")) for i in range(1, 5)
    ]
    p.process(tp, after)
    if tail_move:
        p.process((topic, 0), [Record(topic, 0, 31, None, event(999, 40 * 60_000, "busy"))])
        wall.t += 10
        p.tick(pending=[])
    original = p.works[tp].engine
    assert original.late == 4

    again, _, _ = make()
    again.rebuild(tp, committed=10, page_log=Counter(), moves=p.moves(tp))
    records = quiet + after
    assert again.positions() == {}  # nothing to commit while replaying
    for a, b in itertools.pairwise([0, *cuts]):
        again.process(tp, records[a:b])
    again.tick(pending=[tp])
    engine = again.works[tp].engine
    assert (engine.now, engine.late) == (original.now, original.late)
    assert again.positions() == {tp: 10}


def test_clock_moves_travel_in_offset_metadata_far_under_kafkas_limit():
    from streams.recovery import MAX_MOVES
    from streams.state import decode_moves, encode_moves

    moves = [(2**40 + n, 2**45 + n) for n in range(MAX_MOVES)]
    assert decode_moves(encode_moves(moves)) == moves
    assert len(encode_moves(moves).encode()) < 2048  # offset.metadata.max.bytes: 4096
    assert encode_moves([]) == "" and decode_moves("") == [] and decode_moves(None) == []
    assert decode_moves("set by a tool") == [] and decode_moves('{"moves": 5}') == []


def test_a_family_partition_whose_family_a_reload_dropped_reads_on_until_revoked():
    p, cfg, _ = make(partitions=1)
    topic = cfg.repartition_topic("ip")
    p.assign([(topic, 0)])
    p.set_rules([r for r in load_rules(["rules"]).rules if r.group_by != (("ip",),)])
    late = [{"event_id": "x", "ts": 1, "org_id": "o", "ip": "1.1.1.1"}]
    records = [
        Record(topic, 0, 0, None, orjson.dumps({"source": 0, "watermark": 10**6, "events": []})),
        Record(topic, 0, 1, None, orjson.dumps({"source": 0, "watermark": 10**6, "events": late})),
    ]
    out = p.process((topic, 0), records)
    assert out.dead == [] and p.positions() == {(topic, 0): 2}


@pytest.mark.parametrize("form", ["binary", "json"])
def test_partitions_and_families_page_what_a_backtest_pages(form):
    """Live == backtest without a broker: generated traffic over four input partitions (keyed by
    org) and the families behind them, forwarded records applied as they come, in either
    form."""
    import collections

    from alerting.pager import to_json
    from signalfire.cli.backtest import run_backtest
    from signalfire.generate import GeneratorConfig, iter_events
    from signalfire.sources import lines_of

    events = list(iter_events(GeneratorConfig(seed=11, events=40_000)))
    rules = load_rules(["rules"]).rules
    expected = collections.Counter(
        (m["dedup_key"], m["event_action"], m["payload"]["timestamp"])
        for m in map(to_json, run_backtest(rules, lines_of(events)).messages)
    )
    cfg = WorkerConfig(rules="rules", repartition_format=form)
    p = Processor(cfg, rules, Wall())
    p.partitions = 4
    by_part: dict[int, list[bytes]] = collections.defaultdict(list)
    for e in events:
        by_part[zlib.crc32(e["org_id"].encode()) % 4].append(orjson.dumps(e))
    topics = [cfg.events_topic] + [cfg.repartition_topic(f.name) for f in p.topology.families]
    p.assign([(t, n) for t in topics for n in range(4)])
    offsets: collections.Counter[tuple[str, int]] = collections.Counter()
    pages = []
    for start in range(0, max(len(v) for v in by_part.values()), 500):
        for n in range(4):
            chunk = by_part[n][start : start + 500]
            recs = [Record(cfg.events_topic, n, start + i, None, v) for i, v in enumerate(chunk)]
            out = p.process((cfg.events_topic, n), recs)
            pages += out.pages
            for topic, part, value in out.forwards:
                record = Record(topic, part, offsets[(topic, part)], None, value)
                offsets[(topic, part)] += 1
                pages += p.process((topic, part), [record]).pages
    got = collections.Counter(
        (m["dedup_key"], m["event_action"], m["payload"]["timestamp"])
        for m in (orjson.loads(v) for _, v in pages)
    )
    # The worker never sees the end of input: what only a flush would raise is not paged yet.
    assert not got - expected
    assert sum(expected.values()) - sum(got.values()) <= 2
    assert sum(1 for k in expected if k[0].startswith("signup_key_flagged_sequence")) >= 1
    assert {k for k in expected if "sequence" in k[0]} <= set(got)
