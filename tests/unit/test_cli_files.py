"""Files named on the command line: every problem is one line on stderr naming the file and the
fix, exit 2, found before the run where it can be; `-` is stdin; a run whose every line is
rejected exits 1."""

import gzip
import io
import sys
from pathlib import Path

import pytest

from signalfire.cli import main
from tests.unit.cli_helpers import event_lines, events_file, make_rules_dir


@pytest.fixture
def rules_dir(tmp_path):
    return make_rules_dir(tmp_path)


def one_error_line(capsys, command):
    """The run's only stderr line, which must say `signalfire COMMAND: ...`; stdout empty (the
    problem was found before anything ran)."""
    text = capsys.readouterr()
    assert text.out == ""
    (line,) = text.err.splitlines()
    assert line.startswith(f"signalfire {command}: "), line
    return line


def truncated_gzip(path: Path) -> Path:
    whole = gzip.compress(event_lines(20_000))
    path.write_bytes(whole[: len(whole) // 2])
    return path


def corrupt_gzip(path: Path) -> Path:
    data = bytearray(gzip.compress(event_lines(20_000)))
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    path.write_bytes(bytes(data))
    return path


def not_gzip(path: Path) -> Path:
    path.write_bytes(b"not gzip")
    return path


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda tmp: tmp / "missing.jsonl", "no such file or directory (check the path)"),
        (lambda tmp: tmp, "is a directory (name the files in it, e.g. "),
        (lambda tmp: not_gzip(tmp / "ev.jsonl.gz"), "not gzip data (drop the .gz suffix"),
        (lambda tmp: truncated_gzip(tmp / "ev.jsonl.gz"), "gzip data ends early, the file is"),
        (lambda tmp: corrupt_gzip(tmp / "ev.jsonl.gz"), "corrupt gzip data"),
    ],
    ids=["missing", "a directory", "not gzip", "truncated gzip", "corrupt gzip"],
)
def test_backtest_unreadable_events_are_one_line_naming_file_and_fix(
    rules_dir, tmp_path, capsys, make, why
):
    path = make(tmp_path)
    assert main(["backtest", "--rules", str(rules_dir), str(path)]) == 2
    text = capsys.readouterr()
    (line,) = text.err.splitlines()
    assert line.startswith(f"signalfire backtest: cannot read {path}: {why}"), line
    assert "Traceback" not in text.out + text.err


def test_backtest_tries_every_file_before_the_run(rules_dir, tmp_path, capsys):
    good = events_file(tmp_path / "ev.jsonl")
    out = tmp_path / "alerts.jsonl"
    argv = ["backtest", "--rules", str(rules_dir), str(good), str(tmp_path / "later.jsonl")]
    assert main([*argv, "--out", str(out)]) == 2
    line = one_error_line(capsys, "backtest")
    assert f"cannot read {tmp_path / 'later.jsonl'}" in line
    assert not out.exists(), "the --out check left a file behind"


@pytest.mark.parametrize(
    ("out", "why"),
    [
        ("{tmp}/no/dir/a.jsonl", "directory {tmp}/no/dir does not exist (create it or give --out"),
        ("{tmp}", "is a directory (give --out a file name)"),
    ],
    ids=["missing directory", "a directory"],
)
def test_backtest_unwritable_out_before_the_run(rules_dir, tmp_path, capsys, out, why):
    src = events_file(tmp_path / "ev.jsonl")
    target = out.format(tmp=tmp_path)
    assert main(["backtest", "--rules", str(rules_dir), str(src), "--out", target]) == 2
    line = one_error_line(capsys, "backtest")
    why = why.format(tmp=tmp_path)
    assert line.startswith(f"signalfire backtest: cannot write {target}: {why}")


@pytest.mark.parametrize("flag", ["--rules", "--diff"])
def test_backtest_missing_rules_dir_is_one_line(rules_dir, tmp_path, capsys, flag):
    src = events_file(tmp_path / "ev.jsonl")
    missing = tmp_path / "nosuch"
    argv = ["backtest", str(src), "--rules", str(rules_dir), flag, str(missing)]
    assert main(argv) == 2
    line = one_error_line(capsys, "backtest")
    assert line == (
        f"signalfire backtest: cannot read {missing}: no such file or directory (check the path)"
    )


@pytest.mark.parametrize("command", ["check", "test"])
def test_rules_commands_missing_dir_is_one_line(tmp_path, capsys, command):
    assert main(["rules", command, str(tmp_path / "nosuch")]) == 2
    line = one_error_line(capsys, f"rules {command}")
    assert f"cannot read {tmp_path / 'nosuch'}: no such file or directory" in line


