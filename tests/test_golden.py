"""Every example's result equals its committed golden result (tolerance in tests/golden).

A change meant to move numbers regenerates them: ``.venv/bin/python -m tests.golden --write``."""

from __future__ import annotations

import json

import pytest

from tests.golden import RESULTS, RTOL, differences, examples, result_of, tolerance


def test_every_example_has_a_golden_result() -> None:
    assert sorted(p.stem for p in RESULTS.glob("*.json")) == sorted(p.stem for p in examples())


@pytest.mark.parametrize("path", examples(), ids=lambda p: p.stem)
def test_example_matches_its_golden_result(path) -> None:
    golden = RESULTS / f"{path.stem}.json"
    assert golden.exists(), "no golden result: run `.venv/bin/python -m tests.golden --write`"
    diff = differences(json.loads(golden.read_text(encoding="utf-8")), result_of(path), rtol=tolerance())
    assert not diff, (
        f"{len(diff)} differences from the golden result (if the change is meant to move numbers, "
        "regenerate with `.venv/bin/python -m tests.golden --write`):\n" + "\n".join(diff[:30])
    )


def test_the_comparison_sees_a_change() -> None:
    assert differences({"a": [1.0, {"b": 2.0}]}, {"a": [1.0, {"b": 2.0 * (1 + 1e-6)}]})
    assert differences({"a": [1.0, {"b": 2.0}]}, {"a": [1.0, {"b": 2.0 * (1 + 1e-11)}]})
    assert not differences({"a": [1.0, {"b": 2.0}]}, {"a": [1.0, {"b": 2.0 * (1 + 1e-13)}]})
    assert not differences({"a": 2.0}, {"a": 2.0 * (1 + 1e-11)}, rtol=1e-9)
    assert differences({"a": 1}, {"a": 1, "c": 2}) == [".c: new"]


def test_the_tight_tolerance_holds_on_the_platform_that_wrote_the_results(tmp_path, monkeypatch) -> None:
    import tests.golden as golden

    record = tmp_path / "platform.json"
    monkeypatch.setattr(golden, "PLATFORM", record)
    record.write_text(json.dumps(golden.numeric_platform()), encoding="utf-8")
    assert golden.tolerance() == RTOL == 1e-12
    record.write_text(json.dumps({**golden.numeric_platform(), "numpy": "0.0"}), encoding="utf-8")
    assert golden.tolerance() == golden.RTOL_OTHER_PLATFORM
    record.unlink()
    assert golden.tolerance() == golden.RTOL_OTHER_PLATFORM
