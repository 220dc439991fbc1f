"""bot/core imports nothing that does I/O or reads the clock, the environment or randomness."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[3] / "bot" / "core"
FORBIDDEN = {
    "os", "sys", "io", "pathlib", "socket", "time", "random", "secrets", "asyncio", "subprocess",
    "logging", "yaml", "opencc", "aiohttp", "sqlalchemy", "telegram", "apscheduler", "bot.settings",
    "bot.cli", "bot.loaders.content", "bot.loaders.yaml_source",
}  # fmt: skip


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_imports_no_io(path):
    bad = {name for name in imported_modules(path) if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)}
    assert not bad, f"{path.name} imports {sorted(bad)}"


# datetime is allowed for its types and arithmetic; reading the clock is not.
CLOCK_CALLS = {"now", "today", "utcnow", "time", "monotonic", "perf_counter"}


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_reads_no_clock(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CLOCK_CALLS
    }
    assert not calls, f"{path.name} reads the clock: {sorted(calls)}"
