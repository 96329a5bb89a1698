"""The entity model: which entities a rule's pages name, and which come from its events."""

import pytest

from signalfire.entities import DEFAULT_MODEL, EntityModel, RuleEntities, entity_ref

CUSTOM = EntityModel(("tenant", "project", "key"), ("ip", "device"))


@pytest.mark.parametrize(
    ("model", "group", "order", "parents"),
    [
        # grouped at the top: nothing above it
        (DEFAULT_MODEL, ("org_id",), ("org_id",), ()),
        # a per-key page names its account (its org is in the group)
        (
            DEFAULT_MODEL,
            ("org_id", "api_key_id"),
            ("org_id", "account_id", "api_key_id"),
            ("account_id",),
        ),
        # below the top without it: the org comes from the events
        (DEFAULT_MODEL, ("account_id",), ("org_id", "account_id"), ("org_id",)),
        (
            DEFAULT_MODEL,
            ("api_key_id",),
            ("org_id", "account_id", "api_key_id"),
            ("org_id", "account_id"),
        ),
        # children are never parents
        (DEFAULT_MODEL, ("org_id", "account_id"), ("org_id", "account_id"), ()),
        # a side entity alone: any level its events all name
        (
            DEFAULT_MODEL,
            ("ip",),
            ("org_id", "account_id", "api_key_id", "ip"),
            ("org_id", "account_id", "api_key_id"),
        ),
        # a side entity beside a level: only what is above that level
        (DEFAULT_MODEL, ("org_id", "ip"), ("org_id", "ip"), ()),
        # fields that are no entity are left out; the hierarchy still comes from the events
        (
            DEFAULT_MODEL,
            ("model",),
            ("org_id", "account_id", "api_key_id"),
            ("org_id", "account_id", "api_key_id"),
        ),
        (DEFAULT_MODEL, ("org_id", "model"), ("org_id",), ()),
        # names are the model's
        (CUSTOM, ("project", "device"), ("tenant", "project", "device"), ("tenant",)),
        (CUSTOM, ("key", "ip"), ("tenant", "project", "key", "ip"), ("tenant", "project")),
    ],
)
def test_entities_of_a_group(
    model: EntityModel, group: tuple[str, ...], order: tuple[str, ...], parents: tuple[str, ...]
) -> None:
    assert model.for_group(group) == RuleEntities(order, parents)


def test_a_name_in_two_places_is_refused() -> None:
    with pytest.raises(ValueError, match="named twice: ip"):
        EntityModel(("org_id", "ip"), ("ip",))


def test_a_ref_names_the_entity_by_a_hash_of_its_whole_value() -> None:
    ref = entity_ref("org_id", "o_1")
    assert ref.startswith("org_id/") and len(ref) == len("org_id/") + 16
    assert ref == entity_ref("org_id", "o_1")  # stable: the same on any worker, any day
    assert ref != entity_ref("org_id", "o_2")
    # a JSON number and its text are different values, as in group keys
    assert entity_ref("org_id", 1) != entity_ref("org_id", "1")
    # past 64 bits still hashes, distinctly
    assert entity_ref("org_id", 2**70) != entity_ref("org_id", 2**70 + 1)


def test_the_ref_of_a_known_value_is_pinned() -> None:
    # A ref travels in pages and in the incident state: changing how it is computed splits
    # every open incident in two.
    assert entity_ref("org_id", "o_1") == "org_id/" + _sha("org_id", "o_1")


def _sha(name: str, value: str) -> str:
    import hashlib

    return hashlib.sha256(f'["{name}","{value}"]'.encode()).hexdigest()[:16]
