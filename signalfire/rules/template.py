"""Summary templates: `{name}` placeholders filled from a fixed set of names, never evaluated."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")
BASE_NAMES = frozenset(
    {"value", "threshold", "window", "op", "rule", "title", "severity", "field", "group"}
)
ELLIPSIS = "…"


def unknown_placeholders(template: str, group_names: Iterable[str]) -> list[str]:
    allowed = BASE_NAMES | set(group_names)
    return [name for name in PLACEHOLDER.findall(template) if name not in allowed]


def render(
    template: str,
    values: Mapping[str, str],
    limit: int | None = None,
    whole: Collection[str] = (),
) -> str:
    """`template` with its placeholders filled.

    With `limit`, the result has at most `limit` characters: text that does not fit is cut
    and ends in `…`, except the values named in `whole`, which are shown entirely or, when
    they do not fit, as a bare `…`, so that no part of one is ever shown alone.
    """
    if limit is None:
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)
    pieces: list[tuple[str, bool]] = []
    pos = 0
    for m in PLACEHOLDER.finditer(template):
        name = m.group(1)
        pieces.append((template[pos : m.start()], False))
        pieces.append((values.get(name, m.group(0)), name in whole and name in values))
        pos = m.end()
    pieces.append((template[pos:], False))
    out = [text for text, _ in pieces]
    if sum(map(len, out)) <= limit:
        return "".join(out)
    out = []
    room = limit - 1  # the result is cut: one character is kept for the closing `…`
    for text, atomic in pieces:
        if len(text) <= room:
            out.append(text)
            room -= len(text)
        elif atomic and room:
            out.append(ELLIPSIS)
            room -= 1
        else:
            out.append(text[:room] + ELLIPSIS)  # an atomic value: room is 0, nothing of it
            break
    return "".join(out)
