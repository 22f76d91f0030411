"""Partial pooling of per-cell secretion effects: study within strategy within family.

Model (log scale, one unit per study and strategy, :mod:`exoforge.evidence.emulated`)::

    y_i      ~ Normal(theta_s[i], v_i + sigma²)     study i of strategy s (v_i: its known variance)
    cov(y_i, y_j) = C_ij + sigma² R_ij              comparisons of one study that share an arm
    theta_s  ~ Normal(mu_f[s], tau²)               strategy s of family f
    mu_f     ~ Normal(mu_0, omega²)                family f
    mu_0     ~ Normal(0, 1.5²)                     all effects on secretion
    sigma, tau, omega ~ HalfNormal(1)

``C`` is known (:func:`shared_arm_covariance`): each arm of a comparison carries half the sampling
variance of its log ratio (equal arm variances, as when the arms' own spreads are not reported), so
two comparisons with a common control covary by +v/2, and one whose control is the other's treated
arm by -v/2 (the contrast-level likelihood of multi-arm trials: contrasts that share an arm
covary by that arm's variance; Franchini et al. 2012, Res Synth Methods 3:142,
doi:10.1002/jrsm.1049, Abstract). The study-level deviations (``sigma``) of two such comparisons
are correlated in the same way, ``R`` (:func:`shared_arm_correlation`): each arm carries half of
``sigma²``, so a common control gives them correlation +1/2 and a control that is the other's
treated arm -1/2. This is the between-study covariance of multi-arm trials under one heterogeneity
variance (Higgins & Whitehead 1996, Stat Med 15:2733-2749,
doi:10.1002/(SICI)1097-0258(19961230)15:24<2733::AID-SIM562>3.0.CO;2-0), and it follows from
the consistency of contrasts: the deviation of treated-vs-control is that of treated minus that of
control, whichever comparisons a study reports.

``sigma`` is the spread of studies of one strategy, ``tau`` of strategies of one family, ``omega``
of families. Priors: HalfNormal(1) on each SD allows a factor e^2 ~ 7 between two studies of
the same strategy at the prior's 95th percentile while keeping the SDs off the implausible tens of
log units that k = 1 strategies could not rule out; Normal(0, 1.5²) on mu_0 centres the overall
effect on "no change" with a 95 % range of 1/19 to 19-fold. Both are stated as assumptions in the
README.

Given (sigma, tau, omega) all means are jointly Gaussian with the data, so they are integrated
exactly; the three SDs are integrated on a 16³ grid (midpoints over [0, 3], 99.7 % of each
prior's mass). The result is a mixture of normals over the grid, summarised by its mean and
variance. A test checks the estimator against the same model sampled by NUTS in PyMC.

A strategy with studies is shrunk toward its family; one without takes its family's predictive
distribution, which is wide when the family's strategies disagree; a family without studies takes
the overall distribution.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from exoforge.distributions import Z95
from exoforge.evidence.emulated import StudyUnit, acting_strategies, family_map, study_units

PRIOR_MU0_SD = 1.5
PRIOR_SD_SCALE = 1.0
GRID_POINTS = 16
GRID_MAX = 3.0


@dataclass(frozen=True)
class Posterior:
    """Posterior predictive of the per-cell log effect of one strategy."""

    strategy: str
    family: str
    mean: float  # posterior mean of theta_s
    var_theta: float  # posterior variance of theta_s
    var_new: float  # predictive variance of the effect in a new study (theta_s + sigma)
    k: int  # studies of this strategy in the data
    k_family: int  # studies in its family
    raw_mean: float | None  # unpooled mean of its studies (precision-weighted), None without studies
    family_mean: float  # posterior mean of mu_f

    @property
    def median(self) -> float:
        """Median multiplier exp(mean)."""
        return math.exp(self.mean)

    @property
    def sigma(self) -> float:
        """SD of ln(effect) a run draws: the new-study predictive SD."""
        return math.sqrt(self.var_new)

    @property
    def range_95(self) -> tuple[float, float]:
        """2.5th and 97.5th percentiles of the multiplier a run draws (lognormal, new-study SD)."""
        return math.exp(self.mean - Z95 * self.sigma), math.exp(self.mean + Z95 * self.sigma)

    @property
    def shrinkage(self) -> float | None:
        """Fraction of the way from the study mean to the family mean (0 = unpooled, 1 = family)."""
        if self.raw_mean is None or abs(self.raw_mean - self.family_mean) < 1e-12:
            return None
        return float((self.raw_mean - self.mean) / (self.raw_mean - self.family_mean))

    def pooling(self) -> dict[str, Any]:
        """Where the effect comes from: its family, the family's studies, its own studies' median (None
        without studies), the family's median and how far it was shrunk (the run JSON's evidence effects)."""
        return {
            "family": self.family,
            "family_studies": self.k_family,
            "own_studies_median": math.exp(self.raw_mean) if self.raw_mean is not None else None,
            "family_median": math.exp(self.family_mean),
            "shrinkage": self.shrinkage,
        }


@dataclass(frozen=True)
class HyperPosterior:
    """Posterior means of the three SDs."""

    sigma: float
    tau: float
    omega: float


@dataclass(frozen=True)
class SharedArm:
    """A comparison of the same study that shares a culture with one of a strategy's own (rule 6)."""

    #: the study's label (first author and year)
    study: str
    #: the strategy of the other comparison
    other: str
    #: of the two per-cell log effects' sampling errors (ln²): positive for a common arm, negative when
    #: one's control is the other's treated arm
    covariance: float
    #: of the two comparisons' study-level deviations (a fraction of sigma²): +1/2, -1/2 or 1
    study_correlation: float
    #: "the same comparison" (both arms: a record filed under two strategies), "a common arm", or
    #: "one's control is the other's treated arm"
    relation: str


