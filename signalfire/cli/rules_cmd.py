"""`signalfire rules check|test DIR...` and `signalfire rules report` (rules_report.py)."""

from __future__ import annotations

import argparse
import sys

from signalfire.cli.catalogue import catalogue_help, shipped_rules
from signalfire.cli.common import add_redact_option, load_or_report, redaction_from
from signalfire.cli.hidden_fields import redaction_warnings
from signalfire.cli.rules_report import add_report_parser
from signalfire.ruletest import run_rule_tests

PATHS_HELP = f"rule directories or files (default: {catalogue_help()})"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rules = sub.add_parser(
        "rules", help="check and test rule files; report how their pages were judged"
    )
    rsub = rules.add_subparsers(dest="rules_command", required=True)
    check = rsub.add_parser("check", help="validate rule files; print file:line: message")
    check.add_argument("paths", nargs="*", metavar="DIR", help=PATHS_HELP)
    add_redact_option(check)
    check.set_defaults(func=run_check)
    test = rsub.add_parser("test", help="run the test cases embedded in rule files")
    test.add_argument("paths", nargs="*", metavar="DIR", help=PATHS_HELP)
    test.add_argument(
        "--require-cases",
        action="store_true",
        help="fail unless every rule has a firing case and a quiet case",
    )
    test.add_argument("-v", "--verbose", action="store_true", help="list passing cases too")
    test.set_defaults(func=run_test)
    add_report_parser(rsub)


def run_check(args: argparse.Namespace) -> int:
    ruleset = load_or_report(args.paths or [shipped_rules()])
    if ruleset is None:
        return 1
    # Warnings describe valid rules whose pages redaction would blind: they never fail a check.
    warnings = redaction_warnings(ruleset.rules, redaction_from(args.redact))
    for warning in warnings:
        print(warning, file=sys.stderr)
    tail = f", {len(warnings)} warning(s)" if warnings else ""
    print(f"{len(ruleset.rules)} rule(s) OK{tail}")
    return 0


def run_test(args: argparse.Namespace) -> int:
    ruleset = load_or_report(args.paths or [shipped_rules()])
    if ruleset is None:
        return 1
    results = run_rule_tests(ruleset.rules)
    failed = 0
    for r in results:
        if r.passed:
            if args.verbose:
                print(f"PASS {r.rule.id}: {r.case.name}")
            continue
        failed += 1
        print(f"FAIL {r.rule.id}: {r.case.name} ({r.where})")
        for problem in r.problems:
            print(f"     {problem}")
    missing = 0
    if args.require_cases:
        for rule in ruleset.rules:
            fires = any(c.expect for c in rule.tests)
            quiet = any(not c.expect for c in rule.tests)
            if not (fires and quiet):
                missing += 1
                print(
                    f"MISSING {rule.id} ({rule.path}:{rule.line}): needs a firing and a quiet case"
                )
    passed = len(results) - failed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or missing else 0
