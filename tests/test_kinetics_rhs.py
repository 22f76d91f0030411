"""The culture right-hand side, called for real.

* Dimensional homogeneity: every input of :func:`exoforge.upstream.kinetics.rhs` is
  re-expressed in another unit system (hours, cm, µmol, mg, kilocells, megaparticles)
  through the module's own unit annotations (``STATE_UNITS``, ``PARAMETER_UNITS``,
  ``PHASE_UNITS``); the derivatives, converted back, must be the same. A term with a
  missing volume or a wrong exponent gives a different number in the other system.
* Balances: signs and stoichiometry of every row in a closed batch, a fed culture
  without cells and lactate-controlled perfusion, from the equations in the module
  docstring.
* Mutations: the module's source with a sign flipped (or a volume dropped) must fail
  at least one of these checks, so the checks are shown to be able to fail.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from exoforge.units import Q_
from exoforge.upstream import kinetics

#: the other unit system, by base dimension
OTHER_UNITS = {
    "[time]": "hour",
    "[length]": "cm",
    "[substance]": "umol",
    "[mass]": "mg",
    "[cell]": "kilocell",
    "[particle]": "megaparticle",
}

N = 4  # members of the batch: different values per member


def _other_unit(unit: str) -> str:
    """``unit`` written in :data:`OTHER_UNITS` (same dimension, other scale)."""
    dims = dict(Q_(1.0, unit).to_base_units().dimensionality)
    parts = [f"{OTHER_UNITS[d]}**{e!r}" for d, e in dims.items() if e]
    return " * ".join(parts) if parts else ""


def _convert(values: np.ndarray | float, unit: str, to: str) -> np.ndarray:
    return np.asarray(Q_(np.asarray(values, dtype=float), unit).to(to).magnitude)


def _parameters(kin: ModuleType, aggregates: bool = False) -> kinetics.KineticParameters:
    """MSC-like constants (magnitudes from the shipped parameter files' ranges), varied per member."""
    spread = np.linspace(0.7, 1.4, N)
    base = {
        "mu_max": 0.7,
        "t_lag": 1.0,
        "theta": 1.5,
        "k_death": 0.03,
        "k_glucose": 1.0,
        "k_lactate": 35.0,
        "k_ammonia": 2.4,
        "q_glucose": 9e-9,
        "y_lactate": 1.8,
        "q_glutamine": 3e-9,
        "k_glutamine": 0.1,
        "y_ammonia": 0.7,
        "k_glutamine_decay": 0.06,
        "q_oxygen": 2.3e-9,
        "k_oxygen": 0.005,
        "oxygen_saturation": 0.19,
        "kla": 40.0,
        "oxygen_minimum": 0.02,
        "aggregate_capacity": 4e9 if aggregates else 0.0,
        "q_ev": 3e3,
        "k_ev_loss": 0.1,
        "q_protein": 2e-5,
        "k_transfer": 0.5,
        "volume": 2.0,
        "product_volume": 2.0,
    }
    arrays = {name: value * spread for name, value in base.items()}
    return kin.KineticParameters(**arrays, aggregates=aggregates)


def _phase(kin: ModuleType, kind: str) -> kinetics.PhaseInputs:
    ones = np.ones(N)
    common = {
        "growth_factor": ones * 1.1,
        "death_factor": ones * 0.9,
        "ev_factor": np.linspace(1.0, 3.0, N),
        "glucose_in": ones * 5.5,
        "glutamine_in": ones * 2.0,
        "protein_in": ones * 4e3,
        "capacity_total": ones * 6e8,
        "t_seed": 0.5,
    }
    zero = np.zeros(N)
    if kind == "batch":
        return kin.PhaseInputs(dilution=zero, product_dilution=zero, **common)
    if kind == "fed":
        return kin.PhaseInputs(
            dilution=ones * 0.3,
            product_dilution=ones * np.array([0.3, 0.0, 0.3, 0.0]),
            capacity_added=ones * 2e8,
            t_added=1.0,
            **common,
        )
    if kind == "controlled":
        return kin.PhaseInputs(
            dilution=ones * 0.05,
            product_dilution=ones * 0.05,
            lactate_setpoint=ones * 12.0,
            dilution_max=ones * 2.0,
            product_share=1.0,
            **common,
        )
    raise AssertionError(kind)


def _state(cells: float = 2e8) -> np.ndarray:
    y = np.empty((kinetics.N_STATES, N))
    rows = {
        kinetics.VIABLE: cells,
        kinetics.GLUCOSE: 4.0,
        kinetics.LACTATE: 6.0,
        kinetics.GLUTAMINE: 1.2,
        kinetics.AMMONIA: 0.8,
        kinetics.EV: 3e12,
        kinetics.PROTEIN: 5e3,
        kinetics.CELL_DAYS: 5e8,
        kinetics.EV_OUTFLOW: 1e11,
        kinetics.PROTEIN_OUTFLOW: 20.0,
        kinetics.FED: 0.4,
    }
    for row, value in rows.items():
        y[row] = value * np.linspace(0.5, 1.5, N)
    return y


def _in_other_units(kin: ModuleType, k: kinetics.KineticParameters, ph: kinetics.PhaseInputs, t: float, y: np.ndarray):
    """The same call with every number expressed in :data:`OTHER_UNITS`."""
    k_other = {name: _convert(getattr(k, name), unit, _other_unit(unit)) for name, unit in kin.PARAMETER_UNITS.items()}
    ph_other: dict[str, Any] = {}
    for f in dataclasses.fields(ph):
        if not f.init:
            continue
        value = getattr(ph, f.name)
        unit = kin.PHASE_UNITS[f.name]
        ph_other[f.name] = value if value is None else _convert(value, unit, _other_unit(unit))
        if f.name in ("t_seed", "t_added", "product_share"):
            ph_other[f.name] = float(ph_other[f.name])
    y_other = np.stack([_convert(y[i], u, _other_unit(u)) for i, u in enumerate(kin.STATE_UNITS)])
    t_other = float(_convert(t, kin.TIME_UNIT, _other_unit(kin.TIME_UNIT)))
    return (
        t_other,
        y_other,
        kin.KineticParameters(**k_other, aggregates=k.aggregates),
        kin.PhaseInputs(**ph_other),
    )


def check_homogeneous(kin: ModuleType, kind: str, aggregates: bool) -> None:
    """Derivatives computed in the other unit system, converted back, equal the internal ones."""
    k, ph, y, t = _parameters(kin, aggregates), _phase(kin, kind), _state(), 2.0
    dy = kin.rhs(t, y, (k, ph))
    t2, y2, k2, ph2 = _in_other_units(kin, k, ph, t, y)
    dy2 = kin.rhs(t2, y2, (k2, ph2))
    time_other = _other_unit(kin.TIME_UNIT)
    for row, unit in enumerate(kin.STATE_UNITS):
        back = _convert(
            dy2[row], f"({_other_unit(unit) or 'dimensionless'}) / {time_other}", f"({unit or 'dimensionless'}) / day"
        )
        np.testing.assert_allclose(back, dy[row], rtol=1e-9, atol=0.0, err_msg=kinetics.STATE_NAMES[row])


def check_closed_batch(kin: ModuleType) -> None:
    """No feed: glucose and glutamine only fall, lactate and ammonia follow by their yields."""
    k, ph, y = _parameters(kin), _phase(kin, "batch"), _state()
    dy = kin.rhs(2.0, y, (k, ph))
    g, q = y[kinetics.GLUCOSE], y[kinetics.GLUTAMINE]
    x = y[kinetics.VIABLE]
    glucose_uptake = k.q_glucose * x * g / (k.k_glucose + g) / k.volume  # mM/day
    assert np.all(dy[kinetics.GLUCOSE] < 0)
    np.testing.assert_allclose(dy[kinetics.GLUCOSE], -glucose_uptake, rtol=1e-12)
    np.testing.assert_allclose(dy[kinetics.LACTATE], k.y_lactate * glucose_uptake, rtol=1e-12)
    decay = k.k_glutamine_decay * q
    uptake = -dy[kinetics.GLUTAMINE] - decay
    assert np.all(uptake > 0)
    np.testing.assert_allclose(dy[kinetics.AMMONIA], k.y_ammonia * uptake + decay, rtol=1e-12)
    np.testing.assert_allclose(dy[kinetics.EV], k.q_ev * ph.ev_factor * x - k.k_ev_loss * y[kinetics.EV], rtol=1e-12)
    np.testing.assert_allclose(dy[kinetics.PROTEIN], k.q_protein * x, rtol=1e-12)
    np.testing.assert_allclose(dy[kinetics.CELL_DAYS], x, rtol=1e-12)
    for row in (kinetics.EV_OUTFLOW, kinetics.PROTEIN_OUTFLOW, kinetics.FED):
        assert np.all(dy[row] == 0.0)
    # growth is bounded by the maximum rate and cannot exceed it
    assert np.all(dy[kinetics.VIABLE] < (k.mu_max * ph.growth_factor - k.k_death * ph.death_factor) * x)


def check_growth_stops_at_capacity(kin: ModuleType) -> None:
    """At a full surface, or without glucose, cells only die: dX/dt = -k_d f_death X."""
    k, ph = _parameters(kin), _phase(kin, "batch")
    full = _state()
    full[kinetics.VIABLE] = ph.capacity_total
    starved = _state()
    starved[kinetics.GLUCOSE] = 0.0
    for y in (full, starved):
        dy = kin.rhs(2.0, y, (k, ph))
        np.testing.assert_allclose(dy[kinetics.VIABLE], -k.k_death * ph.death_factor * y[kinetics.VIABLE], rtol=1e-12)


def check_fed_without_cells(kin: ModuleType) -> None:
    """No cells: the feed pulls every concentration towards its inlet value, the outflow carries product."""
    k, ph = _parameters(kin), _phase(kin, "fed")
    y = _state(cells=0.0)
    dy = kin.rhs(2.0, y, (k, ph))
    d, dp = ph.dilution, ph.product_dilution
    np.testing.assert_allclose(dy[kinetics.GLUCOSE], d * (ph.glucose_in - y[kinetics.GLUCOSE]), rtol=1e-12)
    np.testing.assert_allclose(dy[kinetics.LACTATE], -d * y[kinetics.LACTATE], rtol=1e-12)
    np.testing.assert_allclose(
        dy[kinetics.GLUTAMINE],
        d * (ph.glutamine_in - y[kinetics.GLUTAMINE]) - k.k_glutamine_decay * y[kinetics.GLUTAMINE],
        rtol=1e-12,
    )
    np.testing.assert_allclose(dy[kinetics.EV_OUTFLOW], dp * y[kinetics.EV], rtol=1e-12)
    np.testing.assert_allclose(dy[kinetics.EV], -(k.k_ev_loss + dp) * y[kinetics.EV], rtol=1e-12)
    np.testing.assert_allclose(
        dy[kinetics.PROTEIN], dp * (ph.protein_in * k.product_volume - y[kinetics.PROTEIN]), rtol=1e-12
    )
    np.testing.assert_allclose(dy[kinetics.FED], d, rtol=1e-12)


def check_lactate_control(kin: ModuleType) -> None:
    """Controlled perfusion: the dilution carries the lactate made now out at the set-point, within bounds."""
    k, ph = _parameters(kin), _phase(kin, "controlled")
    y = _state()
    dy = kin.rhs(2.0, y, (k, ph))
    g, x = y[kinetics.GLUCOSE], y[kinetics.VIABLE]
    made = k.y_lactate * k.q_glucose * x * g / (k.k_glucose + g) / k.volume
    d = np.clip(made / ph.lactate_setpoint, ph.dilution, ph.dilution_max)
    np.testing.assert_allclose(dy[kinetics.FED], d, rtol=1e-12)
    np.testing.assert_allclose(dy[kinetics.LACTATE], made - d * y[kinetics.LACTATE], rtol=1e-12)
    uptake = made / k.y_lactate
    np.testing.assert_allclose(dy[kinetics.GLUCOSE], d * (ph.glucose_in - g) - uptake, rtol=1e-12)


def check_fed_with_cells(kin: ModuleType) -> None:
    """A fed culture: the same uptake as in a batch, plus the feed's exchange of every concentration."""
    k, ph, y = _parameters(kin), _phase(kin, "fed"), _state()
    fed = kin.rhs(2.0, y, (k, ph))
    batch = kin.rhs(2.0, y, (k, _phase(kin, "batch")))
    d = ph.dilution
    exchange = {
        kinetics.GLUCOSE: d * (ph.glucose_in - y[kinetics.GLUCOSE]),
        kinetics.LACTATE: -d * y[kinetics.LACTATE],
        kinetics.GLUTAMINE: d * (ph.glutamine_in - y[kinetics.GLUTAMINE]),
        kinetics.AMMONIA: -d * y[kinetics.AMMONIA],
    }
    for row, term in exchange.items():
        np.testing.assert_allclose(fed[row], batch[row] + term, rtol=1e-12, err_msg=kinetics.STATE_NAMES[row])


CHECKS: dict[str, Callable[[ModuleType], None]] = {
    "homogeneous batch": lambda kin: check_homogeneous(kin, "batch", False),
    "homogeneous fed": lambda kin: check_homogeneous(kin, "fed", False),
    "homogeneous controlled": lambda kin: check_homogeneous(kin, "controlled", False),
    "homogeneous aggregates": lambda kin: check_homogeneous(kin, "batch", True),
    "closed batch": check_closed_batch,
    "capacity": check_growth_stops_at_capacity,
    "fed without cells": check_fed_without_cells,
    "lactate control": check_lactate_control,
    "fed with cells": check_fed_with_cells,
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_the_shipped_right_hand_side(name: str) -> None:
    CHECKS[name](kinetics)


def test_every_array_has_a_unit() -> None:
    """A new constant or phase input without a unit annotation fails here, not silently."""
    k_arrays = {f.name for f in dataclasses.fields(kinetics.KineticParameters) if f.init and f.name != "aggregates"}
    assert k_arrays == set(kinetics.PARAMETER_UNITS)
    assert {f.name for f in dataclasses.fields(kinetics.PhaseInputs) if f.init} == set(kinetics.PHASE_UNITS)
    assert len(kinetics.STATE_UNITS) == kinetics.N_STATES
    for unit in (*kinetics.PARAMETER_UNITS.values(), *kinetics.PHASE_UNITS.values(), *kinetics.STATE_UNITS):
        Q_(1.0, unit)  # parses


#: (what is changed, the source text, its replacement)
MUTATIONS = [
    ("glucose uptake sign, batch", "np.negative(glc, out=dy[GLUCOSE])", "np.positive(glc, out=dy[GLUCOSE])"),
    ("glucose uptake sign, fed", "dy[GLUCOSE] -= glc", "dy[GLUCOSE] += glc"),
    (
        "glucose feed sign",
        "np.subtract(ph.glucose_in, g, out=dy[GLUCOSE])",
        "np.subtract(g, ph.glucose_in, out=dy[GLUCOSE])",
    ),
    ("EV loss sign", "dy[EV] -= k.k_ev_loss * y[EV]", "dy[EV] += k.k_ev_loss * y[EV]"),
    ("glucose uptake without the volume", "glc *= k.glucose_per_volume", "glc *= k.q_glucose"),
    (
        "oxygen uptake without the volume",
        '"oxygen_per_volume": self.q_oxygen / self.volume',
        '"oxygen_per_volume": self.q_oxygen',
    ),
    (
        "lactate yield dropped",
        "np.multiply(k.y_lactate, glc, out=dy[LACTATE])",
        "np.multiply(1.0, glc, out=dy[LACTATE])",
    ),
    ("death sign", "mu -= k.k_death * ph.death_factor", "mu += k.k_death * ph.death_factor"),
]


@contextmanager
def _mutant(old: str, new: str) -> Iterator[ModuleType]:
    source = Path(kinetics.__file__).read_text(encoding="utf-8")
    assert source.count(old) == 1, f"the mutation's source text is no longer in kinetics.py: {old!r}"
    name = "exoforge_kinetics_mutant"
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    try:
        exec(compile(source.replace(old, new), f"<mutant of {kinetics.__file__}>", "exec"), module.__dict__)
        yield module
    finally:
        del sys.modules[name]


@pytest.mark.parametrize(("what", "old", "new"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_a_mutation_of_the_kinetics_fails_a_check(what: str, old: str, new: str) -> None:
    with _mutant(old, new) as mutant:
        caught = []
        for name, check in CHECKS.items():
            try:
                check(mutant)
            except AssertionError:
                caught.append(name)
    assert caught, f"no check fails when the kinetics has its {what} changed"


def test_an_unchanged_copy_passes_every_check() -> None:
    """The mutant loader itself changes nothing: a copy of the source passes."""
    with _mutant("def rhs(", "def rhs(") as copy:
        for check in CHECKS.values():
            check(copy)