def _grid() -> np.ndarray:
    return (np.arange(GRID_POINTS) + 0.5) * (GRID_MAX / GRID_POINTS)


#: Share of a comparison's sampling variance each arm carries (equal arm variances).
ARM_SHARE = 0.5


def _overlap(a: tuple[str, str], b: tuple[str, str]) -> int:
    """Shared arms of two comparisons (treated, control), signed as they enter ln(treated) - ln(control)."""
    (ta, ca), (tb, cb) = a, b
    return (ta == tb) - (ta == cb) - (ca == tb) + (ca == cb)


def _relation(a: StudyUnit, b: StudyUnit) -> str:
    overlaps = [_overlap((ta, ca), (tb, cb)) for ta, ca, _ in a.arm_errors for tb, cb, _ in b.arm_errors]
    if max(overlaps) == 2:
        return "the same comparison"
    return "a common arm" if max(overlaps) > 0 else "one's control is the other's treated arm"


def _arm_overlap_matrix(units: Sequence[StudyUnit], *, scaled: bool) -> np.ndarray:
    """Mean signed arm overlap of the records of two units of one study, times ``ARM_SHARE`` and, when
    ``scaled``, the records' sampling SDs (n x n, zero diagonal)."""
    n = len(units)
    c = np.zeros((n, n))
    for i, a in enumerate(units):
        for j, b in enumerate(units):
            if i == j or a.ref != b.ref or not a.arm_errors or not b.arm_errors:
                continue
            total = 0.0
            for ta, ca, va in a.arm_errors:
                for tb, cb, vb in b.arm_errors:
                    scale = math.sqrt(va * vb) if scaled else 1.0
                    total += _overlap((ta, ca), (tb, cb)) * ARM_SHARE * scale
            c[i, j] = total / (len(a.arm_errors) * len(b.arm_errors))
    return c


def shared_arm_covariance(units: Sequence[StudyUnit]) -> np.ndarray:
    """Covariance of the sampling errors of study units whose comparisons share an arm (n x n, zero diagonal).

    A record's log ratio is ln(treated) - ln(control); with each arm carrying ``ARM_SHARE`` of the
    record's variance, two records of one study covary by ARM_SHARE·sqrt(v_a·v_b) times
    [same treated] - [a's treated is b's control] - [a's control is b's treated] + [same control].
    A unit averages its records, so units covary by the mean over their pairs of records.
    """
    return _arm_overlap_matrix(units, scaled=True)


def shared_arm_correlation(units: Sequence[StudyUnit]) -> np.ndarray:
    """Correlation of the study-level deviations (``sigma``) of study units whose comparisons share an
    arm (n x n, zero diagonal): +1/2 for a common arm, -1/2 where one's control is the other's treated
    arm, 1 for the same comparison filed under two strategies, averaged over the units' records.

    The deviation of a comparison is that of its treated arm minus that of its control, each arm
    carrying half of ``sigma²`` (Higgins & Whitehead 1996); the same signed overlap as
    :func:`shared_arm_covariance`, without the sampling SDs. Adding it to ``sigma²·I`` keeps the
    covariance positive semi-definite: units averaging several contrasts have a true variance of at
    most ``sigma²``, and the diagonal is ``sigma²``.
    """
    return _arm_overlap_matrix(units, scaled=False)


