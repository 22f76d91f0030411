"""Outputs at the edge: drawing and printing only in ``report/``, ``commands/`` and the web and API layers."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "exoforge"
#: Layers that may draw or print: they turn the core's data into pages, files and terminal output.
EDGE = ("report", "commands", "web", "api")
DRAWING = ("matplotlib", "plotly", "rich")


def _core_modules() -> list[Path]:
    return [p for p in SRC.rglob("*.py") if p.relative_to(SRC).parts[0] not in EDGE and p.name != "cli.py"]


def test_the_core_neither_draws_nor_prints() -> None:
    problems = []
    for path in _core_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for name in names:
                    if name.split(".")[0] in DRAWING:
                        problems.append(f"{path.relative_to(SRC)}:{node.lineno} imports {name}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                problems.append(f"{path.relative_to(SRC)}:{node.lineno} calls print")
    assert not problems, "\n".join(problems)


def test_the_check_sees_a_core_module() -> None:
    """The scan reads the core (a check that reads nothing would always pass)."""
    names = {p.relative_to(SRC).as_posix() for p in _core_modules()}
    assert "simulation.py" in names and "evidence/citations.py" in names
