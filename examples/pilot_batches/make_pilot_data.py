"""Make the synthetic pilot-batch data of this folder (python examples/pilot_batches/make_pilot_data.py).

The three "pilot batches" are not measurements: they are made by exoforge's own model of
examples/pilot_3l_stirred_tank.yaml at the parameter values below (TRUTH), passed through the
assay-noise layer (exoforge.measurements.noise: random and systematic error of each assay), so the
worked example runs anywhere and the fit can be judged against values that are known. Replace
batches.csv and the NTA exports by your own batches' data.

Writes batches.csv (long format), nta/B1_day10_ExperimentSummary.csv and
nta/B1_product_ExperimentSummary.csv (NanoSight NTA 3.3 layout; the dilution is "Not recorded",
as in many real exports, so it must be given on import: it was 1:200 for the harvest, 1:1000 for
the product).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

import exoforge as xf
from exoforge.analysis.calibration import CalibrationProblem
from exoforge.measurements.noise import default_assays, draw
from exoforge.measurements.table import BatchData, Measurement, SourceFile
from exoforge.parameters import UsageLog
from exoforge.scenario_parameters import parameters_for
from exoforge.upstream.culture_inputs import growth_increment

HERE = Path(__file__).parent
SCENARIO = HERE.parent / "pilot_3l_stirred_tank.yaml"
BATCHES = ("B1", "B2", "B3")
#: Parameter values the data are made from: (shared value, per-batch factors or None).
TRUTH = {
    # 1/day, the cells' rate in this platelet-lysate medium: growth_rate_max plus the medium's increment
    "growth_rate_max": (0.70, (1.0, 0.96, 1.04)),
    "glucose_uptake_rate": (0.30, None),  # pmol/cell/h
    "lactate_yield_on_glucose": (1.8, None),  # mol/mol
    "ev_secretion_rate": (3.0e4, (1.0, 1.1, 0.92)),  # particle/cell/day, measured on this process
    "ev_loss_rate": (0.15, None),  # 1/day
}
DESIGN = {  # variable: (days, technical replicates, assay, unit written, factor from the model unit)
    "viable_cells": ((0.5, 1, 3, 5, 7, 10), 2, "cell_count", "1e6 cells", 1e-6),
    "viability": ((3, 7, 10), 1, "cell_count", "%", 100.0),
    "glucose": ((1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 1, "metabolite_analyser", "mM", 1.0),
    "lactate": ((1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 1, "metabolite_analyser", "mM", 1.0),
    "ev_concentration": ((7.5, 8, 9, 10), 2, "nta", "particles/mL", 1.0),
}
HARVEST_DILUTION, PRODUCT_DILUTION = 200, 1000


def design() -> BatchData:
    rows = []
    for b in BATCHES:
        for var, (days, reps, assay, _, _) in DESIGN.items():
            for t in days:
                for r in range(1, reps + 1):
                    rows.append(Measurement(b, float(t), var, 1.0, str(r), assay, f"{b} day {t}"))
    return BatchData(tuple(rows), (SourceFile("design", ""),))


def truth_values(problem: CalibrationProblem, growth_increment: float) -> np.ndarray:
    """Transformed TRUTH; ``growth_increment`` (1/day) is the medium's, taken off the growth rate."""
    theta = np.empty(problem.n_theta)
    for j, p in enumerate(problem.parameters):
        value, factors = TRUTH[p.name]
        if p.batch is not None and factors is not None:
            value *= factors[BATCHES.index(p.batch)]
        if p.name == "growth_rate_max":
            value -= growth_increment
        theta[j] = p.transformed(value)
    return theta


