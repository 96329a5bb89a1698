"""The `signalfire` command line, run in-process: exit codes, outputs, files."""

from pathlib import Path

import orjson
import pytest

from signalfire.cli import main
from signalfire.rules import load_rules
from signalfire.scorecard import page_ms
from tests.unit.cli_helpers import RULE, events_file, make_rules_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rules_dir(tmp_path):
    return make_rules_dir(tmp_path)


def test_rules_check_ok(rules_dir, capsys):
    assert main(["rules", "check", str(rules_dir)]) == 0
    assert "1 rule(s) OK" in capsys.readouterr().out


def test_rules_check_prints_every_error_and_exits_1(tmp_path, capsys):
    (tmp_path / "a.yaml").write_text("id: a\ntitle: A\nseverity: loud\ndetect: {type: nope}\n")
    (tmp_path / "b.yaml").write_text("id: b\ntitle: B\nseverity: info\ngroup_by: x\n")
    assert main(["rules", "check", str(tmp_path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert f"{tmp_path / 'a.yaml'}:3: severity: expected one of critical" in err[0]
    assert err[1].startswith(f"{tmp_path / 'a.yaml'}:4: detect.type: unknown detector type")
    assert any(line.startswith(f"{tmp_path / 'b.yaml'}:4: group_by:") for line in err)
    assert err[-1] == f"{len(err) - 1} problem(s) in rules"


def test_rules_test_reports_cases(rules_dir, capsys):
    assert main(["rules", "test", str(rules_dir), "--require-cases", "-v"]) == 0
    out = capsys.readouterr().out
    assert "PASS burst: fires" in out and "2 passed, 0 failed" in out


def test_rules_test_failure_exits_1(rules_dir, capsys):
    (rules_dir / "burst.yaml").write_text(RULE.replace("at: 5s", "at: 4s"))
    assert main(["rules", "test", str(rules_dir)]) == 1
    out = capsys.readouterr().out
    assert "FAIL burst: fires" in out and "at 5000 ms, expected 4000 ms" in out


def test_require_cases_flags_rules_without_quiet_case(rules_dir, capsys):
    text = RULE.split("  - name: quiet")[0]
    assert "quiet" not in text
    (rules_dir / "burst.yaml").write_text(text)
    assert main(["rules", "test", str(rules_dir), "--require-cases"]) == 1
    assert "MISSING burst" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_backtest_writes_pages_and_summary(rules_dir, tmp_path, capsys, suffix):
    src = events_file(tmp_path / f"ev{suffix}")
    out = tmp_path / "alerts.jsonl"
    assert main(["backtest", "--rules", str(rules_dir), str(src), "--out", str(out)]) == 0
    text = capsys.readouterr()
    assert "burst" in text.out and "20 events, 0 late, 1 pager messages" in text.out
    assert "2 line(s) rejected" in text.err and "not valid JSON" in text.err
    (msg,) = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert msg["event_action"] == "trigger" and msg["payload"]["component"] == "burst"
    assert msg["payload"]["custom_details"]["value"] == 6


def test_backtest_is_deterministic(rules_dir, tmp_path):
    src = events_file(tmp_path / "ev.jsonl", n=500)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    main(["backtest", "--rules", str(rules_dir), str(src), "--out", str(a)])
    main(["backtest", "--rules", str(rules_dir), str(src), "--out", str(b)])
    assert a.read_bytes() == b.read_bytes() and a.read_bytes()


def test_backtest_diff_shows_pages_a_change_adds(rules_dir, tmp_path, capsys):
    src = events_file(tmp_path / "ev.jsonl", n=8, step=15_000)  # at most 5 per window
    other = tmp_path / "other"
    other.mkdir()
    (other / "burst.yaml").write_text(RULE.replace("threshold: 5", "threshold: 3"))
    assert main(["backtest", "--rules", str(rules_dir), str(src), "--diff", str(other)]) == 0
    out = capsys.readouterr().out
    assert "would-have-paged diff: 1 added, 0 removed" in out
    assert "+ 1970-01-01T00:00:45.000Z burst org_id=o1" in out


def test_backtest_bad_rules_exit_1(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("id: x\n")
    src = events_file(tmp_path / "ev.jsonl")
    assert main(["backtest", "--rules", str(tmp_path), str(src)]) == 1
    assert "bad.yaml:1:" in capsys.readouterr().err


def test_bad_lateness_is_a_usage_error(rules_dir, tmp_path, capsys):
    src = events_file(tmp_path / "ev.jsonl")
    with pytest.raises(SystemExit) as exc:
        main(["backtest", "--rules", str(rules_dir), str(src), "--lateness", "soon"])
    assert exc.value.code == 2
    assert "--lateness: bad duration 'soon'" in capsys.readouterr().err


def test_backtest_out_is_redacted_as_the_worker_pages(tmp_path, capsys):
    d = tmp_path / "rules"
    d.mkdir()
    (d / "keys.yaml").write_text(
        RULE.split("tests:")[0]
        .replace("id: burst", "id: keys")
        .replace("[org_id]", "[org_id, ip, attrs.api_key]")
    )
    src = tmp_path / "ev.jsonl"
    event = {"org_id": "o1", "ip": "203.0.113.9", "attrs": {"api_key": "sk-live-0123"}}
    src.write_bytes(
        b"".join(orjson.dumps({"event_id": f"e{i}", "ts": i, **event}) + b"\n" for i in range(6))
    )
    out = tmp_path / "alerts.jsonl"
    argv = ["backtest", "--rules", str(d), str(src), "--out", str(out)]
    assert main(argv) == 0
    assert b"sk-live-0123" not in out.read_bytes() and b"203.0.113.9" in out.read_bytes()
    assert main([*argv, "--redact", "ip, country", "--redact", "account_id"]) == 0
    (msg,) = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    group = msg["payload"]["custom_details"]["group"]
    assert group == {"org_id": "o1", "ip": "[redacted]", "attrs.api_key": "[redacted]"}
    assert "sk-live-0123" not in capsys.readouterr().out


def test_rules_check_warns_of_redacted_group_fields_and_exits_0(rules_dir, capsys):
    (rules_dir / "burst.yaml").write_text(RULE.replace("[org_id]", "[org_id, ip]"))
    assert main(["rules", "check", str(rules_dir)]) == 0
    assert capsys.readouterr().err == ""
    assert main(["rules", "check", str(rules_dir), "--redact", "ip,country"]) == 0
    text = capsys.readouterr()
    (line,) = text.err.splitlines()
    assert line.startswith(f"{rules_dir / 'burst.yaml'}:4: warning: group_by: 'ip' is redacted")
    assert "1 rule(s) OK, 1 warning(s)" in text.out


def test_backtest_diff_reports_a_moved_page_once(rules_dir, tmp_path, capsys):
    src = events_file(tmp_path / "ev.jsonl", n=10, step=18_000)  # 4 per 60 s window
    (rules_dir / "burst.yaml").write_text(RULE.replace("threshold: 5", "threshold: 3"))
    other = tmp_path / "other"
    other.mkdir()
    (other / "burst.yaml").write_text(RULE.replace("threshold: 5", "threshold: 2"))
    assert main(["backtest", "--rules", str(rules_dir), str(src), "--diff", str(other)]) == 0
    out = capsys.readouterr().out
    assert "would-have-paged diff: 0 added, 0 removed, 1 moved, 0 unchanged" in out
    assert "~ 1970-01-01T00:00:54.000Z -> 1970-01-01T00:00:36.000Z (-18s) burst org_id=o1  " in out
    assert "\n+ " not in out and "\n- " not in out


def not_gzip(tmp):
    path = tmp / "bad.jsonl.gz"
    path.write_bytes(b"not gzip")
    return path


@pytest.mark.parametrize(
    ("make", "out", "expected"),
    [
        (lambda tmp: tmp / "missing.jsonl", None, "cannot read"),
        (lambda tmp: tmp, None, "cannot read"),
        (not_gzip, None, "cannot read"),
        (lambda tmp: events_file(tmp / "ev.jsonl"), "no/such/dir/a.jsonl", "cannot write"),
    ],
    ids=["missing", "a directory", "not gzip", "out in a missing directory"],
)
def test_backtest_bad_file_is_one_line_and_exit_2(rules_dir, tmp_path, capsys, make, out, expected):
    argv = ["backtest", "--rules", str(rules_dir), str(make(tmp_path))]
    assert main(argv + (["--out", str(tmp_path / out)] if out else [])) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"signalfire backtest: {expected} ")


def test_demo_offline_scores_every_rule_and_writes_pages_in_time_order(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # the shipped catalogue is found from anywhere
    pages, report = tmp_path / "pages.jsonl", tmp_path / "score.json"
    # seed 3: the engine emits a resolve after two later triggers (a resolve waits for the
    # watermark), so the file's order is the sort's doing, not the run's
    argv = ["demo", "--offline", "--events", "60000", "--seed", "3", "--resolves"]
    assert main([*argv, "--out", str(pages), "--scorecard", str(report)]) == 0
    out = capsys.readouterr().out
    card = orjson.loads(report.read_bytes())
    catalogue = {r.id for r in load_rules([str(ROOT / "rules")]).rules}
    assert {r["rule"] for r in card["rules"]} == catalogue
    assert all(r["scenarios"] >= 1 and r["caught"] == r["scenarios"] for r in card["rules"])
    assert card["caught"] == card["expected"] == len(card["catches"]) >= len(catalogue)
    assert card["unexplained"] == []
    for c in card["catches"]:
        assert isinstance(c["latency_ms"], int) and c["latency_ms"] >= 0, c
        assert page_ms(c["first_page"]) - page_ms(c["abuse_start"]) == c["latency_ms"]
        row = next(line for line in out.splitlines() if line.startswith(c["scenario"] + " ")
                   and f" {c['rule']} " in line)  # fmt: skip
        assert row.split()[-2:-1] == [c["first_page"]] and row.split()[-1] != "-"
    assert f"{card['caught']}/{card['expected']} expected pages raised" in out
    written = [orjson.loads(line) for line in pages.read_bytes().splitlines()]
    shown = [line for line in out.splitlines() if "  TRIGGER  " in line or "  RESOLVE  " in line]
    assert len(written) == len(shown) and f"{len(written)} pager messages" in out
    order = [(page_ms(m["payload"]["timestamp"]), m["payload"]["component"], m["dedup_key"])
             for m in written]  # fmt: skip
    assert order == sorted(order)


def test_demo_out_needs_offline(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--out", str(tmp_path / "pages.jsonl")])
    assert exc.value.code == 2
    assert "--out and --scorecard need --offline" in capsys.readouterr().err
