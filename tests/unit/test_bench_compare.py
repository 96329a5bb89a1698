"""bench.compare's pieces that need no Kafka: the shared windows, the reference answer, the
agreement check, the result file and the JSON summary."""

from __future__ import annotations

import orjson
from faust.windows import HoppingWindow

from bench.compare.shared import (
    CONTENDERS,
    KEEP_WINDOWS_MS,
    SHARED,
    Hopping,
    Job,
    Measure,
    Progress,
    Spec,
    disagreements,
    faust_expires_s,
    load_spec,
    read_breaches,
    reference,
    summary,
    table,
)

SPEC = Spec(Hopping(60_000, 30_000, 2), Hopping(600_000, 300_000, 1))
DAY_S = 24 * 3600


def test_bench_rules_are_two_bucket_hopping_windows():
    spec = load_spec()
    assert spec.org.size_ms == 2 * spec.org.step_ms == 60_000
    assert spec.ip.size_ms == 2 * spec.ip.step_ms == 600_000


def test_every_event_lies_in_two_windows_aligned_on_the_step():
    assert list(SPEC.org.starts(45_000)) == [0, 30_000]
    assert list(SPEC.org.starts(60_000)) == [30_000, 60_000]
    assert list(SPEC.org.starts(59_999)) == [0, 30_000]


def test_reference_counts_per_hopping_window():
    def request(ts: int, org: str) -> dict[str, object]:
        return {"ts": ts, "org_id": org, "event_type": "request"}

    events = [
        # o1: 3 requests within [30 s, 90 s) though no 30 s bucket holds 3
        request(40_000, "o1"),
        request(70_000, "o1"),
        request(80_000, "o1"),
        # o2: 3 requests 61 s apart end to end: no aligned 60 s window holds all three
        request(29_000, "o2"),
        request(31_000, "o2"),
        request(90_000, "o2"),
        # logins do not count
        *({"ts": 1_000, "org_id": "o3", "event_type": "login"} for _ in range(5)),
        # ip fan-out (any event type): two accounts on one ip, one account twice on another
        *(
            {"ts": ts, "org_id": "o4", "event_type": "login", "ip": ip, "account_id": account}
            for ts, ip, account in [
                (0, "1.2.3.4", "a"),
                (1_000, "1.2.3.4", "b"),
                (2_000, "5.6.7.8", "c"),
                (3_000, "5.6.7.8", "c"),
            ]
        ),
    ]
    assert reference(events, SPEC) == {"org_requests": {"o1"}, "ip_accounts": {"1.2.3.4"}}


def test_agreement_passes_equal_sets_and_skips_contenders_without_detection():
    expected = {"org_requests": {"o1", "o2"}, "ip_accounts": {"1.2.3.4"}}
    answers = {
        "ceiling (run 1)": None,
        "faust (run 1)": {"org_requests": {"o2", "o1"}, "ip_accounts": {"1.2.3.4"}},
        "quix (run 1)": {k: set(v) for k, v in expected.items()},
    }
    assert disagreements(answers, expected) == []


def test_disagreement_names_the_contender_rule_and_both_sides_of_the_diff():
    expected = {"org_requests": {"o1", "o2"}, "ip_accounts": {"1.2.3.4"}}
    answers = {"quix (run 2)": {"org_requests": {"o1", "o9"}, "ip_accounts": {"1.2.3.4"}}}
    assert disagreements(answers, expected) == [
        "quix (run 2) org_requests: missing ['o2'] extra ['o9']"
    ]


def test_result_file_round_trip(tmp_path):
    job = Job("b:1", "t", 4, "g", 3, 2, 1, 0, SPEC, str(tmp_path / "r.json"), str(tmp_path))
    job.dump(tmp_path / "job.json")
    assert Job.load(str(tmp_path / "job.json")) == job
    ticks = iter([10.0, 12.5])
    progress = Progress(job, {"org": 2, "ip": 1}, clock=lambda: next(ticks))
    progress.start()
    progress.breaches["org_requests"].add("o1")
    progress.add("org", 2)
    assert not (tmp_path / "r.json").exists()
    progress.add("ip")
    body = orjson.loads((tmp_path / "r.json").read_bytes())
    assert body["elapsed_s"] == 2.5
    assert read_breaches(body) == {"org_requests": {"o1"}, "ip_accounts": set()}


