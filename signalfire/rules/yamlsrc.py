"""YAML loading that remembers the line of every key and item, for `file:line: message` errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

# Rule files are small and shallow; these bounds keep hostile ones (`[[[[...`, alias bombs)
# from exhausting the stack or expanding without end, and keep every value representable
# in the rule's canonical JSON form (64-bit integers, UTF-8 text).
MAX_DEPTH = 50
MAX_NODES = 200_000  # values in the document once aliases are expanded
MAX_INT_CHARS = 100
_N = TypeVar("_N", bound=Node)


class LineDict(dict[Any, Any]):
    """A YAML mapping with the 1-based line of the mapping and of each key."""

    line: int
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A YAML sequence with the 1-based line of the sequence and of each item."""

    line: int
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        if 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return self.line


class DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: object, line: int, message: str | None = None) -> None:
        super().__init__(message or f"duplicate key {key!r}")
        self.line = line


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_expansion(root: Node) -> None:
    """Refuse documents whose aliases expand beyond MAX_NODES values or MAX_DEPTH levels, or
    refer to themselves. Each node is measured once (aliases share nodes), iteratively."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth), aliases expanded
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            below = [sizes[id(c)] for c in _children(node)]
            size = 1 + sum(n for n, _ in below)
            # collections only, as the composer counts them
            depth = (not isinstance(node, ScalarNode)) + max((d for _, d in below), default=0)
            if size > MAX_NODES:
                raise ComposerError(
                    None, None, f"more than {MAX_NODES} values once aliases are expanded",
                    node.start_mark,
                )  # fmt: skip
            if depth > MAX_DEPTH:
                raise ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels once aliases are expanded",
                    node.start_mark,
                )  # fmt: skip
            sizes[key] = (size, depth)
        elif key in on_path:
            raise ComposerError(None, None, "an alias refers to its own anchor", node.start_mark)
        elif key not in sizes:
            on_path.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in _children(node))


class _LineLoader(yaml.SafeLoader):
    depth = 0  # collections being composed; scalars are leaves and cost nothing here

    def _nested(self, compose: Callable[[Any], _N], anchor: Any) -> _N:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
            node = compose(anchor)
        finally:
            self.depth -= 1
        if self.depth == 0 and self.anchors:  # aliases are possible only with anchors
            _check_expansion(node)
        return node

    def compose_sequence_node(self, anchor: Any) -> SequenceNode:
        return self._nested(super().compose_sequence_node, anchor)

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        return self._nested(super().compose_mapping_node, anchor)


def _construct_mapping(loader: yaml.SafeLoader, node: Node) -> LineDict:
    if not isinstance(node, MappingNode):  # `!!map x`
        raise ConstructorError(None, None, "expected a mapping", node.start_mark)
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            raise DuplicateKeyError(key, line, "a key must be a single value") from None
        if key in result:
            raise DuplicateKeyError(key, line)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_sequence(loader: yaml.SafeLoader, node: Node) -> LineList:
    if not isinstance(node, SequenceNode):  # `!!seq x`
        raise ConstructorError(None, None, "expected a list", node.start_mark)
    result = LineList(loader.construct_object(item, deep=True) for item in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [item.start_mark.line + 1 for item in node.value]
    return result


def _checked(construct: Any) -> Any:
    """A scalar constructor whose failures carry the value's line. PyYAML's raise bare
    ValueError / KeyError / TypeError on explicit tags (`!!float x`, `!!bool x`) and on dates
    that do not exist (`2024-02-30`)."""

    def run(loader: yaml.SafeLoader, node: Node) -> Any:
        if not isinstance(node, ScalarNode):  # `!!int [1]`
            raise ConstructorError(None, None, "expected a single value", node.start_mark)
        try:
            return construct(loader, node)
        except (ValueError, TypeError, AttributeError, KeyError):
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            message = f"cannot read {node.value[:40]!r} as {tag}"
            raise ConstructorError(None, None, message, node.start_mark) from None

    return run


def _construct_int(loader: yaml.SafeLoader, node: ScalarNode) -> int:
    if len(node.value) > MAX_INT_CHARS:  # int() refuses over 4300 digits, with a ValueError
        raise ConstructorError(None, None, "integer too large", node.start_mark)
    value = SafeConstructor.construct_yaml_int(loader, node)
    if not -(2**63) <= value < 2**64:
        raise ConstructorError(None, None, "integer out of the 64-bit range", node.start_mark)
    return value


def _construct_str(loader: yaml.SafeLoader, node: ScalarNode) -> str:
    value = loader.construct_scalar(node)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConstructorError(
            None, None, "text with a lone surrogate escape (\\ud800-\\udfff) is not UTF-8",
            node.start_mark,
        ) from None  # fmt: skip
    return value


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
_LineLoader.add_constructor("tag:yaml.org,2002:str", _checked(_construct_str))
_LineLoader.add_constructor("tag:yaml.org,2002:int", _checked(_construct_int))
for _tag, _construct in (
    ("float", SafeConstructor.construct_yaml_float),
    ("bool", SafeConstructor.construct_yaml_bool),
    ("timestamp", SafeConstructor.construct_yaml_timestamp),
):
    _LineLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _checked(_construct))


class YamlSyntaxError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load_yaml(text: str) -> Any:
    """Parse one YAML document into LineDict/LineList/scalars; raise YamlSyntaxError with a line."""
    try:
        return yaml.load(text, Loader=_LineLoader)
    except DuplicateKeyError as exc:
        raise YamlSyntaxError(exc.line, str(exc)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        # An error at the end of the stream is marked on the line after the last one.
        line = min(line, max(1, len(text.splitlines())))
        raise YamlSyntaxError(line, f"YAML syntax: {exc.problem or exc}") from None
    except yaml.reader.ReaderError as exc:
        # Not marked with a line, but with a position in the text.
        line = text.count("\n", 0, exc.position) + 1
        raise YamlSyntaxError(line, f"YAML syntax: {str(exc).splitlines()[0]}") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(1, f"YAML syntax: {exc}") from None
