"""A backtest's incidents: the live pages through the correlator, in the summary and in
`--incidents`."""

import orjson
import pytest

from signalfire.cli import main
from signalfire.cli.backtest import correlate, incident_json, write_incidents
from tests.unit.alerting.incidents.pages import HOUR, MIN, T0, R, T, entity, page
from tests.unit.cli_helpers import RULE, events_file, make_rules_dir
from tests.unit.test_cli_files import one_error_line

ATTACK = [
    T("org_rate", 0, org="o1"),
    T("key_burst", MIN, org="o1", key="k1"),
    T("key_burst", 2 * MIN, org="o1", key="k2"),
    page("trigger", "key_trial", 2 * MIN, mode="shadow", org="o1", key="k3"),
    R("key_burst", 3 * MIN, org="o1", key="k1"),
    T("org_rate", 0, org="o2"),
    R("org_rate", 10 * MIN, org="o1"),
    R("key_burst", 12 * MIN, org="o1", key="k2"),
    T("key_burst", 3 * HOUR, org="o1", key="k1"),
]


def test_the_live_pages_make_incidents_in_order_of_opening():
    found = correlate(ATTACK, window_ms=30 * MIN)
    assert (found.window_ms, found.pages, found.absorbed) == (30 * MIN, 5, 2)
    first, second, third = found.incidents
    assert [p.dedup_key for p in first.pages] == [
        "org_rate/o1",
        "key_burst/o1,k1",
        "key_burst/o1,k2",
    ]
    assert first.resolved_at == T0 + 12 * MIN
    assert (second.root.value, second.resolved_at) == ("o2", None)
    assert (third.root.value, third.opened_at) == ("o1", T0 + 3 * HOUR)


def test_shadow_pages_make_no_incident():
    shadow = [page(m.event_action, "key_trial", 0, mode="shadow", org="o1") for m in ATTACK[:2]]
    found = correlate(shadow)
    assert (found.pages, found.incidents) == (0, [])


def test_the_window_decides_what_joins():
    siblings = [T("key_burst", 0, org="o1", key="k1"), T("key_burst", 40 * MIN, org="o1", key="k2")]
    assert len(correlate(siblings, window_ms=30 * MIN).incidents) == 2
    assert len(correlate(siblings, window_ms=HOUR).incidents) == 1


def test_an_incident_as_json():
    first = correlate(ATTACK).incidents[0]
    o1, k1, k2 = entity("org_id", "o1"), entity("api_key_id", "k1"), entity("api_key_id", "k2")
    assert incident_json(first) == {
        "id": first.id,
        "root": {"name": "org_id", "value": "o1", "ref": o1.ref},
        "opened_at": "2026-11-23T08:00:00.000Z",
        "resolved_at": "2026-11-23T08:12:00.000Z",
        "pages": [
            {"dedup_key": "org_rate/o1", "rule": "org_rate",
             "first_trigger_at": "2026-11-23T08:00:00.000Z",
             "resolved_at": "2026-11-23T08:10:00.000Z", "absorbed_by": None},
            {"dedup_key": "key_burst/o1,k1", "rule": "key_burst",
             "first_trigger_at": "2026-11-23T08:01:00.000Z",
             "resolved_at": "2026-11-23T08:03:00.000Z", "absorbed_by": "org_rate/o1"},
            {"dedup_key": "key_burst/o1,k2", "rule": "key_burst",
             "first_trigger_at": "2026-11-23T08:02:00.000Z",
             "resolved_at": "2026-11-23T08:12:00.000Z", "absorbed_by": "org_rate/o1"},
        ],
        "rules": ["key_burst", "org_rate"],
        "entities": [{"name": e.name, "value": e.value, "ref": e.ref} for e in (o1, k1, k2)],
    }  # fmt: skip


def test_incidents_are_written_one_per_line(tmp_path):
    incidents = correlate(ATTACK).incidents
    path = tmp_path / "incidents.jsonl"
    assert write_incidents(path, incidents) == 3
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert lines == [orjson.loads(orjson.dumps(incident_json(i))) for i in incidents]


# -- the command ------------------------------------------------------------------------------
@pytest.fixture
def rules_dir(tmp_path):
    d = make_rules_dir(tmp_path)
    trial = RULE.split("tests:")[0].replace("id: burst", "id: burst_trial") + "mode: shadow\n"
    (d / "trial.yaml").write_text(trial)
    return d


def test_the_summary_counts_incidents_and_the_file_lists_them(rules_dir, tmp_path, capsys):
    src = events_file(tmp_path / "ev.jsonl", n=40, org="o1")
    out, incidents = tmp_path / "pages.jsonl", tmp_path / "incidents.jsonl"
    argv = ["backtest", "--rules", str(rules_dir), str(src), "--out", str(out)]
    assert main([*argv, "--incidents", str(incidents)]) == 0
    text = capsys.readouterr().out
    assert "incidents: 1 pages -> 1 incidents (0 absorbed, window 30m)\n" in text
    assert f"wrote 1 incident(s) to {incidents}" in text
    pages = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    (live,) = [p for p in pages if p["payload"]["component"] == "burst"]
    (line,) = [orjson.loads(x) for x in incidents.read_bytes().splitlines()]
    assert line["id"].startswith("inc_") and line["rules"] == ["burst"]
    assert line["opened_at"] == live["payload"]["timestamp"]
    assert [p["dedup_key"] for p in line["pages"]] == [live["dedup_key"]]


def test_the_summary_always_has_an_incidents_line(tmp_path, capsys):
    src = events_file(tmp_path / "ev.jsonl", n=3)
    assert main(["backtest", "--rules", str(make_rules_dir(tmp_path)), str(src)]) == 0
    assert (
        "\nincidents: 0 pages -> 0 incidents (0 absorbed, window 30m)\n" in capsys.readouterr().out
    )


def test_the_incident_window_is_an_option(rules_dir, tmp_path, capsys):
    src = events_file(tmp_path / "ev.jsonl")
    assert main(["backtest", "--rules", str(rules_dir), str(src), "--incident-window", "2h"]) == 0
    assert "(0 absorbed, window 2h)" in capsys.readouterr().out


def test_a_bad_incident_window_is_a_usage_error(rules_dir, tmp_path, capsys):
    src = events_file(tmp_path / "ev.jsonl")
    with pytest.raises(SystemExit) as exc:
        main(["backtest", "--rules", str(rules_dir), str(src), "--incident-window", "soon"])
    assert exc.value.code == 2
    assert "--incident-window: bad duration 'soon'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("{tmp}/no/dir/i.jsonl", "directory {tmp}/no/dir does not exist (create it or give "
                                 "--incidents another path)"),
        ("{tmp}", "is a directory (give --incidents a file name)"),
    ],
    ids=["missing directory", "a directory"],
)  # fmt: skip
def test_an_unwritable_incidents_file_is_one_line_before_the_run(
    rules_dir, tmp_path, capsys, target, why
):
    src = events_file(tmp_path / "ev.jsonl")
    out = tmp_path / "pages.jsonl"
    path = target.format(tmp=tmp_path)
    argv = ["backtest", "--rules", str(rules_dir), str(src), "--out", str(out)]
    assert main([*argv, "--incidents", path]) == 2
    line = one_error_line(capsys, "backtest")
    assert line == f"signalfire backtest: cannot write {path}: {why.format(tmp=tmp_path)}"
    assert not out.exists()
