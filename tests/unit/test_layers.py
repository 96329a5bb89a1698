"""Import contracts: the packages depend on each other one way only.

    signalfire (the pure core)  <-  alerting  <-  streams  <-  signalfire.cli

The core (events, rules, the engine over the compiled core, generator) imports nothing
outside itself; `alerting` (everything about a page once it exists) imports only the core;
`streams` (the Kafka worker and bridge) the core and `alerting`; the command line
(`signalfire.cli`) is the one place that wires them all together. Imports inside functions
count too. Nothing that ships, nor the benchmarks, imports the tests.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("signalfire", "alerting", "streams")
LAYER = {"core": 0, "alerting": 1, "streams": 2, "cli": 3}


def layer_of(module: str) -> str | None:
    if module == "signalfire.cli" or module.startswith("signalfire.cli."):
        return "cli"
    top = module.split(".", maxsplit=1)[0]
    return {"signalfire": "core", "alerting": "alerting", "streams": "streams"}.get(top)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, module) of every import in `source`, relative ones resolved."""
    here = module.split(".")
    package = here if is_package else here[:-1]
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            out.append((node.lineno, name))
    return out


def wrong_way(module: str, imports: list[tuple[int, str]]) -> list[str]:
    mine = layer_of(module)
    assert mine is not None
    return [
        f"{line}: {mine} imports {name} ({theirs})"
        for line, name in imports
        if (theirs := layer_of(name)) is not None and LAYER[theirs] > LAYER[mine]
    ]


def sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def product_sources() -> list[Path]:
    """Everything that ships or runs outside the test suite: the packages and the benchmarks."""
    return sorted([*sources(), *(ROOT / "bench").rglob("*.py")])


@pytest.mark.parametrize("path", product_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_product_never_imports_the_tests(path: Path):
    """The tests' reference evaluator (tests/reference) and helpers are for the tests only."""
    module = module_name(path)
    found = imported(path.read_text(), module, path.name == "__init__.py")
    wrong = [f"{line}: {name}" for line, name in found if name.split(".")[0] == "tests"]
    assert not wrong, f"{path.relative_to(ROOT)}:\n" + "\n".join(wrong)


def test_every_package_is_covered():
    found = {module_name(p).split(".")[0] for p in sources()}
    assert found == set(PACKAGES)
    assert any(layer_of(module_name(p)) == "cli" for p in sources())


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_flow_one_way(path: Path):
    module = module_name(path)
    found = imported(path.read_text(), module, path.name == "__init__.py")
    assert not wrong_way(module, found), f"{path.relative_to(ROOT)}:\n" + "\n".join(
        wrong_way(module, found)
    )


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("signalfire.engine.x", "def f():\n    from streams import app\n", ["streams"]),
        ("signalfire.engine.x", "import alerting.message\n", ["alerting"]),
        ("alerting.x", "from streams.config import SETTINGS\n", ["streams"]),
        ("streams.x", "from signalfire.cli import main\n", ["cli"]),
        ("signalfire.cli.x", "import streams.app\nimport alerting.redact\n", []),
        ("alerting.sinks.x", "from ..message import encode\n", []),
        ("signalfire.rules.x", "from ..cli import main\n", ["cli"]),
    ],
)
def test_the_contract_sees_wrong_way_imports(module, source, expected):
    found = wrong_way(module, imported(source, module, False))
    assert [line.split("(")[-1].rstrip(")") for line in found] == expected