def nanosight(path: Path, sample: str, per_video: list[float], median: float, gsd: float) -> None:
    """A NanoSight NTA 3.3 experiment summary (number weighting only) with a lognormal size distribution."""
    n = len(per_video)
    avg = float(np.mean(per_video))
    se = float(np.std(per_video, ddof=1) / math.sqrt(n))
    names = [f"{sample} {k + 1}" for k in range(n)]
    s = math.log(gsd)
    rows = [
        ["NTA Experiment Summary File"],
        ["Created with NTA 3.3 - Sample Assistant Dev Build 3.3.203"],
        [],
        ["[Experiment Details]", ""],
        ["Software Version", "NTA 3.3 - Sample Assistant Dev Build 3.3.203"],
        ["Sample Description", sample],
        ["Diluent", "PBS"],
        [],
        ["Filename:", *names],
        [],
        ["[Conditions]", *[""] * n],
        ["Temperature/C", *["25.000"] * n],
        ["Viscosity/cP", *["0.889000"] * n],
        ["Camera Type", *["sCMOS"] * n],
        ["Camera Level", *["14"] * n],
        [],
        ["[Settings]", *[""] * n],
        ["Detection Threshold", *["5"] * n],
        ["Total frames analysed", *["1498"] * n],
        [],
        ["[Results]", *[""] * n, "Average", "Standard Error"],
        ["Dilution factor (concentrations adjusted for this factor)", *["Not recorded"] * n, "", ""],
        ["Concentration (Particles / ml)", *[f"{c:.2e}" for c in per_video], f"{avg:.2e}", f"{se:.2e}"],
        [],
        ["[Size Data]", ""],
        ["Analysis Method", "FTLA"],
        ["Weighting", "Number"],
        ["Filename", *names, "Average", "Standard Error"],
    ]
    stats = {
        "Mean": median * math.exp(s**2 / 2),
        "Mode": median * math.exp(-(s**2)),
        "SD": median * math.sqrt((math.exp(s**2) - 1) * math.exp(s**2)),
        "D10": median * gsd**-1.2816,
        "D50": median,
        "D90": median * gsd**1.2816,
    }
    for k, v in stats.items():
        rows.append([k, *[f"{v:.1f}"] * n, f"{v:.1f}", "0.0"])
    rows += [
        ["Graph Data"],
        ["Bin centre (nm)", *["Concentration (particles / ml)"] * n, "Concentration average", "Standard Error"],
    ]
    for i in range(1000):
        lo, hi = max(i, 1e-9), i + 1.0
        frac = 0.5 * (
            math.erf(math.log(hi / median) / (s * math.sqrt(2))) - math.erf(math.log(lo / median) / (s * math.sqrt(2)))
        )
        vals = [round(c * frac) for c in per_video]
        rows.append([f"{i + 0.5:.1f}", *map(str, vals), str(round(float(np.mean(vals)))), "0"])
    with path.open("w", newline="", encoding="cp1252") as fh:
        csv.writer(fh, lineterminator="\n").writerows([[*r, ""] for r in rows])


def main() -> None:
    scn = xf.load_scenario(SCENARIO)
    problem = CalibrationProblem(
        design(),
        dict.fromkeys(BATCHES, scn),
        fit=list(TRUTH),
        per_batch=[n for n, (_, f) in TRUTH.items() if f is not None],
    )
    central = UsageLog(parameters_for(scn).params.nominal(1))
    increment = float(growth_increment(scn.expansion.medium, central)[0])
    truth = problem.predict(truth_values(problem, increment)[None, :])[0]
    assays = default_assays()
    groups = {
        (a, v): k for k, (a, v) in enumerate(dict.fromkeys((m.assay, m.variable) for m in problem.data.measurements))
    }
    index = np.array([groups[m.assay, m.variable] for m in problem.data.measurements])
    sd_sys = np.array([assays[a].systematic_sd_log for a, _ in groups])
    measured = draw(truth, problem.sigma, problem.floor, index, sd_sys, np.random.default_rng(20261203))
    (HERE / "nta").mkdir(exist_ok=True)
    with (HERE / "batches.csv").open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["# synthetic pilot batches made by make_pilot_data.py (see its docstring)"])
        out.writerow(["batch", "time", "variable", "value", "unit", "replicate", "assay"])
        for m, y in zip(problem.data.measurements, measured, strict=True):
            _, _, assay, unit, factor = DESIGN[m.variable]
            out.writerow([m.batch, f"{m.time_day:g}", m.variable, f"{y * factor:.4g}", unit, m.replicate, assay])
    rng = np.random.default_rng(7)
    harvest = float(
        np.mean(
            [
                y
                for m, y in zip(problem.data.measurements, measured, strict=True)
                if m.batch == "B1" and m.variable == "ev_concentration" and m.time_day == 10
            ]
        )
    )
    videos = list(harvest / HARVEST_DILUTION * np.exp(rng.normal(0, 0.08, 5)))
    nanosight(HERE / "nta" / "B1_day10_ExperimentSummary.csv", "B1 harvest d200", videos, 105.0, 1.55)
    # after isolation: the product of the pilot train, measured at 1:1000 (about 1e11 particles/mL)
    product = list(1.1e11 / PRODUCT_DILUTION * np.exp(rng.normal(0, 0.08, 5)))
    nanosight(HERE / "nta" / "B1_product_ExperimentSummary.csv", "B1 product d1000", product, 98.0, 1.45)


if __name__ == "__main__":
    main()
