"""Random-effects meta-analysis of log fold-changes.

Estimators of the between-study variance tau²:

* DerSimonian–Laird (method of moments), DerSimonian & Laird 1986,
  Control Clin Trials 7:177, doi:10.1016/0197-2456(86)90046-2;
* REML, by Fisher scoring on the restricted likelihood (Viechtbauer 2005,
  J Educ Behav Stat 30:261, doi:10.3102/10769986030003261);
* Paule–Mandel (iterated method of moments), Paule & Mandel 1982,
  J Res Natl Bur Stand 87:377, doi:10.6028/jres.087.022.

Outputs follow Higgins, Thompson & Spiegelhalter 2009 (J R Stat Soc A 172:137,
doi:10.1111/j.1467-985X.2008.00552.x): the 95 % prediction interval for the
effect in a new study uses a t distribution with k − 2 degrees of freedom
and the variance tau² + SE(mu)²; I² = max(0, (Q − (k − 1)) / Q).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from exoforge.distributions import Z95

Method = Literal["dl", "reml", "pm"]


@dataclass(frozen=True)
class PooledEffect:
    """Result of pooling k study effects on the log scale."""

    k: int
    method: str
    mu: float
    se: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    tau2: float
    i2: float
    q: float

    @property
    def fold(self) -> float:
        """Pooled fold-change exp(mu)."""
        return math.exp(self.mu)

    @property
    def predictive_sigma(self) -> float:
        """SD of ln(effect) in a new setting: sqrt(tau² + se²)."""
        return math.sqrt(self.tau2 + self.se**2)

    def to_dict(self) -> dict[str, float | int | str]:
        d = asdict(self)
        d["fold"] = self.fold
        d["fold_ci"] = [math.exp(self.ci_low), math.exp(self.ci_high)]
        d["fold_pi"] = [math.exp(self.pi_low), math.exp(self.pi_high)]
        return d


def _tau2_dl(y: np.ndarray, v: np.ndarray) -> float:
    w = 1.0 / v
    ybar = np.sum(w * y) / np.sum(w)
    q = float(np.sum(w * (y - ybar) ** 2))
    c = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    return max(0.0, (q - (len(y) - 1)) / c) if c > 0 else 0.0


def _tau2_reml(y: np.ndarray, v: np.ndarray, tol: float = 1e-12, max_iter: int = 500) -> float:
    """REML tau² by Fisher scoring (Viechtbauer 2005, eq. 12), started at the DL estimate."""
    tau2 = _tau2_dl(y, v)
    for _ in range(max_iter):
        w = 1.0 / (v + tau2)
        mu = np.sum(w * y) / np.sum(w)
        adj = np.sum(w**2 * ((y - mu) ** 2 - v)) / np.sum(w**2) + 1.0 / np.sum(w)
        new = max(0.0, float(adj))
        # the REML fixed point: tau2 = [sum w²((y-mu)² - v)] / sum w² + 1/sum w
        if abs(new - tau2) < tol * max(1.0, tau2):
            tau2 = new
            break
        tau2 = new
    return tau2


def _tau2_pm(y: np.ndarray, v: np.ndarray, tol: float = 1e-12) -> float:
    """Paule–Mandel: tau² such that the generalised Q equals k − 1 (root by bisection/brentq)."""
    k = len(y)

    def gen_q(t2: float) -> float:
        w = 1.0 / (v + t2)
        mu = np.sum(w * y) / np.sum(w)
        return float(np.sum(w * (y - mu) ** 2) - (k - 1))

    if gen_q(0.0) <= 0:
        return 0.0
    hi = max(1.0, float(np.var(y)) * 10)
    while gen_q(hi) > 0:
        hi *= 10
    from scipy.optimize import brentq

    return float(brentq(gen_q, 0.0, hi, xtol=tol))


def pool(y: np.ndarray | list[float], v: np.ndarray | list[float], method: Method = "reml") -> PooledEffect:
    """Random-effects pooling of effects ``y`` (log scale) with within-study variances ``v``."""
    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    k = len(y)
    if k == 0:
        raise ValueError("nothing to pool")
    if np.any(v <= 0):
        raise ValueError("within-study variances must be positive")
    w_fe = 1.0 / v
    ybar = np.sum(w_fe * y) / np.sum(w_fe)
    q = float(np.sum(w_fe * (y - ybar) ** 2))
    if k == 1:
        tau2 = 0.0
    elif method == "dl":
        tau2 = _tau2_dl(y, v)
    elif method == "reml":
        tau2 = _tau2_reml(y, v)
    elif method == "pm":
        tau2 = _tau2_pm(y, v)
    else:
        raise ValueError(f"method '{method}' is not one of dl, reml, pm")
    w = 1.0 / (v + tau2)
    mu = float(np.sum(w * y) / np.sum(w))
    se = float(math.sqrt(1.0 / np.sum(w)))
    z = Z95
    if k >= 3:
        from scipy.special import stdtrit

        t = float(stdtrit(k - 2, 0.975))
        half = t * math.sqrt(tau2 + se**2)
    else:
        half = float("nan")
    i2 = max(0.0, (q - (k - 1)) / q) if (k > 1 and q > 0) else 0.0
    return PooledEffect(
        k=k,
        method=method,
        mu=mu,
        se=se,
        ci_low=mu - z * se,
        ci_high=mu + z * se,
        pi_low=mu - half,
        pi_high=mu + half,
        tau2=tau2,
        i2=i2,
        q=q,
    )


def leave_one_out(
    y: np.ndarray | list[float], v: np.ndarray | list[float], method: Method = "reml"
) -> list[PooledEffect]:
    """The pooled effect with each study left out in turn (needs k >= 2)."""
    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    return [pool(np.delete(y, i), np.delete(v, i), method) for i in range(len(y))]