def test_rules_file_problems_stay_file_line_messages_and_exit_1(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_bytes(b"id: x\n\xff\xfe\n")  # readable, but not UTF-8
    assert main(["rules", "check", str(tmp_path)]) == 1
    assert f"{tmp_path / 'bad.yaml'}:1: cannot read" in capsys.readouterr().err


GENERATE = ["generate", "--events", "3000", "--scenarios", "none", "--rate", "100"]


@pytest.mark.parametrize(
    ("flags", "bad", "why"),
    [
        (["--out", "{tmp}/no/dir/ev.jsonl"], "{tmp}/no/dir/ev.jsonl", "directory {tmp}/no/dir"),
        (["--out", "{tmp}"], "{tmp}", "is a directory (give --out a file name)"),
        (
            ["--out", "{tmp}/ev.jsonl", "--labels", "{tmp}/no/dir/l.jsonl"],
            "{tmp}/no/dir/l.jsonl",
            "directory {tmp}/no/dir does not exist (create it or give --labels another path)",
        ),
    ],
    ids=["out in a missing directory", "out a directory", "labels in a missing directory"],
)
def test_generate_unwritable_output_before_the_run(tmp_path, capsys, flags, bad, why):
    argv = [*GENERATE, *(f.format(tmp=tmp_path) for f in flags)]
    assert main(argv) == 2
    line = one_error_line(capsys, "generate")
    assert line.startswith(f"signalfire generate: cannot write {bad.format(tmp=tmp_path)}: ")
    assert why.format(tmp=tmp_path) in line
    assert not (tmp_path / "ev.jsonl").exists(), "events were written before the check"


@pytest.mark.parametrize("flag", ["--out", "--scorecard"])
def test_demo_offline_unwritable_output_before_the_run(tmp_path, capsys, flag):
    target = tmp_path / "no" / "dir" / "x.json"
    assert main(["demo", "--offline", flag, str(target)]) == 2
    line = one_error_line(capsys, "demo")
    assert line == (
        f"signalfire demo: cannot write {target}: directory {target.parent} does not exist "
        f"(create it or give {flag} another path)"
    )


def test_demo_missing_rules_is_one_line(tmp_path, capsys):
    assert main(["demo", "--offline", "--rules", str(tmp_path / "nosuch")]) == 2
    assert "cannot read" in one_error_line(capsys, "demo")


def stdin_of(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data))))


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip"])
def test_backtest_reads_stdin_for_dash(rules_dir, tmp_path, capsys, monkeypatch, packed):
    data = event_lines()
    stdin_of(monkeypatch, gzip.compress(data) if packed else data)
    assert main(["backtest", "--rules", str(rules_dir), "-"]) == 0
    text = capsys.readouterr()
    assert "20 events, 0 late, 1 pager messages" in text.out
    assert "2 line(s) rejected" in text.err and "<stdin>:21: not valid JSON" in text.err


def test_backtest_reads_stdin_once(rules_dir, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["backtest", "--rules", str(rules_dir), "-", "-"])
    assert exc.value.code == 2
    assert "'-' (stdin) can be given once" in capsys.readouterr().err


def test_backtest_truncated_stdin_is_one_line(rules_dir, capsys, monkeypatch):
    whole = gzip.compress(event_lines(20_000))
    stdin_of(monkeypatch, whole[: len(whole) // 2])
    assert main(["backtest", "--rules", str(rules_dir), "-"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("signalfire backtest: cannot read <stdin>: gzip data ends early")


def test_backtest_every_line_rejected_exits_1(rules_dir, tmp_path, capsys):
    src = tmp_path / "ev.jsonl"
    src.write_bytes(b"not json\n" * 3 + b'{"event_id": "x"}\n')
    assert main(["backtest", "--rules", str(rules_dir), str(src)]) == 1
    text = capsys.readouterr()
    assert "0 events, 0 late, 0 pager messages" in text.out
    err = text.err.splitlines()
    assert err[0] == "4 line(s) rejected, e.g.:"
    assert err[1].startswith(f"  {src}:1: not valid JSON")
    assert err[-1] == "signalfire backtest: no valid events: every line was rejected"


def test_backtest_some_lines_rejected_still_exits_0(rules_dir, tmp_path, capsys):
    src = events_file(tmp_path / "ev.jsonl", n=1)
    assert main(["backtest", "--rules", str(rules_dir), str(src)]) == 0
    assert "2 line(s) rejected" in capsys.readouterr().err


@pytest.mark.parametrize("offline", [True, False], ids=["offline", "live"])
def test_demo_too_few_events_is_one_line_with_the_minimum(capsys, monkeypatch, offline):
    import streams.demo

    def no_kafka(*args):
        raise AssertionError("Kafka started for a demo that cannot run")

    monkeypatch.setattr(streams.demo, "kafka", no_kafka)
    argv = ["demo", "--events", "1000", *(["--offline"] if offline else [])]
    assert main(argv) == 2
    line = one_error_line(capsys, "demo")
    assert line.startswith("signalfire demo: --events 1000 is too few for the demo's 11 scenarios:")
    needed = int(line.rsplit("use --events >= ", 1)[1])
    assert 1000 < needed < 300_000


def test_demo_events_must_be_positive(capsys):
    assert main(["demo", "--offline", "--events", "0"]) == 2
    assert one_error_line(capsys, "demo") == "signalfire demo: --events must be positive"
