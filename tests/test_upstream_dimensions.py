"""Dimensions of the engineering correlations (pint), called through the code.

The culture balances are checked by calling the right-hand side itself in two unit
systems (``tests/test_kinetics_rhs.py``). Here the correlations are called with pint
quantities and must return the quantity they claim; the remaining hand-written terms
document the derivations behind the reference scalings and the oxygen supply.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from exoforge.units import Q_

# representative values with units (magnitudes are irrelevant to the check)
X = Q_(1e8, "cell")
V = Q_(1.0, "L")
Vp = Q_(0.2, "L")
G = Q_(5.0, "mM")
L = Q_(3.0, "mM")
GLN = Q_(2.0, "mM")
A = Q_(0.5, "mM")
C = Q_(0.15, "mM")
C_STAR = Q_(0.188, "mM")
E = Q_(1e12, "particle")
P = Q_(100, "ug")
D = Q_(0.5, "1/day")


def _assert_dimension(q, unit: str) -> None:
    """``q`` has the dimension of ``unit``, exponents compared to 1e-9 (fractional powers)."""
    got = dict(q.to_base_units().dimensionality)
    want = dict(Q_(1.0, unit).to_base_units().dimensionality)
    for dim in set(got) | set(want):
        assert abs(got.get(dim, 0.0) - want.get(dim, 0.0)) < 1e-9, (dim, got, want)


def test_reference_scaling_and_capacity_terms() -> None:
    """The reference scalings are dimensionless; bead-to-bead capacity and aggregate capacity are cells."""
    k_g, g_ref = Q_(1.0, "mM"), Q_(5.5, "mM")
    assert ((k_g + g_ref) / g_ref).dimensionless
    k_transfer = Q_(0.5, "1/day")
    added = Q_(2e8, "cell")
    assert (k_transfer * Q_(2.0, "day")).dimensionless
    (Q_(6e8, "cell") - added * math.e**-1.0).to("cell")
    d_o2 = Q_(3e-9, "m**2/s")
    v_cell = Q_(2200, "um**3/cell")  # aggregate volume per cell
    q_agg = Q_(30, "fmol/cell/h")
    q_vol = q_agg / v_cell  # uptake per aggregate volume
    r_c = (6 * d_o2 * (C - Q_(0.019, "mM")) / q_vol) ** 0.5
    r_c.to("um")
    (4 / 3 * math.pi * r_c**3 / v_cell).to("cell")  # cells an oxygen-limited aggregate holds


def test_oxygen_supply_correlations() -> None:
    """Surface aeration kL / H, sparged kLa, layer diffusion D / h², bed flow and membrane transfer."""
    k_l = Q_(2.4e-5, "m/s")
    height = Q_(0.15, "m")
    (k_l / height).to("1/day")
    d_o2 = Q_(3e-9, "m**2/s")
    depth = Q_(2, "mm")
    (d_o2 / depth**2).to("1/day")
    velocity = Q_(1.0, "cm/s")
    cross = Q_(20, "cm**2")
    flow = velocity * cross
    flow.to("L/day")
    (flow * (C_STAR - Q_(0.019, "mM"))).to("mmol/day")  # oxygen carried through a bed
    (2 * flow / V).to("1/day")  # bed conductance as a kLa on the medium volume
    feed = Q_(1.0, "mL/min")
    (feed * G).to("mmol/day")  # glucose a hollow-fibre feed brings
    (Q_(0.38, "pmol/cell/h") * X).to("mmol/day")


@pytest.mark.parametrize("unit", ["m/s", "1/day", "mM"])
def test_pint_rejects_a_wrong_term(unit) -> None:
    """The checks above can fail: a concentration is not a rate, a length is not a speed."""
    from pint import DimensionalityError

    with pytest.raises(DimensionalityError):
        (Q_(1.0, "mM") * Q_(1.0, "L")).to(unit)


# -- the code's correlations, called with pint quantities -----------------------------------------
# Each function below works on plain arrays in stated units. Called instead with quantities (the
# parameters as ``Q_(value, unit)`` through a log that attaches the unit it was asked for), its result
# must have the dimension its docstring states: a wrong exponent or a missing factor in the code fails.


def _q(value: Any, unit: str) -> Any:
    """A quantity typed as Any: the functions below are annotated for plain arrays and called with quantities."""
    return Q_(value, unit)


class _QuantityLog:
    """A parameter log whose ``get(name, unit)`` returns the central value as a pint quantity."""

    def __init__(self) -> None:
        import exoforge as xf
        from exoforge.parameters import UsageLog
        from exoforge.simulation import parameters_for
        from tests.conftest import EXAMPLES

        self._log = UsageLog(parameters_for(xf.load_scenario(EXAMPLES[0])).params.nominal(1))
        self.n = 1

    def get(self, name: str, unit: str):
        return Q_(self._log.get(name, unit), unit)


@pytest.fixture
def qlog(monkeypatch):
    from exoforge.upstream import checks

    monkeypatch.setattr(checks, "GRAVITY", Q_(checks.GRAVITY, "m/s**2"))
    return _QuantityLog()


VOLUMES = _q(np.array([0.1, 3.0, 50.0]), "L")


def test_vessel_and_aeration_correlations_have_their_units(qlog) -> None:
    from exoforge.upstream import platforms

    for length in platforms.vessel_dimensions(VOLUMES, qlog):
        _assert_dimension(length, "m")
    _assert_dimension(platforms.surface_aeration_kla(VOLUMES, qlog), "1/day")
    _assert_dimension(platforms.layer_diffusion_kla(_q(np.array([2.0, 3.0]), "mm"), qlog), "1/day")
    _assert_dimension(platforms.aggregate_capacity_coefficient(qlog), "cell / mM**1.5")
    _assert_dimension(platforms.aggregate_radius_m(_q(np.array([1e3, 1e4]), "cell"), qlog), "m")


def test_hydrodynamics_have_their_units(qlog) -> None:
    from exoforge.upstream import checks

    h = checks.hydrodynamics(VOLUMES, _q(np.array([40.0, 60.0, 80.0]), "1/min"), "cytodex1", _q(3.0, "g/L"), qlog)
    expected = {
        "impeller_m": "m",
        "power_per_volume": "W/m**3",
        "dissipation": "W/kg",
        "kolmogorov_m": "m",
        "tip_speed": "m/s",
        "shear_pa": "Pa",
        "max_shear_pa": "Pa",
        "reynolds": "",
        "mixing_time_s": "s",
        "njs_rpm": "1/min",
    }
    for name, unit in expected.items():
        _assert_dimension(getattr(h, name), unit)


def test_dissolved_oxygen_root_is_a_concentration() -> None:
    """The quasi-steady oxygen root of the kinetics, called with quantities."""
    from exoforge.upstream.kinetics import dissolved_oxygen

    c = dissolved_oxygen(
        _q(np.array([1e8, 1e9]), "cell"),
        _q(40.0, "1/day"),
        _q(98.0, "fmol/cell/h"),
        _q(1.0, "L"),
        _q(0.005, "mM"),
        _q(0.188, "mM"),
    )
    _assert_dimension(c, "mM")


def test_a_correlation_with_a_wrong_unit_fails(qlog, monkeypatch) -> None:
    """The quantity checks can fail: gravity without its unit leaves the just-suspended speed wrong."""
    from exoforge.upstream import checks

    monkeypatch.setattr(checks, "GRAVITY", 9.81)
    rpm = checks.just_suspended_rpm(VOLUMES, "cytodex1", _q(3.0, "g/L"), qlog)
    with pytest.raises(AssertionError):
        _assert_dimension(rpm, "1/min")