def test_summary_has_the_documented_json_shape():
    measured = {
        name: [Measure(1000.0 * (i + 1) + run, 50.0 + run) for run in range(3)]
        for i, name in enumerate(CONTENDERS)
    }
    result = summary(1_000_000, measured, {"org_requests": 26, "ip_accounts": 107})
    decoded = orjson.loads(orjson.dumps(result))
    assert decoded["events"] == 1_000_000
    assert list(decoded["contenders"]) == list(CONTENDERS)
    for row in decoded["contenders"].values():
        assert {"eps", "rss_mb"} <= set(row)
    assert decoded["contenders"]["faust"] == {
        "eps": 2001,
        "rss_mb": 52,
        "runs_eps": [2000, 2001, 2002],
    }
    assert set(decoded["breaching_keys"]) == set(SHARED)
    lines = table(result)
    assert lines[0].split()[0] == "contender"
    assert len(lines) == 1 + len(CONTENDERS) + 3 + len(CONTENDERS)


def test_the_worker_is_awaited_until_every_forwarded_event_is_decoded():
    """decoded_by counts each input event once and again in every family it is forwarded to,
    whatever form the worker forwards in: the bench waits for that many decoded events."""
    from pathlib import Path

    from bench.compare.__main__ import decoded_by

    events = [
        {"event_id": f"e{n}", "org_id": "o", "ts": 1_000 * n, "event_type": "request",
         **({"ip": f"10.0.0.{n % 3}"} if n % 2 else {}),
         **({"account_id": f"a{n % 5}"} if n % 3 else {})}
        for n in range(60)
    ]  # fmt: skip
    # bench/compare/rules: a rule by org (no family), and one by ip counting accounts (its
    # family reads the events with an ip and an account)
    forwarded = sum(1 for e in events if "ip" in e and "account_id" in e)
    assert 0 < forwarded < len(events)
    assert decoded_by(Path("bench/compare/rules"), events) == len(events) + forwarded


def test_progress_counts_a_named_event_once(tmp_path):
    """A redelivered record must not bring a contender to its target early."""
    job = Job("b:1", "t", 4, "g", 3, 2, 2, 0, SPEC, str(tmp_path / "r.json"), str(tmp_path))
    progress = Progress(job, {"ip": 2})
    progress.start()
    progress.add("ip", ident="e-1")
    progress.add("ip", ident="e-1")
    assert not (tmp_path / "r.json").exists()
    progress.add("ip", ident="e-2")
    body = orjson.loads((tmp_path / "r.json").read_bytes())
    assert body["repeats"] == {"ip": 1}


def test_faust_keeps_the_windows_of_events_recorded_in_the_past():
    """Faust's table cleanup asks `window.stale(range_end, time.time())`: by the wall clock."""
    oldest_ms, now_s = 1_795_392_000_000, 1_795_392_000 + 13 * DAY_S  # data 13 days old
    last_window_end = oldest_ms / 1000 + 2 * 3600  # a run's data spans hours
    week = HoppingWindow(600, 300, expires=KEEP_WINDOWS_MS / 1000)
    assert week.stale(last_window_end, now_s)  # what a fixed week did: every window dropped
    kept = HoppingWindow(600, 300, expires=faust_expires_s(oldest_ms, now_s))
    assert not kept.stale(oldest_ms / 1000 + 600, now_s)
    assert not kept.stale(oldest_ms / 1000 + 600, now_s + 6 * DAY_S)
    assert faust_expires_s(oldest_ms, oldest_ms / 1000) == KEEP_WINDOWS_MS / 1000
