"""The shipped catalogue is found wherever the command line runs from."""

import subprocess
import sys
from pathlib import Path

from signalfire.cli import main
from signalfire.rules import load_rules

ROOT = Path(__file__).resolve().parents[2]


def signalfire(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    entry = "import sys; from signalfire.cli import main; sys.exit(main())"
    command = [sys.executable, "-c", entry, *argv]
    return subprocess.run(
        command, check=False, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_rules_test_without_dir_runs_the_shipped_catalogue_from_anywhere(tmp_path):
    run = signalfire("rules", "test", "--require-cases", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    cases = sum(len(r.tests) for r in load_rules([ROOT / "rules"]).rules)
    assert run.stdout.splitlines()[-1] == f"{cases} passed, 0 failed"


def test_rules_check_without_dir_checks_the_shipped_catalogue(tmp_path):
    run = signalfire("rules", "check", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    rules = len(load_rules([ROOT / "rules"]).rules)
    assert run.stdout.splitlines()[-1] == f"{rules} rule(s) OK"


def test_rules_test_dir_still_tests_that_dir(tmp_path, capsys):
    (tmp_path / "one.yaml").write_text(
        "id: one\ntitle: One\nseverity: info\ndetect: {type: match}\n"
        "tests:\n  - name: fires\n    events: [{ts: 0, org_id: o1}]\n"
        "    expect: [{action: trigger, at: 0s}]\n"
    )
    assert main(["rules", "test", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 passed, 0 failed"


def test_demo_finds_the_catalogue_from_another_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    # rules are loaded before the event count is judged: this fails on the count, not on rules
    assert main(["demo", "--offline", "--events", "1000"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "--events 1000 is too few" in line
