"""Dimensions of every term of the culture balances and of every engineering correlation (pint).

Each balance's terms must have the unit of its state per time; each correlation
must return the quantity it claims. A wrong exponent or a missing volume fails
with a DimensionalityError.
"""

from __future__ import annotations

import math

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


def test_oxygen_balance_and_its_root() -> None:
    """kLa (C* - C) and q X / V * C / (K + C) are both mM/day; the root is a concentration."""
    kla = Q_(40, "1/day")
    q = Q_(98, "fmol/cell/h")
    k = Q_(0.005, "mM")
    supply = kla * (C_STAR - C)
    uptake = q * X / V * (C / (k + C))
    supply.to("mM/day")
    uptake.to("mM/day")
    b = q * X / V + kla * (k - C_STAR)
    c = kla * C_STAR * k
    root = 2 * c / (b + (b * b + 4 * kla * c) ** 0.5)
    root.to("mM")


def _assert_dimension(q, unit: str) -> None:
    """``q`` has the dimension of ``unit``, exponents compared to 1e-9 (fractional powers)."""
    got = dict(q.to_base_units().dimensionality)
    want = dict(Q_(1.0, unit).to_base_units().dimensionality)
    for dim in set(got) | set(want):
        assert abs(got.get(dim, 0.0) - want.get(dim, 0.0)) < 1e-9, (dim, got, want)


def test_cell_and_substrate_balances() -> None:
    mu = Q_(0.6, "1/day")
    k_d = Q_(0.02, "1/day")
    lag = Q_(1.0, "day")
    t = Q_(2.0, "day")
    theta = Q_(2.0, "")
    cap = Q_(5e8, "cell")
    k_g, k_l, k_a, k_q, k_o = (Q_(v, "mM") for v in (1.0, 35.4, 2.4, 0.1, 0.005))
    factor = (
        (1 - math.e ** (-(t / lag).to("").magnitude))
        * (1 - (X / cap) ** theta.magnitude)
        * G
        / (k_g + G)
        * C
        / (k_o + C)
        * k_l
        / (k_l + L)
        * k_a
        / (k_a + A)
    )
    assert factor.dimensionless
    (mu * factor * X).to("cell/day")
    (k_d * X).to("cell/day")
    q_g = Q_(0.38, "pmol/cell/h")
    q_q = Q_(0.126, "pmol/cell/h")
    y_lg = Q_(2.0, "mol/mol")
    y_aq = Q_(0.7, "mol/mol")
    k_decay = Q_(0.063, "1/day")
    glucose_terms = [q_g * X * G / (k_g + G) / V, D * (G - Q_(1.0, "mM"))]
    lactate_terms = [y_lg * q_g * X * G / (k_g + G) / V, D * L]
    glutamine_terms = [q_q * X * GLN / (k_q + GLN) / V, k_decay * GLN, D * GLN]
    ammonia_terms = [y_aq * q_q * X * GLN / (k_q + GLN) / V, k_decay * GLN, D * A]
    for term in (*glucose_terms, *lactate_terms, *glutamine_terms, *ammonia_terms):
        term.to("mM/day")


def test_product_balances() -> None:
    q_ev = Q_(1e4, "particle/cell/day")
    k_ev = Q_(0.08, "1/day")
    q_p = Q_(20, "pg/cell/day")
    p_in = Q_(3.0, "mg/mL")
    for term in (q_ev * X, k_ev * E, D * E):
        term.to("particle/day")
    for term in (q_p * X, D * p_in * Vp, D * P):
        term.to("ug/day")
    (X * Q_(1.0, "day")).to("cell*day")  # the cell-day integral


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


def test_hydrodynamic_correlations() -> None:
    rho = Q_(1007, "kg/m**3")
    nu = Q_(7.5e-7, "m**2/s")
    n = Q_(60, "1/min")
    d = Q_(0.06, "m")
    vol = Q_(3, "L")
    po = Q_(1.27, "")
    power = po * rho * n**3 * d**5
    power.to("W")
    eps = power / (rho * vol)
    eps.to("W/kg")
    ((nu**3 / eps) ** 0.25).to("um")  # Kolmogorov length
    (math.pi * n * d).to("m/s")  # tip speed
    (rho * (nu * eps) ** 0.5).to("Pa")  # shear of Kolmogorov-scale eddies
    (rho * (nu * eps * Q_(10, "")) ** 0.5).to("Pa")  # at the maximum local dissipation
    (power / vol).to("W/m**3")
    assert (n * d**2 / nu).to("").dimensionless  # impeller Reynolds number
    (Q_(4, "") * vol / (Q_(0.79, "") * n * d**3)).to("s")  # mixing time


def test_zwietering_is_dimensionally_homogeneous() -> None:
    """N_js = S nu^0.1 d_p^0.2 (g drho / rho)^0.45 X^0.13 D^-0.85 is a rotation rate (S, X dimensionless)."""
    nu = Q_(7.5e-7, "m**2/s")
    d_p = Q_(175, "um")
    g = Q_(9.81, "m/s**2")
    drho, rho = Q_(33, "kg/m**3"), Q_(1007, "kg/m**3")
    x_percent = Q_(3.0, "")
    d = Q_(0.06, "m")
    njs = Q_(6.0, "") * nu**0.1 * d_p**0.2 * (g * drho / rho) ** 0.45 * x_percent**0.13 * d ** (-0.85)
    _assert_dimension(njs, "1/s")  # fractional exponents sum to zero only up to rounding


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
