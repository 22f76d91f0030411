"""Every unit operation has an example train in examples/isolation_*.yaml, and each runs."""

from __future__ import annotations

import pytest

import exoforge as xf
from exoforge.downstream.operations import OPERATIONS
from tests.conftest import ROOT

ISOLATION_EXAMPLES = sorted((ROOT / "examples").glob("isolation_*.yaml"))


def test_every_operation_has_an_example_train() -> None:
    used = {op.op for path in ISOLATION_EXAMPLES for op in xf.load_scenario(path).isolation}
    assert set(OPERATIONS) <= used, sorted(set(OPERATIONS) - used)


@pytest.mark.parametrize("path", ISOLATION_EXAMPLES, ids=lambda p: p.stem)
def test_isolation_example_runs_with_steps_and_costs(path, example_results) -> None:
    d = example_results[path.name]
    assert len(d["isolation_steps"]) == len(xf.load_scenario(path).isolation)
    assert 0 < d["ev"]["recovery_fraction"] <= 1
    steps = {s["step"] for s in d["ledger"]}
    for s in d["isolation_steps"]:
        assert s["name"] in steps  # every step shows up in the ledger
