"""Culture kinetics: vectorised right-hand side for cells, nutrients and EVs in one vessel.

State (rows of an (S, N) array, internal units):

===================  ======================================  ==========
row                  meaning                                 unit
===================  ======================================  ==========
``VIABLE``           viable cells in the vessel               cell
``DEAD``             dead cells                               cell
``GLUCOSE``          glucose concentration                    mM
``LACTATE``          lactate concentration                    mM
``EV``               EV particles in the medium               particle
``EV_SECRETED``      particles secreted since phase start     particle
``PROTEIN``          total protein in the medium              µg
``CELL_DAYS``        integral of viable cells over time       cell·day
``EV_OUTFLOW``       particles carried out by perfusion       particle
``PROTEIN_OUTFLOW``  protein carried out by perfusion         µg
===================  ======================================  ==========

Equations (V: working volume [L], D: perfusion dilution rate [1/day])::

    mu   = mu_max * growth_factor * (1 - exp(-t_seed / t_lag))
           * max(0, 1 - X / X_max) * G / (K_G + G) * K_L / (K_L + L)
    dX/dt  = (mu - k_d) X
    dXd/dt = k_d X
    dG/dt  = -q_G X G / (K_G + G) / V + D (G_in - G)
    dL/dt  = Y_LG q_G X G / (K_G + G) / V - D L
    dE/dt  = q_EV m_EV X - k_EV E - D E
    dP/dt  = q_P X + D (P_in V - P)

``growth_factor`` and ``m_EV`` are phase multipliers (conditioning medium,
strategies, platform). Sources of every constant are in the parameter data
files; the growth law is the contact-inhibited Monod form used for hMSC by
Higuera et al. 2009 (Tissue Eng Part A 15:2653, doi:10.1089/ten.tea.2008.0476)
with the lactate inhibition form of Schop et al. 2009 (doi:10.1089/ten.tea.2008.0345).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VIABLE, DEAD, GLUCOSE, LACTATE, EV, EV_SECRETED, PROTEIN, CELL_DAYS, EV_OUTFLOW, PROTEIN_OUTFLOW = range(10)
N_STATES = 10
STATE_NAMES = (
    "viable_cells",
    "dead_cells",
    "glucose_mM",
    "lactate_mM",
    "ev_particles",
    "ev_secreted",
    "protein_ug",
    "cell_days",
    "ev_outflow",
    "protein_outflow",
)


@dataclass(frozen=True)
class KineticParameters:
    """Arrays of shape (N,) in internal units (see module docstring)."""

    mu_max: np.ndarray  # 1/day
    t_lag: np.ndarray  # day
    x_max: np.ndarray  # cell (per vessel: max areal density x area)
    k_death: np.ndarray  # 1/day
    k_glucose: np.ndarray  # mM
    k_lactate: np.ndarray  # mM
    q_glucose: np.ndarray  # mmol/cell/day
    y_lactate: np.ndarray  # mol lactate / mol glucose
    q_ev: np.ndarray  # particle/cell/day
    k_ev_loss: np.ndarray  # 1/day
    q_protein: np.ndarray  # ug/cell/day
    volume: np.ndarray  # L


@dataclass(frozen=True)
class PhaseInputs:
    """What changes between culture phases, arrays of shape (N,)."""

    growth_factor: np.ndarray  # multiplier on mu_max [-]
    ev_factor: np.ndarray  # multiplier on q_ev [-]
    dilution: np.ndarray  # perfusion rate [1/day]
    glucose_in: np.ndarray  # feed glucose [mM]
    protein_in: np.ndarray  # feed protein [ug/L]
    t_seed: float  # time of seeding [day]


def rhs(t: float, y: np.ndarray, args: tuple[KineticParameters, PhaseInputs]) -> np.ndarray:
    """Time derivative of the state ``y`` (S, N) at time ``t`` [day]."""
    k, ph = args
    x = np.maximum(y[VIABLE], 0.0)
    g = np.maximum(y[GLUCOSE], 0.0)
    lac = np.maximum(y[LACTATE], 0.0)
    e = y[EV]
    sat = g / (k.k_glucose + g)
    lag = 1.0 - np.exp(-(t - ph.t_seed) / k.t_lag)
    room = np.maximum(1.0 - x / k.x_max, 0.0)
    mu = k.mu_max * ph.growth_factor * lag * room * sat * (k.k_lactate / (k.k_lactate + lac))
    uptake = k.q_glucose * x * sat / k.volume  # mM/day
    secretion = k.q_ev * ph.ev_factor * x
    d = ph.dilution
    dy = np.empty_like(y)
    dy[VIABLE] = (mu - k.k_death) * x
    dy[DEAD] = k.k_death * x
    dy[GLUCOSE] = -uptake + d * (ph.glucose_in - g)
    dy[LACTATE] = k.y_lactate * uptake - d * lac
    dy[EV] = secretion - k.k_ev_loss * e - d * e
    dy[EV_SECRETED] = secretion
    dy[PROTEIN] = k.q_protein * x + d * (ph.protein_in * k.volume - y[PROTEIN])
    dy[CELL_DAYS] = x
    dy[EV_OUTFLOW] = d * e
    dy[PROTEIN_OUTFLOW] = d * y[PROTEIN]
    return dy
