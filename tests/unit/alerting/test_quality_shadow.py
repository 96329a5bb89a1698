"""A shadow rule's projection: pages per day, and a precision borrowed from the judged pages its
pages overlap on an entity."""

from __future__ import annotations

from alerting.quality import shadow_table
from alerting.store import EntityEpisode, VerdictName

DAY = 86_400_000
ORG, KEY = ("org_id", "o_1"), ("api_key_id", "k_1")


def episode(
    page_id: int,
    start: int,
    end: int,
    *entities: tuple[str, str],
    rule: str = "trial",
    verdict: VerdictName | None = None,
) -> EntityEpisode:
    return EntityEpisode(page_id, rule, start, end, frozenset(entities), verdict)


def test_pages_per_day_count_the_episodes_started_in_the_range() -> None:
    shadow = [episode(1, 0, 10, ORG), episode(2, DAY, DAY + 10, ORG), episode(3, 5 * DAY, 0, ORG)]
    [p] = shadow_table(shadow, [], 0, 2 * DAY)
    assert (p.rule, p.pages, p.pages_per_day) == ("trial", 2, 1.0)
    assert (p.overlapped, p.projected_precision) == (0, None)


def test_a_page_borrows_the_strongest_verdict_it_overlaps_on_a_shared_entity() -> None:
    judged = [
        episode(10, 0, 100, ORG, rule="live", verdict="false_positive"),
        episode(11, 50, 80, KEY, rule="live", verdict="confirmed_abuse"),
        episode(12, 0, 1000, ("ip", "1.2.3.4"), rule="live", verdict="benign"),
        episode(13, 0, 1000, ORG, rule="live", verdict="duplicate"),  # lends nothing
        episode(14, 0, 1000, ORG, rule="live"),  # unreviewed: lends nothing
    ]
    shadow = [
        episode(1, 60, 70, ORG, KEY),  # meets 10 (fp) and 11 (confirmed): confirmed
        episode(2, 90, 95, ORG),  # meets 10 only: false positive
        episode(3, 200, 300, ORG),  # after 10 ended; 13 and 14 lend nothing: no verdict
        episode(4, 200, 300, ("ip", "1.2.3.4")),  # meets 12: benign
        episode(5, 60, 70, ("account_id", "a_1")),  # no shared entity
    ]
    [p] = shadow_table(shadow, judged, 0, DAY)
    assert (p.pages, p.overlapped) == (5, 3)
    assert p.verdicts == {"confirmed_abuse": 1, "false_positive": 1, "benign": 1, "duplicate": 0}
    assert p.projected_precision == 1 / 3


def test_spans_that_touch_overlap_and_rules_are_apart() -> None:
    judged = [episode(10, 100, 200, ORG, rule="live", verdict="confirmed_abuse")]
    shadow = [episode(1, 200, 250, ORG), episode(2, 0, 99, ORG, rule="other")]
    first, second = shadow_table(shadow, judged, 0, DAY)
    assert (first.rule, first.overlapped, first.projected_precision) == ("other", 0, None)
    assert (second.rule, second.overlapped, second.projected_precision) == ("trial", 1, 1.0)
