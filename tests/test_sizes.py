"""Small modules and functions: none in src/ over 500 and 80 lines, unless a comment at its top says why.

A module's exception is a ``# Longer than 500 lines: <reason>`` comment right after its docstring;
a function's is ``# Longer than 80 lines: <reason>`` as the first line of its body (after the
docstring). A new long module or function fails here until it is split or justified.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

SRC = ROOT / "src" / "exoforge"
MODULE_LINES, FUNCTION_LINES = 500, 80


def _justified(lines: list[str], start: int, stop: int, marker: str) -> bool:
    """A comment starting with ``marker`` on lines ``start`` to ``stop`` (0-based, end excluded)."""
    return any(line.strip().startswith(f"# {marker}:") for line in lines[start:stop])


def _over_limit() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text)
        name = path.relative_to(ROOT)
        doc_end = tree.body[0].end_lineno if tree.body and isinstance(tree.body[0], ast.Expr) else 0
        if len(lines) > MODULE_LINES and not _justified(
            lines, doc_end or 0, (doc_end or 0) + 4, "Longer than 500 lines"
        ):
            found.append(f"{name}: {len(lines)} lines")
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                first = node.body[0]
                # after the docstring, or between the signature and the first statement
                start = (first.end_lineno or 0) if isinstance(first, ast.Expr) else node.lineno
                stop = start + 4 if isinstance(first, ast.Expr) else first.lineno
                if length > FUNCTION_LINES and not _justified(lines, start, stop, "Longer than 80 lines"):
                    found.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    return found


def test_no_long_module_or_function_without_a_reason() -> None:
    assert _over_limit() == []


def test_the_rule_can_fail(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "src" / "exoforge"
    package.mkdir(parents=True)
    body = "\n".join(f"    x{i} = {i}" for i in range(90))
    (package / "long.py").write_text(f'"""A module."""\n\n\ndef long() -> None:\n{body}\n', encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.SRC", package)
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert _over_limit() == [str(Path("src/exoforge/long.py")) + ":4 long: 91 lines"]
