"""ElastAlert2's rule-type tests, translated: Signalfire's documented answer for each case.

The tables live beside this file, one per EA2 rule type. A case id is `<table>.<case>`;
docs/rules.md ("How Signalfire differs from ElastAlert2") links to cases by that id.
"""

import re
from pathlib import Path

import pytest

from tests.unit.conformance import (
    cardinality,
    compare,
    flatline,
    frequency,
    metric_aggregation,
    new_term,
    percentage_match,
    spike,
)
from tests.unit.conformance.harness import LATENESS_VARIANTS_MS, Case, check, describe, run

TABLES = {
    "frequency": frequency.CASES,
    "spike": spike.CASES,
    "flatline": flatline.CASES,
    "new_term": new_term.CASES,
    "cardinality": cardinality.CASES,
    "percentage_match": percentage_match.CASES,
    "metric_aggregation": metric_aggregation.CASES,
    "compare": compare.CASES,
}
ALL = {f"{table}.{case.id}": case for table, cases in TABLES.items() for case in cases}
IN_ORDER = {name: case for name, case in ALL.items() if case.in_order()}
DOCS = Path(__file__).parents[3] / "docs" / "rules.md"
SECTION = "## How Signalfire differs from ElastAlert2"


def test_case_ids_are_unique() -> None:
    assert len(ALL) == sum(len(cases) for cases in TABLES.values())


@pytest.mark.parametrize("case", ALL.values(), ids=ALL.keys())
def test_documented_answer(case: Case) -> None:
    check(case, run(case))


@pytest.mark.parametrize("case", IN_ORDER.values(), ids=IN_ORDER.keys())
def test_pages_do_not_depend_on_lateness(case: Case) -> None:
    """With in-order input, the allowed lateness changes when pages are sent (a deadline on the
    watermark comes out later in the stream), not which pages, at which event times, with which
    values (whether they are the documented ones is `test_documented_answer`'s business)."""
    shown = {
        k: describe(sorted(run(case, k).pages, key=lambda a: a.at)) for k in LATENESS_VARIANTS_MS
    }
    if len(set(shown.values())) > 1:
        pytest.fail("\n".join(f"allowed lateness {k} ms:\n{v}" for k, v in shown.items()))


def _differences() -> str:
    text = DOCS.read_text()
    assert SECTION in text
    return text.split(SECTION, 1)[1].split("\n## ", 1)[0]


def test_every_difference_points_to_a_documented_section() -> None:
    headings = set(re.findall(r"^### (.+)$", _differences(), re.M))
    for name, case in ALL.items():
        if case.differs is None:
            continue
        found = re.search(r"\(docs: ([^)]+)\)$", case.differs)
        assert found, f"{name}: `differs` must end with (docs: <section>)"
        for section in found.group(1).split("; "):
            assert section in headings, f"{name}: no section '### {section}' in {DOCS.name}"


def test_documented_cases_exist_and_every_difference_is_documented() -> None:
    section = _differences()
    paragraphs = [p for p in section.split("\n\n") if p.startswith("Cases: ")]
    linked = {name for p in paragraphs for name in re.findall(r"`([^`]+)`", p)}
    assert linked, "the section links to no case"
    assert linked <= ALL.keys(), f"unknown cases: {sorted(linked - ALL.keys())}"
    undocumented = [n for n, c in ALL.items() if c.differs is not None and n not in linked]
    assert not undocumented, f"differing cases the docs do not link: {undocumented}"
