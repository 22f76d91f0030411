"""Every example's result equals its committed golden result (tolerance in tests/golden).

A change meant to move numbers regenerates them: ``.venv/bin/python -m tests.golden --write``."""

from __future__ import annotations

import json

import pytest

from tests.golden import RESULTS, differences, examples, result_of


def test_every_example_has_a_golden_result() -> None:
    assert sorted(p.stem for p in RESULTS.glob("*.json")) == sorted(p.stem for p in examples())


@pytest.mark.parametrize("path", examples(), ids=lambda p: p.stem)
def test_example_matches_its_golden_result(path) -> None:
    golden = RESULTS / f"{path.stem}.json"
    assert golden.exists(), "no golden result: run `.venv/bin/python -m tests.golden --write`"
    diff = differences(json.loads(golden.read_text(encoding="utf-8")), result_of(path))
    assert not diff, (
        f"{len(diff)} differences from the golden result (if the change is meant to move numbers, "
        "regenerate with `.venv/bin/python -m tests.golden --write`):\n" + "\n".join(diff[:30])
    )


def test_the_comparison_sees_a_change() -> None:
    assert differences({"a": [1.0, {"b": 2.0}]}, {"a": [1.0, {"b": 2.0 * (1 + 1e-6)}]})
    assert not differences({"a": [1.0, {"b": 2.0}]}, {"a": [1.0, {"b": 2.0 * (1 + 1e-12)}]})
    assert differences({"a": 1}, {"a": 1, "c": 2}) == [".c: new"]
