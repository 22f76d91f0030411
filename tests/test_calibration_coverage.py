"""Synthetic truth: data made by the model through the assay-noise layer are fitted back, and the true values fall
inside the 95 % intervals at about the stated rate over repeated draws (three parameter sets, two platforms).

Each draw is a new data set: a new systematic error of every assay (from its prior) and new random errors of
every value. The fits of one platform run in lockstep (:func:`exoforge.analysis.calibration.fit_many`), so all
their parameter sets are simulated together. The quick test draws 12 data sets per parameter set; the slow one 60.
"""

from __future__ import annotations

import numpy as np
import pytest

import exoforge as xf
from exoforge.analysis.calibration import CalibrationProblem, fit_many, with_values
from exoforge.distributions import Z95
from exoforge.measurements.noise import draw
from exoforge.measurements.table import BatchData, Measurement, SourceFile
from exoforge.upstream.schedule import build_schedule
from tests.conftest import ROOT

PLATFORMS = {
    "stirred_tank": ROOT / "examples" / "pilot_3l_stirred_tank.yaml",
    "planar": ROOT / "examples" / "platform_planar.yaml",
}
FIT = ("growth_rate_max", "glucose_uptake_rate", "ev_secretion_rate", "ev_loss_rate")
#: True values as offsets from each parameter's prior median on its log scale (within the priors' ranges).
PARAMETER_SETS = (
    (0.0, 0.0, 0.0, 0.0),
    (0.2, -0.2, 1.0, 0.5),
    (-0.15, 0.25, -0.8, -0.4),
)


def design(scn: xf.Scenario) -> BatchData:
    """Two batches: cells and glucose through expansion, EVs four times during the first conditioning."""
    sched = build_schedule(scn)
    e, c = sched.expansion_days, sched.conditioning_days
    rows = []
    for b in ("B1", "B2"):
        for t in (0.5, 0.3 * e, 0.6 * e, e):
            rows += [Measurement(b, t, "viable_cells", 1.0, r, "cell_count", f"{b} cells {t:g}") for r in "12"]
        for t in np.arange(1.0, e + c + 1e-9, 1.0):
            rows.append(Measurement(b, float(t), "glucose", 1.0, "1", "metabolite_analyser", f"{b} glc {t:g}"))
        for t in (e + 0.25 * c, e + 0.5 * c, e + 0.75 * c, e + c):
            rows += [Measurement(b, t, "ev_concentration", 1.0, r, "nta", f"{b} EV {t:g}") for r in "12"]
    return BatchData(tuple(rows), (SourceFile("synthetic design", "0"),))


def coverage(platform: str, draws: int, seed: int) -> np.ndarray:
    """Hits (parameter sets x draws, parameters): whether each 95 % interval holds the true value."""
    scn = xf.load_scenario(PLATFORMS[platform])
    problem = CalibrationProblem(design(scn), {"B1": scn, "B2": scn}, fit=FIT)
    p = problem.n_theta
    sys_sd = np.array([b.prior_sd for b in problem.biases])
    rng = np.random.default_rng(seed)
    truths, problems = [], []
    for offsets in PARAMETER_SETS:
        truth = problem.start[:p] + np.array(offsets)
        f = problem.predict(truth[None, :])[0]
        for _ in range(draws):
            values = draw(f, problem.sigma, problem.floor, np.maximum(problem.bias_of, 0), sys_sd, rng)
            problems.append(with_values(problem, values))
            truths.append(truth)
    results = fit_many(problems)
    assert all(r.success for r in results)
    hits = []
    for r, truth in zip(results, truths, strict=True):
        lo = r.x[:p] - Z95 * r.stderr[:p]
        hi = r.x[:p] + Z95 * r.stderr[:p]
        hits.append((lo <= truth) & (truth <= hi))
    return np.array(hits)


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_true_values_fall_inside_the_95_percent_intervals(platform: str) -> None:
    hits = coverage(platform, draws=12, seed=11)
    rate = hits.mean()
    # 3 sets x 12 draws x 4 parameters = 144 intervals: at a true rate of 95 % the observed rate lies in
    # 0.90-0.99 with probability > 0.99
    assert 0.90 <= rate <= 0.99, (platform, rate, hits.mean(axis=0))


@pytest.mark.slow
@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_coverage_over_many_draws(platform: str) -> None:
    hits = coverage(platform, draws=60, seed=23)
    rate = hits.mean()
    # 720 intervals: the binomial SD of the rate is 0.8 %
    assert 0.925 <= rate <= 0.975, (platform, rate)
    per_parameter = hits.mean(axis=0)
    assert np.all(per_parameter >= 0.88), (platform, dict(zip(FIT, per_parameter, strict=True)))
