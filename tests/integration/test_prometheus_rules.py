"""Signalfire's self-alerts checked and unit-tested by Prometheus's own promtool (Debian's
`prometheus` package, installed by .ci/run). A missing promtool fails, it does not skip."""

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"


def promtool(*args: str) -> str:
    exe = shutil.which("promtool")
    assert exe, "promtool not found: install Debian's prometheus package (see .ci/run)"
    done = subprocess.run([exe, *args], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_config_and_rules_are_valid():
    assert "SUCCESS" in promtool("check", "config", str(PROM / "prometheus.yml"))
    assert "SUCCESS" in promtool("check", "config", str(PROM / "compose.yml"))
    out = promtool("check", "rules", str(PROM / "rules" / "signalfire.rules.yml"))
    assert "SUCCESS: 10 rules found" in out


def test_rule_unit_tests_pass():
    out = promtool("test", "rules", str(PROM / "tests" / "signalfire.rules.test.yml"))
    assert "SUCCESS" in out


def test_every_alert_has_a_runbook_section():
    rules = (PROM / "rules" / "signalfire.rules.yml").read_text()
    operations = (ROOT / "docs" / "operations.md").read_text().lower()
    for line in rules.splitlines():
        if line.strip().startswith("- alert:"):
            name = line.split(":", 1)[1].strip()
            assert f"### {name.lower()}" in operations, name
