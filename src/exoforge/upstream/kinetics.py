"""Culture kinetics: vectorised right-hand side for cells, nutrients, oxygen and EVs in one vessel.

State (rows of an (S, N) array, internal units):

===================  =================================================  ==========
row                  meaning                                            unit
===================  =================================================  ==========
``VIABLE``           viable cells in the vessel                          cell
``DEAD``             dead cells                                          cell
``GLUCOSE``          glucose concentration                               mM
``LACTATE``          lactate concentration                               mM
``GLUTAMINE``        glutamine concentration                             mM
``AMMONIA``          ammonia concentration                               mM
``EV``               EV particles in the product compartment             particle
``EV_SECRETED``      particles secreted since seeding                    particle
``PROTEIN``          total protein in the product compartment            µg
``CELL_DAYS``        integral of viable cells over time                  cell·day
``EV_OUTFLOW``       particles carried out by perfusion                  particle
``PROTEIN_OUTFLOW``  protein carried out by perfusion                    µg
``CAPACITY``         cells the colonised surface can hold                cell
===================  =================================================  ==========

Equations (V: medium volume exchanging small molecules [L]; D: its dilution
rate by feed or perfusion [1/day]; D_p: dilution of the product compartment,
equal to D unless a membrane retains EVs and protein, as in a hollow fibre)::

    C    = dissolved oxygen, quasi-steady:  kLa (C* - C) = q_O2 X / V * C / (K_O2 + C)
    mu   = mu_max f_phase (1 - exp(-t / t_lag)) max(0, 1 - (X / X_cap)^theta)
           * G / (K_G + G) * K_L / (K_L + L) * K_A / (K_A + A) * C / (K_O2 + C)
    dX/dt   = (mu - k_d f_death) X
    dXd/dt  = k_d f_death X
    dG/dt   = -q_G X G / (K_G + G) / V + D (G_in - G)
    dL/dt   =  Y_LG q_G X G / (K_G + G) / V - D L
    dQ/dt   = -q_Q X Q / (K_Q + Q) / V - k_Q Q + D (Q_in - Q)
    dA/dt   =  Y_AQ q_Q X Q / (K_Q + Q) / V + k_Q Q - D A
    dE/dt   = q_EV f_EV X - k_EV E - D_p E
    dP/dt   = q_P X + D_p (P_in V_p - P)
    dX_cap/dt = k_b2b (X_cap,total - X_cap)

* Oxygen is in quasi-steady state: its relaxation time, C*/(kLa C*) = 1/kLa, is
  minutes against days for everything else, so solving the balance
  algebraically keeps the batch RK4 non-stiff. The quadratic above has one
  positive root (solved in its cancellation-free form).
* Contact inhibition by available surface is the generalised (theta-)logistic
  form; theta = 1 is the plain logistic used for hMSC by Higuera et al. 2009
  (Tissue Eng Part A 15:2653). For aggregates (spheroids) the
  capacity is the number of cells the aggregates can hold before their centre
  falls below the oxygen limit, ``X_cap = a (C - C_min)^(3/2)`` (zero-order
  uptake in a sphere: R_c = sqrt(6 D (C - C_min) / Q); cells = 4/3 pi R_c^3 / v_cell).
* Lactate and ammonia inhibition follow Schop et al. 2009 (doi:10.1089/ten.tea.2008.0345),
  glutamine is also lost by first-order chemical decomposition to ammonia
  (Ozturk & Palsson 1990, Biotechnol Prog 6:121, doi:10.1021/bp00002a005).
* ``X_cap`` relaxes towards the total surface at the bead-to-bead transfer rate
  after microcarriers are added; without an addition it equals the total.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

(
    VIABLE,
    DEAD,
    GLUCOSE,
    LACTATE,
    GLUTAMINE,
    AMMONIA,
    EV,
    EV_SECRETED,
    PROTEIN,
    CELL_DAYS,
    EV_OUTFLOW,
    PROTEIN_OUTFLOW,
    CAPACITY,
) = range(13)
N_STATES = 13
STATE_NAMES = (
    "viable_cells",
    "dead_cells",
    "glucose_mM",
    "lactate_mM",
    "glutamine_mM",
    "ammonia_mM",
    "ev_particles",
    "ev_secreted",
    "protein_ug",
    "cell_days",
    "ev_outflow",
    "protein_outflow",
    "capacity_cells",
)


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
    V [L], K and C* [mM]), computed without cancellation for either sign of ``b``.
    """
    demand = q_oxygen * x / volume  # mM/day at saturated uptake
    b = demand + kla * (k_oxygen - saturation)
    c = kla * saturation * k_oxygen
    s = np.sqrt(b * b + 4.0 * kla * c)
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = 2.0 * c / (b + s)
        neg = (s - b) / (2.0 * kla)
    return np.where(b > 0, pos, neg)


