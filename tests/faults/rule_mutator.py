"""Seeded mutations of the shipped rule files, as YAML text, for fuzzing the rule loader.

A document is the text of one rule file. Seeds are the shipped rules/*.yaml with their
`tests:` and `description:` blocks left out (the loader's cost is PyYAML's, per character:
that keeps 100k documents affordable), in full or cut to fewer keys. Each
mutation is one of the faults people and tools make in rule files, applied line-wise.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NUMBER = re.compile(r"(?<![\w.])\d+(?![\w.])")
KEY_LINE = re.compile(r"^(?P<indent> *)(?P<dash>- )?(?P<key>[A-Za-z_][\w.-]*):(?P<rest>.*)$")
MINIMAL_KEYS = ("id", "title", "severity", "where", "group_by", "detect", "throttle")
TINY_KEYS = ("id", "title", "severity", "group_by", "detect")
DURATION_KEYS = ("window", "bucket", "within", "lookback", "warmup", "for", "throttle",
                 "resolve_after")  # fmt: skip
KNOWN_KEYS = (
    "id", "title", "severity", "owner", "labels", "annotations", "where", "group_by", "detect",
    "type", "window", "threshold", "op", "aggregate", "field", "numerator", "steps", "within",
    "factor", "min_count", "lookback", "rules", "tests", "regex", "cidr", "in", "exists", "not",
    "all", "any", "evidence", "top", "max_groups", "for", "throttle", "resolve_after",
)  # fmt: skip
WRONG_VALUES = (
    "[1, 2]", "{a: 1}", "[]", "{}", "5", "-1", "0", "3.5", "true", "null", "~", "''", '""',
    "2024-01-01", "2024-01-01T00:00:00Z", "!!binary aGk=", "!!set {a, b}", ".nan", ".inf",
    "-.inf", "0x1F", "1_000", "0o17", "1:20", "!!str 5", "!!int '7'", "!!float x",
    "!!python/object/apply:os.system ['true']", "!custom x", "*undefined", "&a x",
    "'unterminated", '"esc \\x"', '"\\ud800"', '"\\udfff x"', '"\\u0000"', '"\\x85"',
    "99999999999999999999", "-9223372036854775809", "18446744073709551616", "1e400", "- a",
    "[a, [b, [c]]]", "{a: {b: {c: d}}}", "!!timestamp x", "!!omap [a: 1]", "!!pairs [a: 1]",
    "!!map x", "!!seq x", "!!int [1]",
    "!!bool x", "!!str {a: 1}", "!!float [1]", "2024-02-30", "!!null x", "!!binary x!",
    "? a", "|\n  block", ">-\n  folded", "a: b: c", "[", "{", "]", "}", "@x", "`x", "%x",
)  # fmt: skip
BAD_DURATIONS = (
    "60x", "-5s", "1.5m", "0s", "0", "0ms", "''", "ms", "10", "1h 30m", "1H", "1w", "1y",
    "9" * 30 + "s", "9" * 60 + "d", "1" + "0" * 5000 + "ms", " 5m ", "5m5m", "5 m", "5mm",
    "1d2h3m4s5ms", "P1D", "00001s", "1e3s", "true", "[5m]", "{m: 5}",
)  # fmt: skip
BAD_REGEXES = (
    "(a", "a)", "(?=a)", "(?!a)", "(?<=a)b", "(?<!a)b", r"(a)\1", r"(?P<n>a)(?P=n)", "[z-a]",
    "a{1001}", "a{1000}{1000}", "(a{999}){999}", r"\p{Foo}", r"\Q", "*", "+a", "a**", "(?i",
    "(?#comment)", r"\C", r"\8", "[[:foo:]]", "(" * 1000 + ")" * 1000, "|".join("a" * 300),
    "(a+)+$", "((a*)*)*b", "\x00", "é+", "\U0001f600{3}", "(?P<a>x)(?P<a>y)", "x{2,1}",
)  # fmt: skip
BAD_CIDRS = (
    "1.2.3.4/33", "300.1.1.1/8", "::1/129", "abc", "1.2.3.4/", "/8", "1.2.3.4/-1", "", "::/0",
    "0.0.0.0/0", "1.2.3.4/24", "fe80::1%eth0/64", "1.2.3", "1.2.3.4.5/8", "[1.2.3.0/24, 5]",
    "[]", "[1.2.3.0/24, x]", "{a: 1}", "5", "true", "'10.0.0.0/8 '", "010.0.0.0/8",
)  # fmt: skip
DETECTOR_TYPES = (
    "thresold", "THRESHOLD", "Threshold", "5", "null", "[threshold]", "{threshold: 1}", "''",
    "match ", "regex", "anomaly", "threshold.v2", "!!binary aGk=", "count", "sequence",
    "absence", "spike", "ratio", "distinct", "new_value", "match",
)  # fmt: skip
FIELDS = ("ip", "endpoint", "attrs.user_agent", "model", "event_type", "country", "x.y.z")


def _key(line: str) -> re.Match[str]:
    m = KEY_LINE.match(line)
    assert m is not None, line
    return m


def _blocks(text: str) -> list[tuple[str, list[str]]]:
    """Top-level (key, lines) blocks of a rule file; comments stay with the block above."""
    blocks: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        m = KEY_LINE.match(line)
        if m and not m["indent"] and not m["dash"]:
            blocks.append((m["key"], [line]))
        elif blocks:
            blocks[-1][1].append(line)
    return blocks


def seed_documents(keep: tuple[str, ...] | None = None) -> list[list[str]]:
    """Each shipped rule without tests and description; cut to the `keep` keys if given."""
    seeds = []
    for path in sorted((ROOT / "rules").glob("*.yaml")):
        blocks = [b for b in _blocks(path.read_text()) if b[0] not in ("tests", "description")]
        if any(key == "entities" for key, _ in blocks):
            continue  # the entity model beside the rules: no rule to mutate
        seeds.append(
            [line for key, lines in blocks if keep is None or key in keep for line in lines]
        )
    return seeds


class RuleMutator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        # full, cut to MINIMAL_KEYS, cut to TINY_KEYS: mostly the short ones, as PyYAML's time
        # goes by the character
        self.seed_sets = (seed_documents(), seed_documents(MINIMAL_KEYS), seed_documents(TINY_KEYS))
        self.seed_weights = (1, 3, 6)
        self.sizes: Counter[str] = Counter()

    # -- helpers -----------------------------------------------------------------------------
    def key_lines(self, lines: list[str]) -> list[int]:
        return [i for i, line in enumerate(lines) if KEY_LINE.match(line)]

    def block_end(self, lines: list[str], i: int) -> int:
        """Index after line i's nested block (lines indented deeper than line i's key)."""
        m = _key(lines[i])
        indent = len(m["indent"]) + (2 if m["dash"] else 0)
        j = i + 1
        while j < len(lines) and (
            not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip(" ")) > indent
        ):
            j += 1
        return j

    def pick_key(self, lines: list[str], names: tuple[str, ...] = ()) -> int | None:
        found = self.key_lines(lines)
        if names:
            found = [i for i in found if _key(lines[i])["key"] in names]
        return self.rng.choice(found) if found else None

    def set_value(self, lines: list[str], i: int, value: str) -> None:
        """Key at line i gets `value` in place of its inline value or nested block."""
        m = _key(lines[i])
        end = self.block_end(lines, i)
        prefix = f"{m['indent']}{m['dash'] or ''}{m['key']}:"
        inner = " " * (len(m["indent"]) + 2 + (2 if m["dash"] else 0))
        first, *more = value.split("\n")
        lines[i:end] = [f"{prefix} {first}"] + [inner + x.lstrip() for x in more]

    def replace_where(self, lines: list[str], body: list[str]) -> None:
        """The top-level `where:` block replaced by `body` (moved to the end)."""
        for i in self.key_lines(lines):
            if lines[i].startswith("where:"):
                del lines[i : self.block_end(lines, i)]
                break
        lines.extend(["where:", *("  " + b for b in body)])

    def quote(self, text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    # -- mutations ---------------------------------------------------------------------------
    def delete_key(self, lines: list[str]) -> None:
        i = self.pick_key(lines)
        if i is not None:
            del lines[i : self.block_end(lines, i)]

    def rename_key(self, lines: list[str]) -> None:
        i = self.pick_key(lines)
        if i is None:
            return
        m = _key(lines[i])
        key = m["key"]
        r = self.rng
        new = r.choice((
            key[:-1], key + key[-1], key.upper(), r.choice(KNOWN_KEYS), "", "1", "null", "true",
            f'"{key} "', "x" * r.choice((1, 100, 5000)), f"{key}.{key}", "-", "'a: b'",
        ))  # fmt: skip
        lines[i] = f"{m['indent']}{m['dash'] or ''}{new}:{m['rest']}"

    def wrong_type(self, lines: list[str]) -> None:
        i = self.pick_key(lines)
        if i is not None:
            self.set_value(lines, i, self.rng.choice(WRONG_VALUES))

    def bad_duration(self, lines: list[str]) -> None:
        i = self.pick_key(lines, DURATION_KEYS)
        if i is None:
            lines.append(f"{self.rng.choice(('for', 'throttle', 'resolve_after'))}: 1m")
            i = len(lines) - 1
        self.set_value(lines, i, self.rng.choice(BAD_DURATIONS))

    def bad_regex(self, lines: list[str]) -> None:
        field = self.rng.choice(FIELDS)
        self.replace_where(
            lines, [f"{field}: {{regex: {self.quote(self.rng.choice(BAD_REGEXES))}}}"]
        )

    def bad_cidr(self, lines: list[str]) -> None:
        cidr = self.rng.choice(BAD_CIDRS)
        if not cidr.startswith(("[", "{")):
            cidr = self.quote(cidr)
        self.replace_where(lines, [f"ip: {{cidr: {cidr}}}"])

    def syntax_error(self, lines: list[str]) -> None:
        r = self.rng
        i = r.randrange(len(lines)) if lines else 0
        line = lines[i] if lines else ""
        kind = r.randrange(9)
        if kind == 0:
            lines[i:i] = [r.choice(("[", "{", "]", "}", '"', "'", "- ", "? ", ": :", "&", "*"))]
        elif kind == 1:
            lines[i] = " " + line  # indentation off by one
        elif kind == 2:
            lines[i] = line.replace(": ", ":", 1) + " :x"
        elif kind == 3:
            lines.insert(0, r.choice(("%YAML 9.9", "%TAG ! !x", "%FOO", "---", "--- !x", "...")))
        elif kind == 4:
            lines.append(r.choice(("---", "--- x", "...\n---\nid: b", "- a")))
        elif kind == 5:
            lines[i] = line + r.choice((" [", " {", " 'x", ' "x', " #", " &", " !", " |", " >"))
        elif kind == 6:
            lines[i] = line.replace("{", "", 1).replace("[", "", 1)
        elif kind == 7:
            lines[i] = line.replace(":", "", 1)
        else:
            lines[i:i] = [line.lstrip()]

    def tabs(self, lines: list[str]) -> None:
        i = self.rng.randrange(len(lines)) if lines else 0
        if not lines:
            lines.append("\tid: x")
        elif lines[i].startswith(" ") and self.rng.random() < 0.6:
            lines[i] = "\t" + lines[i].lstrip(" ")
        else:
            at = self.rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:at] + "\t" + lines[i][at:]

    def duplicate_key(self, lines: list[str]) -> None:
        i = self.pick_key(lines)
        if i is not None:
            end = self.block_end(lines, i)
            lines[end:end] = lines[i:end]

    def huge_value(self, lines: list[str]) -> None:
        r = self.rng
        size = r.choice((300, 1000, 5000))
        value = r.choice((
            "x" * size, self.quote("é" * size), str(9) * r.choice((19, 20, 101, 400, 5000)),
            "[" + ", ".join(str(n) for n in range(size // 10)) + "]",
            "{" + ", ".join(f"k{n}: {n}" for n in range(size // 20)) + "}",
            "1" + "0" * size + "s",
        ))  # fmt: skip
        i = self.pick_key(lines)
        if i is not None:
            self.set_value(lines, i, value)

    def unknown_detector(self, lines: list[str]) -> None:
        i = self.pick_key(lines, ("type",))
        if i is None:
            lines.extend(["detect:", "  type: thresold"])
        else:
            self.set_value(lines, i, self.rng.choice(DETECTOR_TYPES))

    def non_utf8(self, lines: list[str]) -> None:
        """Bytes that are not UTF-8, as a reader with surrogateescape hands them over."""
        i = self.rng.randrange(len(lines)) if lines else 0
        junk = bytes(self.rng.choice((0x80, 0xC3, 0xFF, 0xFE, 0xED, 0xF5)) for _ in range(3))
        text = junk.decode("utf-8", "surrogateescape")
        if not lines:
            lines.append(text)
            return
        at = self.rng.randrange(len(lines[i]) + 1)
        lines[i] = lines[i][:at] + text + lines[i][at:]

    def anchors(self, lines: list[str]) -> None:
        r = self.rng
        kind = r.randrange(7)
        if kind == 0:  # reuse of a block: fine YAML, the rule may still be valid
            lines[:] = [x.replace("labels: {", "labels: &l {", 1) for x in lines]
            lines.append("annotations: *l")
        elif kind == 1:
            lines.append(f"{r.choice(('title', 'owner', 'x'))}: *nope")
        elif kind == 2:  # recursive
            lines.append(r.choice(("x: &r [*r]", "where: &w {not: *w}", "y: &m {<<: *m}")))
        elif kind == 3:  # merge keys
            lines.insert(0, "x-base: &b {severity: info, owner: me}")
            lines.append(r.choice(("<<: *b", "<<: [*b, *b]", "<<: 5", "<<: [5]")))
        elif kind == 4:  # alias bomb: 9 ** levels values once expanded
            levels = r.choice((3, 5, 7, 9))
            bomb = ["x-bomb:", "  - &l0 {event_type: request}"]
            for n in range(1, levels + 1):
                bomb.append(f"  - &l{n} {{all: [{', '.join([f'*l{n - 1}'] * 9)}]}}")
            self.replace_where(lines, [])
            lines[-1:] = [f"where: *l{levels}"]
            lines[:0] = bomb
        elif kind == 5:  # duplicate anchor, anchor on a key, alias as a key
            lines.append(r.choice(("a: &d 1\nb: &d 2", "&k id2: x", "*k : x", "? *x\n: y")))
        else:  # alias of a scalar used in a where condition
            lines.insert(0, "x-ua: &ua curl/")
            self.replace_where(lines, ["attrs.user_agent: {startswith: *ua}"])

    def deep_nesting(self, lines: list[str]) -> None:
        r = self.rng
        # 100k levels cost PyYAML's scanner ~0.1 s (it looks ahead for simple keys): rarely
        n = 100_000 if r.random() < 0.01 else r.choice((10, 24, 25, 26, 49, 50, 51, 100, 1000))
        kind = r.randrange(4)
        if kind == 0:
            lines[:] = ["[" * n]
        elif kind == 1:
            self.replace_where(lines, ["not: " * n + "{ip: {exists: true}}"])
        elif kind == 2:
            self.replace_where(lines, ["not: {" * n + "ip: {exists: true}" + "}" * n])
        else:
            self.replace_where(lines, ["all: [" * n + "{ip: x}" + "]" * n])

    def char_mutation(self, lines: list[str]) -> None:
        text = list("\n".join(lines))
        r = self.rng
        for _ in range(r.randrange(1, 4)):
            at = r.randrange(len(text) + 1)
            op = r.randrange(3)
            c = r.choice(":-[]{}'\"#&*!|>%@`,? \t\n\r\x00\x85\u2028\ufeffaZ0é\U0001f600")
            if op == 0 and at < len(text):
                text[at] = c
            elif op == 1 and at < len(text):
                del text[at]
            else:
                text.insert(at, c)
        lines[:] = "".join(text).split("\n")

    def line_endings(self, lines: list[str]) -> None:
        sep = self.rng.choice(("\r\n", "\r", "\x85", "\u2028", "\n\n", "\n \n"))
        lines[:] = [sep.join(lines)]
        if self.rng.random() < 0.3:
            lines[0] = "\ufeff" + lines[0]

    def wrapper(self, lines: list[str]) -> None:
        """The rule inside `rules: [...]`, or the document as some other top-level shape."""
        kind = self.rng.randrange(5)
        if kind == 0:
            lines[:] = [
                "rules:",
                *(("  - " if n == 0 else "    ") + x for n, x in enumerate(lines)),
            ]
        elif kind == 1:
            lines[:] = [
                "rules:",
                "  - " + lines[0] if lines else "  -",
                *("    " + x for x in lines[1:]),
            ]
            lines.insert(1, "other: 1")
        elif kind == 2:
            lines[:] = [self.rng.choice(("rules: 5", "rules: {a: 1}", "rules:", "rules: [1, x]"))]
        elif kind == 3:
            lines[:] = [self.rng.choice(("", "# only a comment", "---", "- a", "5", "'x'", "~"))]
        else:
            lines[:] = ["- " + lines[0] if lines else "-", *("  " + x for x in lines[1:])]

    def vary(self, lines: list[str]) -> None:
        """Valid-looking variety before the fault: a new id suffix, other numbers."""
        r = self.rng
        for n, line in enumerate(lines):
            if line.startswith("id: ") and r.random() < 0.8:
                lines[n] = f"{line}_{r.randrange(100_000)}"
            elif r.random() < 0.2:
                lines[n] = NUMBER.sub(lambda _: str(r.randrange(10 ** r.randrange(1, 8))), line)

    # -- driving -----------------------------------------------------------------------------
    def mutations(self) -> list[tuple[str, Callable[[list[str]], None], int]]:
        return [
            ("delete_key", self.delete_key, 10),
            ("rename_key", self.rename_key, 10),
            ("wrong_type", self.wrong_type, 16),
            ("bad_duration", self.bad_duration, 8),
            ("bad_regex", self.bad_regex, 6),
            ("bad_cidr", self.bad_cidr, 5),
            ("syntax_error", self.syntax_error, 10),
            ("tabs", self.tabs, 4),
            ("duplicate_key", self.duplicate_key, 5),
            ("huge_value", self.huge_value, 1),
            ("unknown_detector", self.unknown_detector, 5),
            ("non_utf8", self.non_utf8, 3),
            ("anchors", self.anchors, 4),
            ("deep_nesting", self.deep_nesting, 2),
            ("char_mutation", self.char_mutation, 10),
            ("line_endings", self.line_endings, 2),
            ("wrapper", self.wrapper, 2),
        ]

    def documents(self, count: int) -> Iterator[str]:
        muts = self.mutations()
        names = [m[0] for m in muts]
        funcs = {m[0]: m[1] for m in muts}
        weights = [m[2] for m in muts]
        for n in range(count):
            (seeds,) = self.rng.choices(self.seed_sets, self.seed_weights)
            lines = list(self.rng.choice(seeds))
            self.vary(lines)
            # every mutation at least once; then by weight, sometimes two or three at a time
            picks = [names[n]] if n < len(names) else self.rng.choices(names, weights, k=1)
            if n >= len(names) and self.rng.random() < 0.15:
                picks += self.rng.choices(names, weights, k=self.rng.randrange(1, 3))
            for name in picks:
                self.sizes[name] += 1
                if not lines:  # an earlier mutation left nothing
                    lines.append("")
                funcs[name](lines)
            yield "\n".join(lines) + ("\n" if self.rng.random() < 0.9 else "")
