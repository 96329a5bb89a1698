"""`signalfire rules report`: the quality table from a page store, as text and JSON; every
bad input is one line on stderr and exit 2."""

import dataclasses
from pathlib import Path

import orjson
import pytest

from alerting.store import open_store
from signalfire.cli import main
from signalfire.timestamps import iso_ms
from tests.unit.alerting.pager_samples import T0, fanout, message

MIN = 60_000
SINCE, UNTIL = iso_ms(T0), iso_ms(T0 + 60 * MIN)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """Three bursts (one confirmed, one a false positive, one unreviewed) and a fanout marked
    duplicate; acknowledged 2 and 10 minutes after they started."""
    url = f"sqlite:///{tmp_path / 'pages.db'}"
    at = {"now": T0 / 1000}
    store = open_store(url, clock=lambda: at["now"])
    a = store.record(message(key="k_1", at=T0)).page_id
    b = store.record(message(key="k_2", at=T0)).page_id
    store.record(message(key="k_3", at=T0 + MIN))
    f = store.record(fanout(at=T0)).page_id
    store.record(message(key="k_4", at=T0 + 90 * MIN))  # after --until
    at["now"] = (T0 + 2 * MIN) / 1000
    store.acknowledge(a, "ivy")
    store.verdict(a, "confirmed_abuse", "ivy")
    at["now"] = (T0 + 10 * MIN) / 1000
    store.acknowledge(b, "ivy")
    store.verdict(b, "false_positive", "ivy")
    store.verdict(f, "duplicate", "ivy")
    store.close()
    return url


def report(*args: str) -> int:
    return main(["rules", "report", *args])


def test_the_text_table_has_a_row_per_rule_and_severity(store_url, capsys):
    assert report("--store", store_url, "--since", SINCE, "--until", UNTIL) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"episodes started from {SINCE} to {UNTIL}"
    assert out[1].split() == [
        "rule", "severity", "pages", "acked", "confirmed", "false_pos", "benign", "duplicate",
        "unreviewed", "precision", "tta_p50", "tta_p90", "ttv_p50", "ttv_p90",
    ]  # fmt: skip
    burst, fan = (line.split() for line in out[3:])
    assert burst == ["api_key_burst", "critical", "3", "2", "1", "1", "0", "0", "1", "0.50",
                     "2m00s", "10m00s", "2m00s", "10m00s"]  # fmt: skip
    assert fan == ["ip_account_fanout", "warning", "1", "0", "0", "0", "0", "1", "0", "-",
                   "-", "-", "10m00s", "10m00s"]  # fmt: skip


def test_json_holds_the_same_numbers(store_url, capsys):
    assert report("--store", store_url, "--since", SINCE, "--until", UNTIL, "--json") == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert (doc["since"], doc["until"]) == (SINCE, UNTIL)
    burst, fan = doc["rules"]
    assert burst["rule"] == "api_key_burst" and burst["total"]["severity"] == "all"
    (critical,) = burst["severities"]
    assert critical["pages"] == 3 and critical["precision"] == 0.5
    assert critical["verdicts"] == {
        "confirmed_abuse": 1, "false_positive": 1, "benign": 0, "duplicate": 0
    }  # fmt: skip
    assert critical["time_to_ack_s"] == {"count": 2, "p50": 120.0, "p90": 600.0}
    assert fan["total"]["precision"] is None


def test_the_store_url_can_come_from_the_environment(store_url, capsys, monkeypatch):
    monkeypatch.setenv("SIGNALFIRE_STORE_URL", store_url)
    assert report("--since", SINCE, "--until", UNTIL) == 0
    assert "api_key_burst" in capsys.readouterr().out


def test_an_empty_range_says_so(store_url, capsys):
    assert report("--store", store_url, "--since", "0", "--until", "1000") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no episodes in this range"


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--store", "mysql://db/x"], "store url: scheme 'mysql' is not sqlite or postgresql"),
        (["--store", "sqlite:///{tmp}/nope.db"], "no page store at {tmp}/nope.db"),
        (["--store", "postgresql://u:hunter2@127.0.0.1:1/pages"], "postgresql postgresql://u:***@"),
        (["--store", "{url}", "--since", "yesterday"], "--since: bad time 'yesterday'"),
        (["--store", "{url}", "--since", "now", "--until=-1h"], "--since (now) is after"),
        ([], "give the page store: --store URL or $SIGNALFIRE_STORE_URL"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(store_url, tmp_path, capsys, monkeypatch, args, problem):
    monkeypatch.delenv("SIGNALFIRE_STORE_URL", raising=False)
    args = [a.format(tmp=tmp_path, url=store_url) for a in args]
    assert report(*args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("signalfire rules report: ")
    assert problem.format(tmp=tmp_path) in line
    assert "hunter2" not in line
    assert not (tmp_path / "nope.db").exists(), "a mistyped path makes no database"


def test_a_shadow_rule_is_projected_apart(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'shadow.db'}"
    store = open_store(url, clock=lambda: T0 / 1000)
    judged = store.record(message(key="k_1", at=T0)).page_id
    store.record(message("resolve", key="k_1", at=T0 + 10 * MIN))
    store.verdict(judged, "confirmed_abuse", "ivy")
    # One while the judged page is open (same org, key and ip), one after it resolved.
    for key, minute in (("k_1", 5), ("k_9", 20)):
        page = message(key=key, at=T0 + minute * MIN)
        details = page.payload.custom_details
        rule = dataclasses.replace(details.rule, id="burst_trial", mode="shadow")
        store.record(
            dataclasses.replace(
                page,
                dedup_key=f"burst_trial/{key}",
                payload=dataclasses.replace(
                    page.payload, custom_details=dataclasses.replace(details, rule=rule)
                ),
            )
        )
    store.close()
    assert report("--store", url, "--since", SINCE, "--until", iso_ms(T0 + 2 * 86_400_000)) == 0
    out = capsys.readouterr().out
    live, shadow = out.split("shadow rules (their pages reached no one), projected:\n")
    assert "api_key_burst" in live and "burst_trial" not in live
    header, _, row = shadow.splitlines()[:3]
    assert header.split() == [
        "rule", "pages", "per_day", "overlap_judged", "confirmed", "false_pos", "benign",
        "projected_precision",
    ]  # fmt: skip
    assert row.split() == ["burst_trial", "2", "1.0", "1", "1", "0", "0", "1.00"]
    assert report("--store", url, "--since", SINCE, "--until", UNTIL, "--json") == 0
    [projected] = orjson.loads(capsys.readouterr().out)["shadow"]
    assert projected["rule"] == "burst_trial" and projected["projected_precision"] == 1.0
