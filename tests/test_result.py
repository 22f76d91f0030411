"""The run result and its JSON form (exoforge.result): cleaning, nesting, checks."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from exoforge.result import SCHEMA_VERSION, ChecksFailed, Result, _clean, check_line, flatten, nest


def _result(**changes) -> Result:
    base: dict[str, Any] = {
        "scenario_name": "demo",
        "kpis": {"doses.per_batch": np.float64(120.0), "cost.per_dose": math.inf, "cells.seeded": np.int64(3)},
        "currency": "USD",
        "price_year": 2024,
        "cost_breakdown": {"media": 10.0},
        "cost_by_step": {"tff": np.float32(2.5)},
        "ledger": [{"item": "medium", "amount": np.array([1.0, math.nan])}],
        "checks": [
            {"name": "tip_speed", "value": 1.2, "limit": 1.5, "ok": True, "description": "tip speed"},
            {"name": "centrifuge_runs", "value": 100.0, "limit": 20.0, "ok": False, "description": "runs"},
        ],
        "warnings": ["w"],
        "citations": [],
    }
    base.update(changes)
    return Result(**base)


def test_json_is_strict_json_with_the_contract_keys() -> None:
    body = _result().to_json()
    text = json.dumps(body, allow_nan=False)  # NaN or inf would make this raise
    assert json.loads(text) == body
    assert body["schema_version"] == SCHEMA_VERSION
    assert body["doses"]["per_batch"] == 120.0 and isinstance(body["doses"]["per_batch"], float)
    assert body["cells"]["seeded"] == 3 and isinstance(body["cells"]["seeded"], int)
    assert body["cost"]["per_dose"] is None  # not finite
    assert body["cost"]["currency"] == "USD" and body["cost"]["by_step"]["tff"] == 2.5
    assert body["ledger"][0]["amount"] == [1.0, None]
    for key in ("isolation_steps", "checks", "warnings", "citations", "ledger", "removed_by_exclusion", "seed"):
        assert key in body
    assert "ev_size" not in body  # only with measured sizes
    assert "ev_size" in _result(size_distributions={"measured": [1]}).to_json()


def test_clean() -> None:
    assert _clean({1: (np.float64(-math.inf), "x")}) == {"1": [None, "x"]}
    assert _clean(np.array([[1, 2]])) == [[1, 2]]
    assert _clean("text") == "text"


def test_nest_and_flatten_are_inverse() -> None:
    flat = {"a.b.c": 1.0, "a.d": [1, 2], "e": "x"}
    nested = nest(flat)
    assert nested == {"a": {"b": {"c": 1.0}, "d": [1, 2]}, "e": "x"}
    assert flatten(nested) == flat


def test_failed_checks_raise_with_the_result() -> None:
    res = _result()
    assert [c["name"] for c in res.failed_checks] == ["centrifuge_runs"]
    with pytest.raises(ChecksFailed, match="1 engineering check") as info:
        res.raise_for_checks()
    assert info.value.result is res and info.value.failed == res.failed_checks
    ok = _result(checks=res.checks[:1])
    assert ok.raise_for_checks() is ok
    assert check_line(res.checks[1]) == "check failed: centrifuge_runs = 100 (limit 20): runs"


def test_dumps_indents() -> None:
    assert _result().dumps(indent=None).count("\n") == 0
    assert _result().dumps().count("\n") > 10
