"""Culture kinetics: vectorised right-hand side for cells, nutrients, oxygen and EVs in one vessel.

State (rows of an (S, N) array, internal units):

===================  =================================================  ==========
row                  meaning                                            unit
===================  =================================================  ==========
``VIABLE``           viable cells in the vessel                          cell
``GLUCOSE``          glucose concentration                               mM
``LACTATE``          lactate concentration                               mM
``GLUTAMINE``        glutamine concentration                             mM
``AMMONIA``          ammonia concentration                               mM
``EV``               EV particles in the product compartment             particle
``PROTEIN``          total protein in the product compartment            µg
``CELL_DAYS``        integral of viable cells over time                  cell·day
``EV_OUTFLOW``       particles carried out by perfusion                  particle
``PROTEIN_OUTFLOW``  protein carried out by perfusion                    µg
``FED``              medium fed by perfusion or feed, integral of D dt   volumes of V
===================  =================================================  ==========

Dead cells and secreted particles are integrals of ``k_d f_death X`` and
``q_EV f_EV X`` whose factors are constant within a phase, so they follow from
``CELL_DAYS`` (see :func:`exoforge.upstream.simulate.simulate_upstream`)
instead of being integrated.

Equations (V: medium volume exchanging small molecules [L]; D: its dilution
rate by feed or perfusion [1/day]; D_p: dilution of the product compartment,
equal to D unless a membrane retains EVs and protein, as in a hollow fibre)::

    C    = dissolved oxygen, quasi-steady:  kLa (C* - C) = q_O2 X / V * C / (K_O2 + C)
    mu   = mu_max f_phase (1 - exp(-t / t_lag)) max(0, 1 - (X / X_cap)^theta)
           * G / (K_G + G) * C / (K_O2 + C) * K_L / (K_L + L) * K_A / (K_A + A)
    dX/dt   = (mu - k_d f_death) X
    dG/dt   = -q_G X G / (K_G + G) / V + D (G_in - G)
    dL/dt   =  Y_LG q_G X G / (K_G + G) / V - D L
    dQ/dt   = -q_Q X Q / (K_Q + Q) / V - k_Q Q + D (Q_in - Q)
    dA/dt   =  Y_AQ q_Q X Q / (K_Q + Q) / V + k_Q Q - D A
    dE/dt   = q_EV f_EV X - k_EV E - D_p E
    dP/dt   = q_P X + D_p (P_in V_p - P)
    dF/dt   = D
    X_cap(t) = X_cap,total - X_add exp(-k_b2b (t - t_add))   (after a microcarrier addition)

    lactate-controlled perfusion (feed that follows the culture):
    D = min(D_max, max(D_min, Y_LG q_G X G / (K_G + G) / (V L*)))

* ``mu_max`` and ``q_O2`` enter as the rates reported for MSC in fresh, air-saturated
  medium: the glucose and oxygen saturation terms are scaled by their values there
  ((K_G + G_ref) / G_ref and (K_O2 + C*) / C*), so reference conditions give the
  reported rates and only departures from them slow growth
  (:func:`exoforge.upstream.culture_inputs.kinetic_parameters`).
* Oxygen is in quasi-steady state: its relaxation time, 1 / kLa, is minutes
  against days for everything else, so solving the balance algebraically keeps
  the batch RK4 non-stiff. The quadratic above has one positive root (solved in
  its cancellation-free form).
* Contact inhibition by available surface is the generalised (theta-)logistic
  form; theta = 1 is the plain logistic used for hMSC by Higuera et al. 2009
  (Tissue Eng Part A 15:2653). For aggregates (spheroids) the capacity is the
  number of cells the aggregates can hold before their centre falls below the
  oxygen limit, ``X_cap = a (C - C_min)^(3/2)`` (zero-order uptake in a sphere:
  R_c = sqrt(6 D (C - C_min) / Q); cells = 4/3 pi R_c^3 / v_cell).
* Lactate and ammonia inhibition follow Schop et al. 2009 (doi:10.1089/ten.tea.2008.0345);
  glutamine is also lost by first-order chemical decomposition to ammonia
  (Ozturk & Palsson 1990, Biotechnol Prog 6:121, doi:10.1021/bp00002a005).
* After microcarriers are added, the colonised surface relaxes to the total at
  the bead-to-bead transfer rate; the capacity is that explicit function of time.
* Lactate-controlled perfusion sets the dilution rate at which the lactate the cells
  make leaves with the outflow at the set-point L* (at steady state L = L*), bounded by
  the lowest and highest rates: the medium supply rises with the cell number, as
  perfusion and hollow-fibre feeds are run in practice (the rate is raised as lactate
  climbs), instead of a fixed rate that either starves a dense culture or wastes medium
  on a sparse one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import numpy as np

(
    VIABLE,
    GLUCOSE,
    LACTATE,
    GLUTAMINE,
    AMMONIA,
    EV,
    PROTEIN,
    CELL_DAYS,
    EV_OUTFLOW,
    PROTEIN_OUTFLOW,
    FED,
) = range(11)
N_STATES = 11
STATE_NAMES = (
    "viable_cells",
    "glucose_mM",
    "lactate_mM",
    "glutamine_mM",
    "ammonia_mM",
    "ev_particles",
    "protein_ug",
    "cell_days",
    "ev_outflow",
    "protein_outflow",
    "fed_volumes",
)

#: Internal unit of each state row (pint strings, in row order): the code's own unit
#: annotations, which the dimension tests use to re-express a call in other units.
STATE_UNITS = ("cell", "mM", "mM", "mM", "mM", "particle", "ug", "cell*day", "particle", "ug", "")
#: Unit of the time argument of :func:`rhs` and of every rate [day].
TIME_UNIT = "day"


@dataclass(frozen=True)
class KineticParameters:
    """Arrays of shape (N,) in internal units (see the module docstring).

    ``aggregate_capacity`` is zero except for aggregate (spheroid) culture, where
    it is the coefficient ``a`` of the oxygen-limited capacity [cell mM^-1.5].
    """

    mu_max: np.ndarray  # 1/day
    t_lag: np.ndarray  # day
    theta: np.ndarray  # contact-inhibition exponent [-]
    k_death: np.ndarray  # 1/day
    k_glucose: np.ndarray  # mM
    k_lactate: np.ndarray  # mM
    k_ammonia: np.ndarray  # mM
    q_glucose: np.ndarray  # mmol/cell/day
    y_lactate: np.ndarray  # mol lactate / mol glucose
    q_glutamine: np.ndarray  # mmol/cell/day
    k_glutamine: np.ndarray  # mM (Monod constant of uptake)
    y_ammonia: np.ndarray  # mol ammonia / mol glutamine taken up
    k_glutamine_decay: np.ndarray  # 1/day
    q_oxygen: np.ndarray  # mmol/cell/day
    k_oxygen: np.ndarray  # mM
    oxygen_saturation: np.ndarray  # mM
    kla: np.ndarray  # oxygen supply coefficient on V [1/day]
    oxygen_minimum: np.ndarray  # mM (aggregate capacity only)
    aggregate_capacity: np.ndarray  # cell / mM^1.5 (0: surface culture)
    q_ev: np.ndarray  # particle/cell/day
    k_ev_loss: np.ndarray  # 1/day
    q_protein: np.ndarray  # ug/cell/day
    k_transfer: np.ndarray  # bead-to-bead transfer rate [1/day]
    volume: np.ndarray  # L, medium exchanging small molecules
    product_volume: np.ndarray  # L, compartment holding EVs and protein
    aggregates: bool = False  # capacity set by oxygen penetration of aggregates
    # combinations the right-hand side needs at every call, computed once (not arguments)
    inv_lag: np.ndarray = field(init=False, repr=False)
    inhibition_product: np.ndarray = field(init=False, repr=False)
    glucose_per_volume: np.ndarray = field(init=False, repr=False)
    glutamine_per_volume: np.ndarray = field(init=False, repr=False)
    oxygen_per_volume: np.ndarray = field(init=False, repr=False)
    oxygen_b0: np.ndarray = field(init=False, repr=False)
    oxygen_2c: np.ndarray = field(init=False, repr=False)
    oxygen_4ac: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        c = self.kla * self.oxygen_saturation * self.k_oxygen
        derived = {
            "inv_lag": 1.0 / self.t_lag,
            "inhibition_product": self.k_lactate * self.k_ammonia,
            "glucose_per_volume": self.q_glucose / self.volume,
            "glutamine_per_volume": self.q_glutamine / self.volume,
            "oxygen_per_volume": self.q_oxygen / self.volume,
            "oxygen_b0": self.kla * (self.k_oxygen - self.oxygen_saturation),
            "oxygen_2c": 2.0 * c,
            "oxygen_4ac": 4.0 * self.kla * c,
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)


#: Unit of every array of :class:`KineticParameters` (pint strings; ``""`` dimensionless).
PARAMETER_UNITS: dict[str, str] = {
    "mu_max": "1/day",
    "t_lag": "day",
    "theta": "",
    "k_death": "1/day",
    "k_glucose": "mM",
    "k_lactate": "mM",
    "k_ammonia": "mM",
    "q_glucose": "mmol/cell/day",
    "y_lactate": "mol/mol",
    "q_glutamine": "mmol/cell/day",
    "k_glutamine": "mM",
    "y_ammonia": "mol/mol",
    "k_glutamine_decay": "1/day",
    "q_oxygen": "mmol/cell/day",
    "k_oxygen": "mM",
    "oxygen_saturation": "mM",
    "kla": "1/day",
    "oxygen_minimum": "mM",
    "aggregate_capacity": "cell/mM**1.5",
    "q_ev": "particle/cell/day",
    "k_ev_loss": "1/day",
    "q_protein": "ug/cell/day",
    "k_transfer": "1/day",
    "volume": "L",
    "product_volume": "L",
}


@dataclass(frozen=True)
class PhaseInputs:
    """What changes between culture phases, arrays of shape (N,)."""

    growth_factor: np.ndarray  # multiplier on mu_max [-]
    death_factor: np.ndarray  # multiplier on k_death [-]
    ev_factor: np.ndarray  # multiplier on q_ev [-]
    dilution: np.ndarray  # feed / perfusion of V [1/day]
    product_dilution: np.ndarray  # dilution of the product compartment [1/day]
    glucose_in: np.ndarray  # feed glucose [mM]
    glutamine_in: np.ndarray  # feed glutamine [mM]
    protein_in: np.ndarray  # feed protein [ug/L]
    capacity_total: np.ndarray  # cells the whole surface holds [cell]
    t_seed: float  # time of seeding [day]
    capacity_added: np.ndarray | None = None  # surface added at t_added, not yet colonised [cell]
    t_added: float = 0.0  # time of the microcarrier addition [day]
    # lactate-controlled perfusion: set-point [mM] and largest dilution [1/day]; ``dilution`` is then the
    # lowest rate and ``product_dilution`` its share that drains the product compartment (0 or 1 x D)
    lactate_setpoint: np.ndarray | None = None
    dilution_max: np.ndarray | None = None
    product_share: float = 1.0
    # no member is fed, perfused or drained continuously: every dilution term is zero
    undiluted: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        undiluted = self.lactate_setpoint is None and not (np.any(self.dilution) or np.any(self.product_dilution))
        object.__setattr__(self, "undiluted", undiluted)

    @property
    def controlled(self) -> bool:
        return self.lactate_setpoint is not None


#: Unit of every number of :class:`PhaseInputs` (pint strings; ``""`` dimensionless).
PHASE_UNITS: dict[str, str] = {
    "growth_factor": "",
    "death_factor": "",
    "ev_factor": "",
    "dilution": "1/day",
    "product_dilution": "1/day",
    "glucose_in": "mM",
    "glutamine_in": "mM",
    "protein_in": "ug/L",
    "capacity_total": "cell",
    "t_seed": "day",
    "capacity_added": "cell",
    "t_added": "day",
    "lactate_setpoint": "mM",
    "dilution_max": "1/day",
    "product_share": "",
}


def capacity(t: float, k: KineticParameters, ph: PhaseInputs) -> np.ndarray:
    """Cells the colonised surface holds at time ``t`` [cell]."""
    if ph.capacity_added is None:
        return ph.capacity_total
    return cast("np.ndarray", ph.capacity_total - ph.capacity_added * np.exp((ph.t_added - t) * k.k_transfer))


def dissolved_oxygen(
    x: np.ndarray,
    kla: np.ndarray,
    q_oxygen: np.ndarray,
    volume: np.ndarray,
    k_oxygen: np.ndarray,
    saturation: np.ndarray,
) -> np.ndarray:
    """Quasi-steady dissolved oxygen [mM] for ``x`` viable cells per vessel.

    Root in [0, C*] of ``kLa (C* - C)(K + C) = q X / V C`` (kLa [1/day], q [mmol/cell/day],
    V [L], K and C* [mM]): ``kLa C² + b C - kLa C* K = 0`` with ``b = q X / V + kLa (K - C*)``,
    written as ``C = 2 kLa C* K / (b + sqrt(b² + 4 kLa² C* K))``. This form has no cancellation
    for b >= 0; for b < 0 its relative rounding error is about eps b² / (2 kLa² C* K), below
    1e-13 for any Monod constant above 1e-4 mM.
    """
    c = kla * saturation * k_oxygen
    b = q_oxygen * x / volume + kla * (k_oxygen - saturation)
    return cast("np.ndarray", 2.0 * c / (b + np.sqrt(b * b + 4.0 * kla * c)))


def growth_capacity(x_cap: np.ndarray, oxygen: np.ndarray, k: KineticParameters) -> np.ndarray:
    """Cells the vessel can hold now: the colonised surface, or the oxygen-limited aggregates."""
    if not k.aggregates:
        return x_cap
    excess = np.maximum(oxygen - k.oxygen_minimum, 0.0)
    # a vessel holds at least one cell: the floor keeps X / capacity, and its power in the growth
    # term, finite when the centre of every aggregate is at the oxygen limit (growth is then zero
    # for any two cells or more, as it would be with any smaller floor)
    return cast("np.ndarray", np.maximum(np.minimum(x_cap, k.aggregate_capacity * excess * np.sqrt(excess)), 1.0))


def rhs(t: float, y: np.ndarray, args: tuple[KineticParameters, PhaseInputs]) -> np.ndarray:
    """Time derivative of the state ``y`` (S, N) at time ``t`` [day].

    Written with in-place operations on a few work arrays: this function is
    the inner loop of every batch evaluation.
    """
    # Longer than 80 lines: the inner loop of every culture integration, written with in-place operations on a
    # few work arrays; splitting it adds a function call to every RK4 stage (benchmarks/run.py measures it).
    k, ph = args
    dy = np.empty_like(y)
    x = np.maximum(y[VIABLE], 0.0)
    g = np.maximum(y[GLUCOSE], 0.0)
    gln = np.maximum(y[GLUTAMINE], 0.0)
    lac = y[LACTATE]  # produced, and only diluted in proportion: never negative
    amm = y[AMMONIA]
    # dissolved oxygen (quasi-steady), see dissolved_oxygen()
    b = k.oxygen_per_volume * x
    b += k.oxygen_b0
    o2 = b * b
    o2 += k.oxygen_4ac
    np.sqrt(o2, out=o2)
    o2 += b
    np.divide(k.oxygen_2c, o2, out=o2)
    # growth: contact inhibition, glucose, oxygen, lactate and ammonia, lag
    mu = np.divide(x, growth_capacity(capacity(t, k, ph), o2, k))
    np.power(mu, k.theta, out=mu)
    np.subtract(1.0, mu, out=mu)
    np.maximum(mu, 0.0, out=mu)
    glc = g / (k.k_glucose + g)
    mu *= glc
    o2 /= k.k_oxygen + o2
    mu *= o2
    b = (k.k_lactate + lac) * (k.k_ammonia + amm)
    np.divide(k.inhibition_product, b, out=b)
    mu *= b
    mu *= k.mu_max * ph.growth_factor * (1.0 - np.exp((ph.t_seed - t) * k.inv_lag))
    mu -= k.k_death * ph.death_factor
    np.multiply(mu, x, out=dy[VIABLE])
    glc *= x
    glc *= k.glucose_per_volume  # glucose uptake, mM/day
    uptake = gln / (k.k_glutamine + gln)
    uptake *= x
    uptake *= k.glutamine_per_volume  # glutamine uptake, mM/day
    decay = k.k_glutamine_decay * gln
    np.multiply(k.y_lactate, glc, out=dy[LACTATE])
    np.multiply(k.y_ammonia, uptake, out=dy[AMMONIA])
    dy[AMMONIA] += decay
    np.multiply(k.q_ev * ph.ev_factor, x, out=dy[EV])
    dy[EV] -= k.k_ev_loss * y[EV]
    np.multiply(k.q_protein, x, out=dy[PROTEIN])
    if ph.undiluted:
        # every dilution term is zero: the same numbers as below, without the multiplications by 0
        np.negative(glc, out=dy[GLUCOSE])
        np.negative(uptake, out=dy[GLUTAMINE])
        dy[GLUTAMINE] -= decay
        dy[EV_OUTFLOW] = 0.0
        dy[PROTEIN_OUTFLOW] = 0.0
        dy[FED] = 0.0
    else:
        if ph.lactate_setpoint is not None:
            # the dilution that carries the lactate made now out at the set-point, within the bounds
            d = dy[LACTATE] / ph.lactate_setpoint
            np.clip(d, ph.dilution, ph.dilution_max, out=d)
            dp = d * ph.product_share
        else:
            d, dp = ph.dilution, ph.product_dilution
        dy[FED] = d
        np.subtract(ph.glucose_in, g, out=dy[GLUCOSE])
        dy[GLUCOSE] *= d
        dy[GLUCOSE] -= glc
        dy[LACTATE] -= d * lac
        np.subtract(ph.glutamine_in, gln, out=dy[GLUTAMINE])
        dy[GLUTAMINE] *= d
        dy[GLUTAMINE] -= uptake
        dy[GLUTAMINE] -= decay
        dy[AMMONIA] -= d * amm
        np.multiply(dp, y[EV], out=dy[EV_OUTFLOW])
        dy[EV] -= dy[EV_OUTFLOW]
        np.multiply(dp, y[PROTEIN], out=dy[PROTEIN_OUTFLOW])
        dy[PROTEIN] += dp * ph.protein_in * k.product_volume
        dy[PROTEIN] -= dy[PROTEIN_OUTFLOW]
    dy[CELL_DAYS] = x
    return dy
