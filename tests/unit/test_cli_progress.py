"""Long runs show progress on a terminal and print nothing extra when piped. The terminal is
injected (`main(argv, terminal=True)`), never a real one."""

import subprocess
import sys

import pytest

from signalfire.cli import main
from tests.unit.cli_helpers import make_rules_dir

EVENTS = b"".join(
    b'{"event_id": "e%d", "ts": %d, "org_id": "o1"}\n' % (i, i * 100) for i in range(20)
)


@pytest.fixture
def clean_events(tmp_path):
    path = tmp_path / "ev.jsonl"
    path.write_bytes(EVENTS)
    return path


def backtest_argv(tmp_path, events):
    return ["backtest", "--rules", str(make_rules_dir(tmp_path)), str(events)]


def test_backtest_piped_prints_the_summary_only(tmp_path, clean_events, capsys):
    assert main(backtest_argv(tmp_path, clean_events)) == 0
    text = capsys.readouterr()
    assert text.err == ""
    lines = text.out.splitlines()
    assert lines[0].split()[:3] == ["rule", "type", "matches"]
    assert lines[-2:] == [
        "20 events, 0 late, 1 pager messages",
        "incidents: 1 pages -> 1 incidents (0 absorbed, window 30m)",
    ]
    assert len(lines) == 5


def test_backtest_through_real_pipes_prints_nothing_on_stderr(tmp_path, clean_events):
    entry = "import sys; from signalfire.cli import main; sys.exit(main())"
    argv = backtest_argv(tmp_path, clean_events)
    run = subprocess.run(
        [sys.executable, "-c", entry, *argv], check=False, capture_output=True, timeout=120
    )
    assert run.returncode == 0 and run.stderr == b""
    assert run.stdout.endswith(
        b"20 events, 0 late, 1 pager messages\n"
        b"incidents: 1 pages -> 1 incidents (0 absorbed, window 30m)\n"
    )


def test_backtest_on_a_terminal_shows_events_read_and_rate(tmp_path, clean_events, capsys):
    argv = backtest_argv(tmp_path, clean_events)
    assert main(argv, terminal=False) == 0
    piped = capsys.readouterr()
    assert main(argv, terminal=True) == 0
    shown = capsys.readouterr()
    assert shown.out == piped.out, "the summary is the same either way"
    assert "backtest" in shown.err and "events/s" in shown.err and "20 events" in shown.err


GENERATE = ["generate", "--events", "3000", "--scenarios", "none", "--rate", "100"]


@pytest.mark.parametrize("terminal", [False, True])
def test_generate_to_a_file_shows_a_bar_on_a_terminal_only(tmp_path, capsys, terminal):
    assert main([*GENERATE, "--out", str(tmp_path / "ev.jsonl")], terminal=terminal) == 0
    err = capsys.readouterr().err
    assert err.rstrip("\n").endswith("labels to " + str(tmp_path / "ev.jsonl.labels.jsonl"))
    assert ("generating" in err) is terminal
    if not terminal:
        assert len(err.splitlines()) == 1


def test_generate_to_stdout_never_draws_over_its_data(capsysbinary):
    assert main(GENERATE, terminal=True) == 0
    text = capsysbinary.readouterr()
    assert len(text.out.splitlines()) == 3000
    assert b"generating" not in text.err and len(text.err.splitlines()) == 1


def test_demo_offline_on_a_terminal_shows_progress(tmp_path, capsys):
    argv = ["demo", "--offline", "--events", "32000", "--scorecard", str(tmp_path / "s.json")]
    assert main(argv, terminal=True) == 0
    text = capsys.readouterr()
    assert "demo" in text.err and "events/s" in text.err
    assert "expected pages raised" in text.out