def _halfnormal_logpdf(x: np.ndarray) -> np.ndarray:
    return -0.5 * (x / PRIOR_SD_SCALE) ** 2


class Hierarchy:
    """The fitted hierarchy over a set of study units."""

    def __init__(self, units: Sequence[StudyUnit], families: dict[str, str] | None = None):
        self.units = list(units)
        self.families = families if families is not None else family_map()
        g = _grid()
        s, t, o = np.meshgrid(g, g, g, indexing="ij")
        self.sigma, self.tau, self.omega = s.ravel(), t.ravel(), o.ravel()
        n = len(self.units)
        y = np.array([u.y for u in self.units])
        v = np.array([u.v for u in self.units])
        same_s = np.array([[a.strategy == b.strategy for b in self.units] for a in self.units], dtype=float)
        same_f = np.array([[a.family == b.family for b in self.units] for a in self.units], dtype=float)
        m = len(self.sigma)
        self.shared = shared_arm_covariance(self.units)
        self.shared_correlation = shared_arm_correlation(self.units)
        # Sigma(grid) = diag(v) + C + sigma² (I + R) + tau² S + omega² F + s0² 11'   (m, n, n)
        cov = (
            np.eye(n)[None] * v[None, :, None]
            + self.shared[None]
            + self.sigma[:, None, None] ** 2 * (np.eye(n) + self.shared_correlation)[None]
            + self.tau[:, None, None] ** 2 * same_s[None]
            + self.omega[:, None, None] ** 2 * same_f[None]
            + PRIOR_MU0_SD**2
        )
        if n:
            chol = np.linalg.cholesky(cov)
            alpha = np.linalg.solve(cov, np.broadcast_to(y, (m, n))[..., None])[..., 0]
            logdet = 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
            loglik = -0.5 * (np.einsum("i,gi->g", y, alpha) + logdet)
            self.cov_inv = np.linalg.inv(cov)
        else:
            loglik = np.zeros(m)
            self.cov_inv = np.zeros((m, 0, 0))
        logpost = (
            loglik + _halfnormal_logpdf(self.sigma) + _halfnormal_logpdf(self.tau) + _halfnormal_logpdf(self.omega)
        )
        w = np.exp(logpost - logpost.max())
        self.weights = w / w.sum()
        self.y = y

    def hyper(self) -> HyperPosterior:
        w = self.weights
        return HyperPosterior(float(w @ self.sigma), float(w @ self.tau), float(w @ self.omega))

    def _conditional(self, cov_target: np.ndarray, var_prior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance (per grid point) of a Gaussian target given the data."""
        if not self.units:
            return np.zeros(len(self.weights)), var_prior
        ci = np.einsum("gij,gj->gi", self.cov_inv, cov_target)
        mean = ci @ self.y
        var = var_prior - np.einsum("gi,gi->g", ci, cov_target)
        return mean, var

    def shared_arms(self, strategy: str) -> list[SharedArm]:
        """The other comparisons of ``strategy``'s own studies that share a culture with them."""
        return [
            SharedArm(
                a.label,
                self.units[j].strategy,
                float(self.shared[i, j]),
                float(self.shared_correlation[i, j]),
                _relation(a, self.units[j]),
            )
            for i, a in enumerate(self.units)
            if a.strategy == strategy
            for j in np.flatnonzero(self.shared[i])
        ]

    def _theta_covariance(self, strategy: str) -> np.ndarray:
        """Prior covariance (per grid point) of ``strategy``'s theta with every unit's observation."""
        family = self.families.get(strategy, strategy)
        is_s = np.array([u.strategy == strategy for u in self.units], dtype=float)
        is_f = np.array([u.family == family for u in self.units], dtype=float)
        cov: np.ndarray = (self.tau**2)[:, None] * is_s[None] + (self.omega**2)[:, None] * is_f[None] + PRIOR_MU0_SD**2
        return cov

    def predictive_correlation(self, a: str, b: str) -> float:
        """Correlation of the effects of strategies ``a`` and ``b`` in a new study of each (log scale).

        The two share the prior's overall mean and, in one family, the family's mean; their own
        deviations (tau) and each new study's deviation (sigma) are independent. The covariance is
        the posterior's, mixed over the hyperparameter grid (law of total covariance).
        """
        if a == b:
            return 1.0
        same_family = self.families.get(a, a) == self.families.get(b, b)
        prior = (self.omega**2 if same_family else 0.0) + PRIOR_MU0_SD**2
        ca, cb = self._theta_covariance(a), self._theta_covariance(b)
        if self.units:
            ma = np.einsum("gij,gj->gi", self.cov_inv, ca) @ self.y
            mb = np.einsum("gij,gj->gi", self.cov_inv, cb) @ self.y
            cov = prior - np.einsum("gi,gij,gj->g", ca, self.cov_inv, cb)
        else:
            ma = mb = np.zeros(len(self.weights))
            cov = prior * np.ones(len(self.weights))
        w = self.weights
        total = float(w @ (cov + ma * mb)) - float(w @ ma) * float(w @ mb)
        return total / math.sqrt(self.predict(a).var_new * self.predict(b).var_new)

    def predict(self, strategy: str) -> Posterior:
        """Posterior of theta for ``strategy`` (with or without its own studies)."""
        family = self.families.get(strategy, strategy)
        is_f = np.array([u.family == family for u in self.units], dtype=float)
        t2, o2, s2 = self.tau**2, self.omega**2, self.sigma**2
        c_theta = self._theta_covariance(strategy)
        mean, var = self._conditional(c_theta, t2 + o2 + PRIOR_MU0_SD**2)
        c_fam = o2[:, None] * is_f[None] + PRIOR_MU0_SD**2 * np.ones((1, len(self.units)))
        fmean, _ = self._conditional(c_fam, o2 + PRIOR_MU0_SD**2)
        w = self.weights
        m = float(w @ mean)
        var_theta = float(w @ (var + mean**2)) - m**2
        var_new = float(w @ (var + s2 + mean**2)) - m**2
        mine = [u for u in self.units if u.strategy == strategy]
        raw = None
        if mine:
            prec = np.array([1.0 / (u.v + 1e-12) for u in mine])
            raw = float(prec @ np.array([u.y for u in mine]) / prec.sum())
        return Posterior(
            strategy=strategy,
            family=family,
            mean=m,
            var_theta=max(var_theta, 0.0),
            var_new=max(var_new, 0.0),
            k=len(mine),
            k_family=int(is_f.sum()),
            raw_mean=raw,
            family_mean=float(w @ fmean),
        )


@lru_cache(maxsize=64)
def fitted(exclude_refs: tuple[str, ...] = ()) -> Hierarchy:
    """The hierarchy on the committed emulations, minus excluded references (cached)."""
    return Hierarchy(study_units(exclude_refs=exclude_refs))


def pooled_posterior(strategy: str, exclude_refs: tuple[str, ...] = ()) -> Posterior:
    """The partially pooled per-cell effect of ``strategy`` (log scale)."""
    return fitted(tuple(sorted(exclude_refs))).predict(strategy)


def run_effect(strategy: str, exclude_refs: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """The per-cell secretion multiplier a run draws for ``strategy``, and what it rests on (None for a
    strategy that does not act on secretion).

    Median and 95 % range for a new process (the lognormal a run samples), the strategy's own studies
    (each study's emulated per-cell effect with its SD and records), its family and how far it was
    shrunk, and the comparisons of its studies that share a culture with its own (rule 6).
    """
    hier = fitted(tuple(sorted(exclude_refs)))
    if strategy not in hier.families or strategy not in acting_strategies():
        return None
    post = hier.predict(strategy)
    return {
        "strategy": strategy,
        "median": post.median,
        "low_95": post.range_95[0],
        "high_95": post.range_95[1],
        "sigma_log": post.sigma,
        "k": post.k,
        **post.pooling(),
        "studies": [
            {
                "study": u.label,
                "ref": u.ref,
                "per_cell_effect": math.exp(u.y),
                "sd_log": math.sqrt(u.v),
                "records": list(u.record_ids),
                "discordant": u.discordant,
            }
            for u in hier.units
            if u.strategy == strategy
        ],
        "shared_arms": [dataclasses.asdict(a) for a in hier.shared_arms(strategy)],
    }
