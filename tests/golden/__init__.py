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
#: The numeric platform the results were written on (see :func:`numeric_platform`).
PLATFORM = Path(__file__).resolve().parent / "platform.json"
#: Keys that describe the build, not the result.
VOLATILE = ("exoforge_version",)
#: Relative tolerance of numbers on the numeric platform (numpy, scipy, CPU features) that wrote the results.
#: There they come out bit for bit, so this only allows for the printing of floats.
RTOL = 1e-12
#: Relative tolerance elsewhere: numpy's vectorised exp and log may round the last bit differently on
#: another CPU or build, and the adaptive integrator can carry that a few digits further.
RTOL_OTHER_PLATFORM = 1e-9
ATOL = 1e-300


def numeric_platform() -> dict[str, Any]:
    """What decides the last bits of a result: numpy and scipy versions, machine and the CPU features numpy uses."""
    import platform

    import numpy as np
    import scipy
    from numpy._core._multiarray_umath import __cpu_features__

    return {
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "machine": platform.machine(),
        "cpu_features": sorted(k for k, on in __cpu_features__.items() if on),
    }


def tolerance() -> float:
    """:data:`RTOL` on the platform that wrote the results, :data:`RTOL_OTHER_PLATFORM` on any other."""
    if PLATFORM.exists() and json.loads(PLATFORM.read_text(encoding="utf-8")) == numeric_platform():
        return RTOL
    return RTOL_OTHER_PLATFORM


def examples() -> list[Path]:
    return sorted(p for p in (ROOT / "examples").glob("*.yaml") if not p.name.startswith(("space_", "select_")))


def result_of(path: Path) -> dict[str, Any]:
    import exoforge as xf

    doc: dict[str, Any] = json.loads(json.dumps(xf.simulate(xf.load_scenario(path)).to_json()))
    for key in VOLATILE:
        doc.pop(key, None)
    return doc


def differences(expected: Any, actual: Any, where: str = "", rtol: float = RTOL) -> list[str]:
    """Every place where ``actual`` differs from ``expected`` beyond the relative tolerance ``rtol``."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = [f"{where}.{k}: missing" for k in expected if k not in actual]
        out += [f"{where}.{k}: new" for k in actual if k not in expected]
        for k in expected:
            if k in actual:
                out += differences(expected[k], actual[k], f"{where}.{k}" if where else str(k), rtol)
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{where}: {len(actual)} items (was {len(expected)})"]
        return [
            d
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for d in differences(e, a, f"{where}[{i}]", rtol)
        ]
    num = (int, float)
    if isinstance(expected, num) and isinstance(actual, num) and not isinstance(expected, bool):
        if math.isclose(expected, actual, rel_tol=rtol, abs_tol=ATOL):
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
    PLATFORM.write_text(json.dumps(numeric_platform(), indent=1) + "\n", encoding="utf-8")
    written.append(PLATFORM)
    return written
