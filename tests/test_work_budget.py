"""The work budget: a run or an analysis that would be too large stops before integrating, with a clear line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import exoforge as xf
from exoforge.cli import app
from exoforge.upstream.budget import WORK_LIMIT_ENV, WorkTooLarge, check, estimate

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "stirred_tank_tff_sec.yaml"


def test_estimate_counts_the_schedule() -> None:
    scn = xf.load_scenario(EXAMPLE)
    est = estimate(scn, 10)
    # 7 days of expansion (exchanges on days 2, 4, 6) and 2 x 2 days of conditioning, 0.05-day steps
    assert est.segments == 6 and est.steps == 220
    assert est.member_steps == 10 * est.steps
    assert est.worst_steps > est.steps


def test_a_huge_monte_carlo_is_refused_at_once() -> None:
    start = time.monotonic()
    result = CliRunner().invoke(app, ["mc", str(EXAMPLE), "-n", "200000000"])
    assert result.exit_code == 2
    assert time.monotonic() - start < 30
    assert "200,000,000 parameter sets" in result.output and WORK_LIMIT_ENV in result.output


def test_the_limit_can_be_set_on_purpose(monkeypatch: pytest.MonkeyPatch) -> None:
    scn = xf.load_scenario(EXAMPLE)
    monkeypatch.setenv(WORK_LIMIT_ENV, "1000")
    with pytest.raises(WorkTooLarge, match="over the limit of 1e"):
        check(scn, 100, "this run")
    monkeypatch.setenv(WORK_LIMIT_ENV, "1e12")
    assert check(scn, 100, "this run").members == 100
    monkeypatch.setenv(WORK_LIMIT_ENV, "-5")
    with pytest.raises(WorkTooLarge, match="positive"):
        check(scn, 1, "this run")


def test_memory_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    scn = xf.load_scenario(EXAMPLE)
    monkeypatch.setenv("EXOFORGE_MEMORY_LIMIT_GB", "0.001")
    with pytest.raises(WorkTooLarge, match="GB"):
        check(scn, 1_000_000, "this Monte Carlo", chunk_members=65536, kept_rows=1_000_000)
