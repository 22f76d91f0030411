"""Monte Carlo: reproducible designs whatever the chunking, samplers, summaries and counted failures."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import exoforge as xf
from exoforge.analysis import backends as ab
from exoforge.analysis.uncertainty import make_design, monte_carlo, quantiles, rank_correlation
from tests.conftest import ROOT

STR = ROOT / "examples" / "stirred_tank_tff_sec.yaml"


@pytest.fixture(scope="module")
def scn():
    return xf.load_scenario(STR)


@pytest.mark.parametrize(("start", "stop"), [(0, 10), (1000, 1030), (1020, 2100), (0, 3000), (2047, 2049)])
def test_random_rows_do_not_depend_on_the_chunk(start: int, stop: int) -> None:
    full = ab.random_rows(7, 5, 0, 3000)
    np.testing.assert_array_equal(ab.random_rows(7, 5, start, stop), full[start:stop])


def test_chunks_either_side_of_the_small_array_path_agree(scn) -> None:
    """Chunks of 1,024 rows and one chunk of 5,000 give the same numbers, bit for bit."""
    a = monte_carlo(scn, n=5000, seed=8, chunk_rows=1024)
    b = monte_carlo(scn, n=5000, seed=8, chunk_rows=8192)
    for key in ("ev.final_particles", "cost.per_dose", "cells.harvested"):
        np.testing.assert_array_equal(a.kpis[key], b.kpis[key])


def test_random_blocks_come_from_spawned_seeds() -> None:
    child = np.random.SeedSequence(7).spawn(2)[1]
    expected = np.random.default_rng(child).random((ab.BLOCK_ROWS, 3))
    np.testing.assert_array_equal(ab.random_rows(7, 3, ab.BLOCK_ROWS, 2 * ab.BLOCK_ROWS), expected)


@pytest.mark.parametrize("sampler", ["random", "lhs", "sobol"])
def test_same_seed_same_kpis_whatever_the_chunking(scn, sampler: str) -> None:
    a = monte_carlo(scn, n=1100, seed=5, sampler=sampler, chunk_rows=1024)
    b = monte_carlo(scn, n=1100, seed=5, sampler=sampler, chunk_rows=4096)
    for key in a.kpis:
        np.testing.assert_array_equal(a.kpis[key], b.kpis[key])
    c = monte_carlo(scn, n=1100, seed=6, sampler=sampler, chunk_rows=4096)
    assert not np.array_equal(a.kpis["ev.final_particles"], c.kpis["ev.final_particles"])


@pytest.mark.parametrize("sampler", ["lhs", "sobol"])
def test_space_filling_designs_cover_every_stratum(sampler: str) -> None:
    u = make_design(["a", "b", "c"], 64, seed=2, sampler=sampler).rows()
    for j in range(3):
        counts = np.histogram(u[:, j], bins=8, range=(0, 1))[0]
        assert counts.min() == counts.max() == 8  # both designs put exactly n/8 points in each eighth


def test_unknown_sampler_is_refused() -> None:
    with pytest.raises(ValueError, match="sampler 'grid'"):
        make_design(["a"], 4, 1, "grid")


def test_summary_json_has_the_design_contract(scn) -> None:
    mc = monte_carlo(scn, n=400, seed=1)
    d = mc.to_json()
    assert d["n"] == 400 and d["seed"] == 1
    cost = d["kpis"]["cost.per_dose"]
    assert cost["p5"] <= cost["median"] <= cost["p95"]
    assert 0.0 <= d["p_meets_dose_target"] <= 1.0
    assert 0.0 <= d["p_meets_demand"] <= 1.0
    x = mc.kpis["cost.per_dose"]
    assert cost["median"] == pytest.approx(np.median(x))
    assert d["p_meets_demand"] == pytest.approx(np.mean(mc.kpis["lines_needed"] <= 1))
    # the uncertainty is real: the 90 % interval of the final particle count spans more than 2-fold
    ev = d["kpis"]["ev.final_particles"]
    assert ev["p95"] / ev["p5"] > 2
    assert set(d["sampled_parameters"]) >= {"growth_rate_max", "ev_secretion_rate"}


def test_without_demand_there_is_no_probability_of_meeting_it(scn) -> None:
    data = scn.to_dict()
    data.pop("demand", None)
    mc = monte_carlo(xf.parse_scenario(data), n=50, seed=1)
    assert mc.to_json()["p_meets_demand"] is None


def test_correlations_and_drivers(scn) -> None:
    mc = monte_carlo(scn, n=600, seed=2)
    _, m = mc.correlation_table(["cost.per_dose", "ev.final_particles", "cost.per_1e9_particles"])
    np.testing.assert_allclose(np.diag(m), 1.0)
    np.testing.assert_allclose(m, m.T)
    assert m[0, 1] < -0.5  # more particles, cheaper doses
    names = [name for name, _ in mc.drivers("ev.final_particles", top=5)]
    assert "ev_secretion_rate" in names


def test_failed_rows_are_nan_with_a_counted_reason(scn, monkeypatch) -> None:
    """A row the model raises on, and a row it returns NaN for, are counted; the others are unaffected."""
    clean = monte_carlo(scn, n=300, seed=3)
    real = ab.evaluate  # type: ignore[attr-defined]

    def flaky(s, batch, **kw):
        mu = batch.values["growth_rate_max"]
        if np.any(mu > 1.0):
            raise FloatingPointError("growth rate out of range")
        ev = real(s, batch, **kw)
        ev.kpis["cost.per_batch"] = np.where(mu < 0.4, np.nan, ev.kpis["cost.per_batch"])
        return ev

    monkeypatch.setattr(ab, "evaluate", flaky)
    mc = monte_carlo(scn, n=300, seed=3)
    mu = ab.batch_from_design(xf.parameters_for(scn).params, mc.design.rows(), mc.design.names).values[
        "growth_rate_max"
    ]
    raised, nan = mu > 1.0, mu < 0.4
    assert raised.any() and nan.any()
    np.testing.assert_array_equal(mc.outcomes.failed, raised | nan)
    counts = mc.to_json()["failed"]["reasons"]
    assert counts["FloatingPointError: growth rate out of range"] == raised.sum()
    assert counts["NaN cost.per_batch"] == nan.sum()
    assert np.isnan(mc.kpis["ev.final_particles"][raised]).all()
    ok = ~(raised | nan)
    np.testing.assert_array_equal(mc.kpis["ev.final_particles"][ok], clean.kpis["ev.final_particles"][ok])


def test_an_error_that_cannot_depend_on_the_row_stops_the_run_at_once(scn, monkeypatch) -> None:
    """An unknown platform is the same for every row: one evaluation, then the error, not one per row."""
    from exoforge.upstream.platforms import PlatformNotModelled

    calls: list[int] = []

    def unknown_platform(s, batch, **kw):
        calls.append(batch.n)
        raise PlatformNotModelled("expansion.platform: 'x' is not modelled by this version")

    monkeypatch.setattr(ab, "evaluate", unknown_platform)
    with pytest.raises(PlatformNotModelled, match="not modelled"):
        monte_carlo(scn, n=300, seed=3)
    assert len(calls) == 1


def test_quantiles_handle_infinities_and_nan() -> None:
    assert quantiles(np.array([1.0, 2.0, np.inf, np.inf, np.nan]), (0.5, 1.0)) == [np.inf, np.inf]
    assert quantiles(np.array([0.0, 10.0]), (0.25,)) == [2.5]
    assert np.isnan(quantiles(np.array([np.nan]), (0.5,))[0])


def test_rank_correlation_is_monotone_invariant() -> None:
    x = np.linspace(0.1, 5, 50)
    assert rank_correlation(x, np.exp(x)) == pytest.approx(1.0)
    assert rank_correlation(x, -(x**3)) == pytest.approx(-1.0)


@pytest.mark.parametrize(
    ("n", "chunk_rows", "workers"),
    [
        (100_000, 65_536, 1),
        (100_000, 65_536, 2),
        (100_000, 16_384, 2),
        (5_000, 65_536, 2),
        (1, 1024, 2),
        (3_000, 1_000, 3),
    ],
)
def test_chunks_cover_every_row_once_in_even_tasks(n: int, chunk_rows: int, workers: int) -> None:
    bounds = ab.chunk_bounds(n, chunk_rows, workers)
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a == prev_b for (_, prev_b), (a, _) in itertools.pairwise(bounds))
    sizes = [b - a for a, b in bounds]
    limit = max(ab.BLOCK_ROWS, -(-chunk_rows // ab.BLOCK_ROWS) * ab.BLOCK_ROWS)
    assert max(sizes) <= limit
    assert all(a % ab.BLOCK_ROWS == 0 for a, _ in bounds)  # tasks start on whole random blocks
    blocks = -(-n // ab.BLOCK_ROWS)
    if blocks >= workers:
        assert len(bounds) % workers == 0  # every worker gets as many tasks
        assert max(sizes) - min(sizes) <= 2 * ab.BLOCK_ROWS  # of nearly equal size


def test_command_line_chunk_default_is_the_library_default() -> None:
    import inspect

    from exoforge.commands.analysis import mc

    assert inspect.signature(mc).parameters["chunk_rows"].default == ab.DEFAULT_CHUNK_ROWS


def test_samples_whose_batch_releases_no_dose_are_kept_as_outcomes() -> None:
    """A draw that makes too little for one dose is a result (0 doses, demand missed), not a failed row."""
    scn = xf.load_scenario(ROOT / "examples" / "planar_10layer_uc.yaml")  # 5 doses at the central values
    mc = monte_carlo(scn, n=300, seed=2)
    none = mc.kpis["doses_released_per_batch"] == 0
    assert none.any() and not mc.outcomes.failed.any()
    assert np.all(mc.kpis["doses_released_per_year"][none] == 0)
    assert np.all(np.isnan(mc.kpis["line_utilisation"][none]))
    # the probability of meeting the demand counts them as misses, over every sample
    assert mc.p_meets_demand == pytest.approx(np.mean(mc.kpis["lines_needed"] <= 1))
    assert mc.p_meets_demand <= 1 - none.mean()
    assert mc.summary()["doses_per_batch"]["p5"] == 0
