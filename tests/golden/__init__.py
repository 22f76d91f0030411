"""Golden results: every example's JSON result, committed, so a change to the code that is meant to
leave numbers alone (a refactor) can show that it did.

A change that is meant to move numbers (new evidence, a model change) regenerates them on purpose:

    .venv/bin/python -m tests.golden --write

and the diff of ``tests/golden/results/`` shows what moved.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
#: Keys that describe the build, not the result.
VOLATILE = ("exoforge_version",)
#: Relative tolerance of numbers. The integrator is deterministic; numpy's vectorised exp and log may
#: round the last bit differently on another CPU, so this is a little above machine precision.
RTOL = 1e-9
ATOL = 1e-300


def examples() -> list[Path]:
    return sorted(p for p in (ROOT / "examples").glob("*.yaml") if not p.name.startswith(("space_", "select_")))


def result_of(path: Path) -> dict[str, Any]:
    import exoforge as xf

    doc: dict[str, Any] = json.loads(json.dumps(xf.simulate(xf.load_scenario(path)).to_json()))
    for key in VOLATILE:
        doc.pop(key, None)
    return doc


def differences(expected: Any, actual: Any, where: str = "") -> list[str]:
    """Every place where ``actual`` differs from ``expected`` beyond :data:`RTOL`."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = [f"{where}.{k}: missing" for k in expected if k not in actual]
        out += [f"{where}.{k}: new" for k in actual if k not in expected]
        for k in expected:
            if k in actual:
                out += differences(expected[k], actual[k], f"{where}.{k}" if where else str(k))
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{where}: {len(actual)} items (was {len(expected)})"]
        return [
            d for i, (e, a) in enumerate(zip(expected, actual, strict=True)) for d in differences(e, a, f"{where}[{i}]")
        ]
    num = (int, float)
    if isinstance(expected, num) and isinstance(actual, num) and not isinstance(expected, bool):
        if math.isclose(expected, actual, rel_tol=RTOL, abs_tol=ATOL):
            return []
        return [f"{where}: {actual!r} (was {expected!r})"]
    return [] if expected == actual else [f"{where}: {actual!r} (was {expected!r})"]


def write_all() -> list[Path]:
    RESULTS.mkdir(exist_ok=True)
    written = []
    for path in examples():
        out = RESULTS / f"{path.stem}.json"
        out.write_text(json.dumps(result_of(path), indent=1, sort_keys=True) + "\n", encoding="utf-8")
        written.append(out)
    return written
