"""Culture model: monotonicity, accuracy of the batch integrator, dimensions of every term."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import exoforge as xf
from exoforge.parameters import UsageLog
from exoforge.simulation import evaluate, parameters_for
from exoforge.units import Q_
from exoforge.upstream import kinetics as kin
from tests.conftest import ROOT

STR = ROOT / "examples" / "stirred_tank_tff_sec.yaml"
PLANAR = ROOT / "examples" / "planar_10layer_uc.yaml"


def _with(path, **changes):
    data = xf.scenario.read_mapping(path)
    for dotted, value in changes.items():
        node = data
        keys = dotted.split(".")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return xf.parse_scenario(data)


@pytest.mark.parametrize("path", [STR, PLANAR])
def test_more_seeded_cells_never_fewer_evs(path) -> None:
    results = []
    key = "expansion.seeding.cells_per_ml" if path == STR else "expansion.seeding.cells_per_cm2"
    for seed in (1e3, 5e3, 2e4, 1e5):
        scn = _with(path, **{key: seed})
        results.append(evaluate(scn, parameters_for(scn).params.nominal(1)).kpis["ev.secreted_particles"][0])
    assert all(b >= a for a, b in itertools.pairwise(results)), results


@pytest.mark.parametrize("path", [STR, PLANAR])
def test_longer_conditioning_gives_more_secreted_evs(path) -> None:
    out = []
    for days in (0.5, 1, 2, 3, 5):
        scn = _with(path, **{"conditioning.days": days})
        out.append(evaluate(scn, parameters_for(scn).params.nominal(1)).kpis["ev.secreted_particles"][0])
    assert all(b > a for a, b in itertools.pairwise(out)), out


def test_batch_equals_single_runs() -> None:
    scn = xf.load_scenario(STR)
    ps = parameters_for(scn).params
    batch = ps.sample(6, np.random.default_rng(3))
    together = evaluate(scn, batch).kpis["ev.final_particles"]
    alone = [evaluate(scn, batch.subset(slice(i, i + 1))).kpis["ev.final_particles"][0] for i in range(6)]
    np.testing.assert_allclose(together, alone, rtol=1e-12)


def _lsoda_agreement(scn, n: int = 4, days: float = 7.0) -> None:
    """RK4 at DT_MAX_DAYS against LSODA at rtol 1e-8, per member of a sampled batch, within 0.1 %."""
    from exoforge.engine.reference import column_args
    from exoforge.upstream.simulate import integrate_segment

    kp, phase, y0, geo = _sampled_segment_inputs(n, dilution=0.3, scn=scn, seed=7)
    phase = replace(
        phase,
        ev_factor=phase.ev_factor * 1.7,
        capacity_total=geo.capacity_cells * 1.5,
        capacity_added=geo.capacity_cells * 0.5,  # exercise bead-to-bead transfer as well
        t_added=0.0,
    )
    kp = replace(kp, k_transfer=np.ones(n) * 0.5)
    y_rk = integrate_segment(y0, 0.0, days, kp, phase)
    for j in range(n):
        sub_k, sub_ph = column_args((kp, phase), j, n)

        def f(t, y, sub_k=sub_k, sub_ph=sub_ph):
            return kin.rhs(t, y.reshape(-1, 1), (sub_k, sub_ph)).ravel()

        sol = solve_ivp(f, (0, days), y0[:, j], method="LSODA", rtol=1e-8, atol=1e-6)
        ref = sol.y[:, -1]
        # cells, EVs and cell-days within 0.1 %; concentrations within 0.1 % or 0.1 % of their feed level
        for i in (kin.VIABLE, kin.EV, kin.CELL_DAYS):
            assert y_rk[i, j] == pytest.approx(ref[i], rel=1e-3), (kin.STATE_NAMES[i], y_rk[i, j], ref[i])
        for i, tol in ((kin.GLUCOSE, 5.5e-3), (kin.LACTATE, 5.5e-3), (kin.GLUTAMINE, 2e-3), (kin.AMMONIA, 2e-3)):
            assert y_rk[i, j] == pytest.approx(ref[i], rel=1e-3, abs=tol), (kin.STATE_NAMES[i], y_rk[i, j], ref[i])


def test_integrator_matches_lsoda() -> None:
    """The batch RK4 agrees with LSODA at rtol 1e-8 to 0.1 % over a whole schedule."""
    _lsoda_agreement(xf.load_scenario(STR))


@pytest.mark.parametrize("name", ["platform_spheroid.yaml", "platform_hollow_fiber.yaml"])
def test_integrator_matches_lsoda_on_other_platforms(name) -> None:
    """Oxygen-limited aggregates and a fed hollow fibre stay within 0.1 % of LSODA as well."""
    _lsoda_agreement(xf.load_scenario(ROOT / "examples" / name), days=5.0)


def test_rhs_terms_are_dimensionally_consistent() -> None:
    """Every term of each balance has the unit of its state per day (checked with pint)."""
    X = Q_(1e6, "cell")
    V = Q_(1.0, "L")
    G = Q_(5.0, "mM")
    mu = Q_(0.5, "1/day")
    q_g = Q_(0.3, "pmol/cell/h")
    y_l = Q_(2.0, "mol/mol")
    q_ev = Q_(1e4, "particle/cell/day")
    k_loss = Q_(0.1, "1/day")
    E = Q_(1e12, "particle")
    D = Q_(0.5, "vvd")
    q_p = Q_(20, "pg/cell/day")
    P_in = Q_(1.0, "mg/mL")
    P = Q_(100, "ug")
    K_g = Q_(1.0, "mM")
    sat = G / (K_g + G)
    assert sat.dimensionless
    terms = {
        "cells": [mu * X, Q_(0.02, "1/day") * X],
        "glucose": [q_g * X * sat / V, D * G],
        "lactate": [y_l * q_g * X * sat / V, D * Q_(3.0, "mM")],
        "ev": [q_ev * X, k_loss * E, D * E],
        "protein": [q_p * X, D * P_in * V, D * P],
    }
    target = {"cells": "cell/day", "glucose": "mM/day", "lactate": "mM/day", "ev": "particle/day", "protein": "ug/day"}
    for balance, items in terms.items():
        for term in items:
            term.to(target[balance])  # raises DimensionalityError if inconsistent


def _sampled_segment_inputs(n: int, dilution: float, scn=None, seed: int = 11):
    """Kinetic parameters of n sampled members (of ``scn``, default the stirred-tank example), a phase
    with that dilution rate, the seeded state and the vessel geometry."""
    from exoforge.upstream.culture_inputs import kinetic_parameters
    from exoforge.upstream.platform_models import vessel_geometry

    if scn is None:
        scn = xf.load_scenario(ROOT / "examples" / "stirred_tank_tff_sec.yaml")
    p = UsageLog(parameters_for(scn).params.sample(n, np.random.default_rng(seed)))
    geo = vessel_geometry(scn.expansion, p)
    kp = kinetic_parameters(scn, geo, p)
    ones = np.ones(n)
    phase = kin.PhaseInputs(
        growth_factor=ones,
        death_factor=ones,
        ev_factor=ones,
        dilution=ones * dilution,
        product_dilution=ones * dilution,
        glucose_in=ones * 5.5,
        glutamine_in=ones * 2.0,
        protein_in=ones * 1e3,
        capacity_total=geo.capacity_cells,
        t_seed=0.0,
    )
    y0 = np.zeros((kin.N_STATES, n))
    y0[kin.VIABLE] = geo.seeded_cells * geo.attached_fraction
    y0[kin.GLUCOSE] = 5.5
    y0[kin.GLUTAMINE] = 2.0
    return kp, phase, y0, geo


def test_undiluted_shortcut_gives_the_numbers_of_the_general_right_hand_side() -> None:
    """Without feed or perfusion the right-hand side skips its dilution terms; the numbers are the
    general form's with a zero dilution, state by state (compared as values, so 0.0 == -0.0)."""
    kp, phase, y0, _ = _sampled_segment_inputs(64, dilution=0.0)
    assert phase.undiluted
    general = replace(phase)
    object.__setattr__(general, "undiluted", False)  # force the general form
    y = y0.copy()
    y[kin.EV] = 1e9
    y[kin.PROTEIN] = 50.0
    y[kin.LACTATE] = 3.0
    y[kin.AMMONIA] = 0.5
    for t in (0.1, 2.0, 5.0):
        fast, full = kin.rhs(t, y, (kp, phase)), kin.rhs(t, y, (kp, general))
        assert (fast == full).all()
    assert not replace(phase, dilution=np.full(64, 0.1)).undiluted
    assert not replace(phase, product_dilution=np.full(64, 0.1)).undiluted


@pytest.mark.parametrize("dilution", [0.0, 0.3])
def test_coarse_pass_in_blocks_gives_the_numbers_of_one_pass(monkeypatch: pytest.MonkeyPatch, dilution: float) -> None:
    """The coarse RK4 pass works through the members in cache-sized blocks; each member's result is
    bit for bit what one pass over the whole batch gives, fine-step members included."""
    from exoforge.upstream import simulate as sim

    kp, phase, y0, _ = _sampled_segment_inputs(300, dilution)
    whole = sim.integrate_segment(y0, 0.0, 4.0, kp, phase)
    monkeypatch.setattr(sim, "COARSE_BLOCK_COLUMNS", 64)
    blocked = sim.integrate_segment(y0, 0.0, 4.0, kp, phase)
    np.testing.assert_array_equal(blocked, whole)
