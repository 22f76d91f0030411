"""The JSON contract of `exoforge run --json`, for every example, with sourced plausibility ranges."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

CONTRACT_KEYS = [
    "schema_version",
    "cells.seeded",
    "cells.harvested",
    "cells.fold_expansion",
    "ev.particles_per_cell_per_day",
    "ev.secreted_particles",
    "ev.harvested_particles",
    "ev.final_particles",
    "ev.recovery_fraction",
    "ev.particles_per_ug_protein",
    "ev.final_volume_ml",
    "doses_per_batch",
    "batches_per_year",
    "batch_days",
    "cost.per_batch",
    "cost.per_dose",
    "cost.per_1e9_particles",
    "cost.currency",
    "cost.breakdown",
    "checks",
    "warnings",
    "citations",
]


def get(d: dict, path: str):
    for k in path.split("."):
        d = d[k]
    return d


@pytest.mark.parametrize("name", [p.name for p in EXAMPLES])
def test_every_contract_key(name: str, example_results: dict) -> None:
    d = example_results[name]
    for key in CONTRACT_KEYS:
        assert get(d, key) is not None, key
    assert d["schema_version"] == 1
    assert isinstance(d["cells"], dict) and isinstance(d["cost"]["breakdown"], dict)
    for check in d["checks"]:
        assert set(check) >= {"name", "value", "limit", "ok"}
    for c in d["citations"]:
        assert c.get("doi") or c.get("pmid") or c.get("ref")


@pytest.mark.parametrize("name", [p.name for p in EXAMPLES])
def test_values_in_plausible_ranges(name: str, example_results: dict) -> None:
    d = example_results[name]
    cells, ev = d["cells"], d["ev"]
    # fold expansion over a 5-10 day expansion: above 1 and below the ~150-2,000-fold of a
    # 14-day ultra-low-density passage (Colter et al. 2000, doi:10.1073/pnas.070034097, Table 2)
    assert 1.0 < cells["fold_expansion"] < 150
    # specific EV productivity: 1e2-1e6 particles/cell/day spans planar MSC cultures to the
    # 24-fold per-cell gain of stirred microcarrier culture (Barekzai et al. 2023,
    # doi:10.3934/bioeng.2023016, Abstract) over planar figures
    assert 1e2 <= ev["particles_per_cell_per_day"] <= 1e6
    # mass balance of the whole chain
    assert ev["final_particles"] <= ev["harvested_particles"] <= ev["secreted_particles"]
    assert 0 < ev["recovery_fraction"] <= 1
    # purity cannot exceed the particle:protein ratio of protein-free vesicles
    # (high-purity threshold 3e10 p/ug, Webber & Clayton 2013, doi:10.3402/jev.v2i0.19861)
    assert ev["particles_per_ug_protein"] <= 3.0e10 * 1.0001
    c = d["cost"]
    assert c["per_batch"] > 0 and c["currency"] == "USD"
    assert sum(c["breakdown"].values()) == pytest.approx(c["per_batch"], rel=1e-9)


def test_run_json_from_the_shell(root: Path) -> None:
    """One example end to end through the installed entry point."""
    out = subprocess.run(
        [sys.executable, "-m", "exoforge.cli", "run", str(root / "examples" / "stirred_tank_tff_sec.yaml"), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    d = json.loads(out.stdout)
    for key in CONTRACT_KEYS:
        get(d, key)
