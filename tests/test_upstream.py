"""Culture model: monotonicity, accuracy of the batch integrator, dimensions of every term."""

from __future__ import annotations

import itertools

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


def test_integrator_matches_lsoda() -> None:
    """The batch RK4 agrees with LSODA at rtol 1e-8 to 0.1 % over a whole schedule."""
    from exoforge.engine.integrate import rk4_segment
    from exoforge.upstream.simulate import DT_MAX_DAYS

    scn = xf.load_scenario(STR)
    ps = parameters_for(scn).params
    batch = ps.sample(4, np.random.default_rng(7))
    p = UsageLog(batch)
    from exoforge.upstream.platforms import vessel_geometry

    geo = vessel_geometry(scn.expansion, p)
    kp = kin.KineticParameters(
        mu_max=p.get("growth_rate_max", "1/day"),
        t_lag=p.get("lag_time", "day"),
        x_max=p.get("max_areal_density_microcarrier", "cell/cm**2") * geo.area_cm2,
        k_death=p.get("death_rate", "1/day"),
        k_glucose=p.get("glucose_monod_constant", "mM"),
        k_lactate=p.get("lactate_inhibition_constant", "mM"),
        q_glucose=p.get("glucose_uptake_rate", "mmol/cell/day"),
        y_lactate=p.get("lactate_yield_on_glucose", ""),
        q_ev=p.get("ev_secretion_rate", "particle/cell/day"),
        k_ev_loss=p.get("ev_loss_rate", "1/day"),
        q_protein=p.get("protein_secretion_rate", "ug/cell/day"),
        volume=geo.volume_l,
    )
    ones = np.ones(4)
    phase = kin.PhaseInputs(ones, ones * 1.7, ones * 0.3, ones * 5.5, ones * 1e3, 0.0)
    y0 = np.zeros((kin.N_STATES, 4))
    y0[kin.VIABLE] = geo.seeded_cells * geo.attached_fraction
    y0[kin.GLUCOSE] = 5.5
    y_rk = rk4_segment(kin.rhs, y0, 0.0, 7.0, DT_MAX_DAYS, (kp, phase))
    for j in range(4):
        sub_k = kin.KineticParameters(**{f: getattr(kp, f)[j : j + 1] for f in kp.__dataclass_fields__})
        sub_ph = kin.PhaseInputs(ones[:1], ones[:1] * 1.7, ones[:1] * 0.3, ones[:1] * 5.5, ones[:1] * 1e3, 0.0)

        def f(t, y, sub_k=sub_k, sub_ph=sub_ph):
            return kin.rhs(t, y.reshape(-1, 1), (sub_k, sub_ph)).ravel()

        sol = solve_ivp(f, (0, 7), y0[:, j], method="LSODA", rtol=1e-8, atol=1e-6)
        ref = sol.y[:, -1]
        for i in (kin.VIABLE, kin.GLUCOSE, kin.EV, kin.EV_SECRETED):
            assert y_rk[i, j] == pytest.approx(ref[i], rel=1e-3), (i, y_rk[i, j], ref[i])


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
