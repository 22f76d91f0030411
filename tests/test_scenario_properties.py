"""Whole scenarios drawn at random: every platform, schedule and isolation train either is refused
with a contract message or runs end to end with the JSON contract's invariants."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import exoforge as xf
from exoforge.scenario import ScenarioError, parse_scenario, read_mapping
from tests.conftest import ROOT
from tests.test_contract import CONTRACT_KEYS, get
from tests.test_downstream import OP_STRATEGIES

PLATFORM_EXAMPLES = sorted((ROOT / "examples").glob("platform_*.yaml"))
ISOLATION_OPS = [op for op in OP_STRATEGIES if op not in ("hold", "storage")]


def _seeding(seeding: dict[str, float], factor: float) -> dict[str, float]:
    return {key: value * factor for key, value in seeding.items()}


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """A scenario mapping: a platform example with its schedule, seeding, train and demand redrawn."""
    data = read_mapping(draw(st.sampled_from(PLATFORM_EXAMPLES)))
    data["expansion"]["seeding"] = _seeding(data["expansion"]["seeding"], draw(st.floats(0.2, 5.0)))
    data["expansion"]["days"] = draw(st.integers(3, 12))
    data["conditioning"] = {
        "medium": draw(st.sampled_from(["serum_free", "same"])),
        "days": draw(st.integers(1, 3)),
        "collections": draw(st.integers(1, 4)),
    }
    ops = draw(st.lists(st.sampled_from(ISOLATION_OPS), min_size=1, max_size=4))
    data["isolation"] = [draw(OP_STRATEGIES[op]).model_dump(exclude_none=True) for op in ops]
    data["demand"] = {"doses_per_year": draw(st.integers(1, 5000))}
    return data


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=scenarios())
def test_random_scenarios_are_refused_cleanly_or_keep_the_contract(data: dict[str, Any]) -> None:
    try:
        scn = parse_scenario(data)
    except ScenarioError as exc:  # a refusal names the key path of every problem
        assert exc.problems and all(":" in line for line in exc.problems)
        return
    out = xf.simulate(scn).to_json()
    # a batch that yields no whole dose cannot meet any demand: batches per year is then null
    # (infinite), said in the warnings; every other contract value is always there
    no_dose = out["doses_per_batch"] == 0
    for key in CONTRACT_KEYS:
        if no_dose and key == "batches_per_year":
            assert get(out, key) is None
            assert any("no number of batches meets the demand" in w for w in out["warnings"])
            continue
        assert get(out, key) is not None, key
    ev, cost = out["ev"], out["cost"]
    for key in ("secreted_particles", "harvested_particles", "final_particles", "final_volume_ml"):
        assert math.isfinite(ev[key]) and ev[key] >= 0, key
    # no step creates particles: final <= harvested <= secreted
    assert ev["final_particles"] <= ev["harvested_particles"] * (1 + 1e-9)
    assert ev["harvested_particles"] <= ev["secreted_particles"] * (1 + 1e-9)
    assert 0.0 <= ev["recovery_fraction"] <= 1.0
    assert cost["per_batch"] > 0 and math.isfinite(cost["per_batch"])
    assert sum(cost["breakdown"].values()) == pytest.approx(cost["per_batch"], rel=1e-9)
    assert out["doses_per_batch"] >= 0 and out["batch_days"] > 0
    assert out["cells"]["harvested"] >= 0 and math.isfinite(out["cells"]["fold_expansion"])