def growth_capacity(x_cap: np.ndarray, oxygen: np.ndarray, k: KineticParameters) -> np.ndarray:
    """Cells the vessel can hold now: the colonised surface, or the oxygen-limited aggregates."""
    if not k.aggregates:
        return x_cap
    excess = np.maximum(oxygen - k.oxygen_minimum, 0.0)
    return np.minimum(x_cap, k.aggregate_capacity * excess * np.sqrt(excess))


def rhs(t: float, y: np.ndarray, args: tuple[KineticParameters, PhaseInputs]) -> np.ndarray:
    """Time derivative of the state ``y`` (S, N) at time ``t`` [day]."""
    k, ph = args
    x = np.maximum(y[VIABLE], 0.0)
    g = np.maximum(y[GLUCOSE], 0.0)
    lac = np.maximum(y[LACTATE], 0.0)
    gln = np.maximum(y[GLUTAMINE], 0.0)
    amm = np.maximum(y[AMMONIA], 0.0)
    e = y[EV]
    o2 = dissolved_oxygen(x, k.kla, k.q_oxygen, k.volume, k.k_oxygen, k.oxygen_saturation)
    o2_sat = o2 / (k.k_oxygen + o2)
    glc_sat = g / (k.k_glucose + g)
    cap = growth_capacity(np.maximum(y[CAPACITY], 1e-300), o2, k)
    room = np.maximum(1.0 - (x / cap) ** k.theta, 0.0)
    lag = 1.0 - np.exp(-(t - ph.t_seed) / k.t_lag)
    mu = (
        k.mu_max
        * ph.growth_factor
        * lag
        * room
        * glc_sat
        * o2_sat
        * (k.k_lactate / (k.k_lactate + lac))
        * (k.k_ammonia / (k.k_ammonia + amm))
    )
    death = k.k_death * ph.death_factor
    glc_uptake = k.q_glucose * x * glc_sat / k.volume  # mM/day
    gln_uptake = k.q_glutamine * x * (gln / (k.k_glutamine + gln)) / k.volume  # mM/day
    gln_decay = k.k_glutamine_decay * gln
    secretion = k.q_ev * ph.ev_factor * x
    d = ph.dilution
    dp = ph.product_dilution
    dy = np.empty_like(y)
    dy[VIABLE] = (mu - death) * x
    dy[DEAD] = death * x
    dy[GLUCOSE] = -glc_uptake + d * (ph.glucose_in - g)
    dy[LACTATE] = k.y_lactate * glc_uptake - d * lac
    dy[GLUTAMINE] = -gln_uptake - gln_decay + d * (ph.glutamine_in - gln)
    dy[AMMONIA] = k.y_ammonia * gln_uptake + gln_decay - d * amm
    dy[EV] = secretion - k.k_ev_loss * e - dp * e
    dy[EV_SECRETED] = secretion
    dy[PROTEIN] = k.q_protein * x + dp * (ph.protein_in * k.product_volume - y[PROTEIN])
    dy[CELL_DAYS] = x
    dy[EV_OUTFLOW] = dp * e
    dy[PROTEIN_OUTFLOW] = dp * y[PROTEIN]
    dy[CAPACITY] = k.k_transfer * (ph.capacity_total - y[CAPACITY])
    return dy
