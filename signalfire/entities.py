"""The entity model: who a page is about, from the platform's hierarchy down.

Declared once, beside the rules (an `entities:` document in a rules directory, docs/rules.md):
the hierarchy `org_id > account_id > api_key_id` and side entities such as `ip`. A rule's page
names the entities of its group and, where the rule groups below the top of the hierarchy, the
parents its group's events name (a per-key page names its account and org): what correlates
pages into incidents.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

REF_HEX = 16
HIERARCHY = ("org_id", "account_id", "api_key_id")
SIDE = ("ip",)


@dataclass(frozen=True, slots=True)
class RuleEntities:
    """What a rule's pages carry: entity names top-down (hierarchy, then side entities), and
    those taken from the group's events rather than its values."""

    order: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()


NO_ENTITIES = RuleEntities()


@dataclass(frozen=True, slots=True)
class EntityModel:
    hierarchy: tuple[str, ...] = HIERARCHY
    side: tuple[str, ...] = SIDE

    def __post_init__(self) -> None:
        names = [*self.hierarchy, *self.side]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"an entity is named twice: {', '.join(repeated)}")

    def for_group(self, group_names: tuple[str, ...]) -> RuleEntities:
        """The entities of a rule grouped by `group_names`.

        Parents are the hierarchy levels above the deepest one the group holds; a group holding
        no hierarchy level (by `ip`, or by nothing) may name any level, through its events.
        Side entities come from the group only: a key's events may come from many addresses.
        """
        grouped = set(group_names)
        levels = [i for i, name in enumerate(self.hierarchy) if name in grouped]
        above = self.hierarchy[: max(levels)] if levels else self.hierarchy
        parents = tuple(name for name in above if name not in grouped)
        order = tuple(n for n in self.hierarchy if n in grouped or n in parents)
        return RuleEntities(order + tuple(n for n in self.side if n in grouped), parents)


DEFAULT_MODEL = EntityModel()


def entity_ref(name: str, value: Any) -> str:
    """`<name>/<16 hex>`: names one entity by a hash of its whole value, so pages correlate on
    it even where the value itself is hidden or cut."""
    digest = hashlib.sha256(orjson.dumps([name, canonical(value)]))
    return f"{name}/{digest.hexdigest()[:REF_HEX]}"


def canonical(value: Any) -> Any:
    """A group or entity value as it is hashed (dedup keys, entity refs): orjson stops at 64-bit
    integers, so larger ones keep a distinct, stable spelling."""
    return {"int": str(value)} if beyond_orjson(value) else value


def beyond_orjson(value: Any) -> bool:
    """An integer orjson does not write: outside the 64-bit range, signed or not."""
    return isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64
