"""Why a run at the central values and the median of a Monte Carlo differ, in numbers.

``exoforge run`` evaluates the process once, every parameter at its central
value; ``exoforge mc`` evaluates it for many parameter sets and reports the
median. The two agree only for a model that is linear in its parameters (or
monotone with symmetric inputs). Three things separate them, each measured
here from the samples themselves:

* **where the central run falls** among the samples (its percentile): a value
  far from the 50th percentile means the model responds unevenly to the
  uncertainty, e.g. growth that saturates at a maximum density can lose more
  than it can gain;
* **the chain of factors** behind the KPI (cells, harvested EVs, recovery,
  particles, doses, cost per batch for a cost per dose): the factor whose
  central value sits furthest from its median is where the gap comes from;
* **skew** (mean over median, 95th percentile over median): a ratio such as
  cost over yield is right-skewed, so a few low-yield samples pull the mean far
  above the median;
* **failed checks**: the share of samples that fail an engineering check, the
  checks they fail most, and the median among samples that pass every check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from exoforge.analysis.uncertainty import MonteCarloResult

#: The factors behind each KPI whose gap is explained, upstream first.
CHAINS: dict[str, tuple[str, ...]] = {
    "cost.per_dose": (
        "cells.harvested",
        "ev.harvested_particles",
        "ev.recovery_fraction",
        "ev.final_particles",
        "doses_per_batch_exact",
        "cost.per_batch",
    ),
    "cost.per_dose_supplied": (
        "cells.harvested",
        "ev.final_particles",
        "doses_released_per_batch",
        "batches_per_year",
        "cost.per_batch",
    ),
    "ev.final_particles": ("cells.harvested", "ev.harvested_particles", "ev.recovery_fraction"),
}


def _percentile_of(x: np.ndarray, value: float) -> float:
    """Share of the finite samples below ``value`` (ties count half)."""
    v = x[np.isfinite(x)]
    if not v.size or not math.isfinite(value):
        return float("nan")
    return float((np.sum(v < value) + 0.5 * np.sum(v == value)) / v.size)


@dataclass(frozen=True)
class Factor:
    """One factor of the chain: its central value, median and the central value's percentile."""

    kpi: str
    central: float
    median: float
    percentile: float

    @property
    def ratio(self) -> float:
        """Median over central value (NaN when undefined)."""
        if not (math.isfinite(self.central) and math.isfinite(self.median)) or self.central == 0:
            return float("nan")
        return self.median / self.central


@dataclass(frozen=True)
class CentralVsMedian:
    """The central run against the Monte Carlo distribution of one KPI."""

    kpi: str
    central: float
    median: float
    mean: float
    p95: float
    percentile: float  # share of samples below the central value
    p_all_checks_pass: float | None
    median_when_checks_pass: float
    most_failed_checks: tuple[tuple[str, float], ...]  # (check, share of samples failing it)
    factors: tuple[Factor, ...] = field(default_factory=tuple)

    @property
    def ratio(self) -> float:
        return Factor(self.kpi, self.central, self.median, self.percentile).ratio

    def main_factor(self) -> Factor | None:
        """The factor whose central value sits furthest from the middle of its samples."""
        scored = [f for f in self.factors if math.isfinite(f.percentile)]
        return max(scored, key=lambda f: abs(f.percentile - 0.5), default=None)

    def lines(self) -> list[str]:
        """The explanation, one sentence per line."""
        if not (math.isfinite(self.central) and math.isfinite(self.median)):
            return [f"{self.kpi}: no finite central value or median to compare"]
        out = [
            f"{self.kpi}: the central run (every parameter at its central value) gives {_num(self.central)}; "
            f"the Monte Carlo median is {_num(self.median)} ({_ratio(self.ratio)} the central value)."
        ]
        out.append(
            f"The central run sits at the {_ordinal(self.percentile)} percentile of the samples, not the 50th: "
            "the process is non-linear, so the median of an output is not the output at the median inputs."
        )
        main = self.main_factor()
        if main is not None and main.kpi != self.kpi and abs(main.percentile - 0.5) >= 0.1:
            out.append(
                f"Largest shift along the chain: {main.kpi}, central {_num(main.central)} against a median of "
                f"{_num(main.median)} (central at the {_ordinal(main.percentile)} percentile)."
            )
        if math.isfinite(self.mean) and self.median > 0:
            skew = self.mean / self.median
            tail = self.p95 / self.median if math.isfinite(self.p95) else float("nan")
            if skew > 1.1:
                out.append(
                    f"The distribution is right-skewed: mean {_num(self.mean)} is {skew:.2g}x the median and the "
                    f"95th percentile {_num(self.p95)} is {tail:.2g}x (a ratio such as cost over yield is dominated "
                    "by its low-yield samples)."
                )
            elif skew < 0.9:
                out.append(f"The distribution is left-skewed: mean {_num(self.mean)} is {skew:.2g}x the median.")
        if self.p_all_checks_pass is not None:
            fail = 1.0 - self.p_all_checks_pass
            if fail > 0:
                worst = ", ".join(f"{name} ({share:.0%})" for name, share in self.most_failed_checks[:3])
                text = f"{fail:.0%} of the samples fail at least one engineering check (most often: {worst})"
                if math.isfinite(self.median_when_checks_pass):
                    text += f"; among samples that pass every check the median is {_num(self.median_when_checks_pass)}"
                out.append(text + ".")
            else:
                out.append("Every sample passes every engineering check.")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "kpi": self.kpi,
            "central": self.central,
            "median": self.median,
            "mean": self.mean,
            "p95": self.p95,
            "median_over_central": self.ratio,
            "central_percentile": self.percentile,
            "p_all_checks_pass": self.p_all_checks_pass,
            "median_when_checks_pass": self.median_when_checks_pass,
            "most_failed_checks": [{"check": n, "fail_fraction": s} for n, s in self.most_failed_checks],
            "factors": [
                {"kpi": f.kpi, "central": f.central, "median": f.median, "central_percentile": f.percentile}
                for f in self.factors
            ],
            "explanation": self.lines(),
        }


def _num(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    return f"{x:.3g}" if abs(x) >= 1e5 or (x != 0 and abs(x) < 1e-2) else f"{x:,.3g}"


def _ratio(r: float) -> str:
    return "-" if not math.isfinite(r) else f"{r:.2g}x"


def _ordinal(share: float) -> str:
    if not math.isfinite(share):
        return "unknown"
    n = round(100 * share)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def central_vs_median(mc: MonteCarloResult, kpi: str = "cost.per_dose") -> CentralVsMedian | None:
    """Compare the central run with the Monte Carlo distribution of ``kpi`` (None without central values)."""
    from exoforge.analysis.uncertainty import quantiles

    central = mc.central
    if kpi not in central or kpi not in mc.kpis:
        return None
    ok = mc.valid
    x = mc.kpis[kpi][ok]
    med, p95 = quantiles(x, (0.5, 0.95))
    finite = x[np.isfinite(x)]
    passing = mc.outcomes.all_checks_pass[ok]
    med_pass = quantiles(x[passing], (0.5,))[0] if passing.any() else float("nan")
    rates = mc.check_pass_rates()
    failed = tuple(sorted(((n, 1.0 - r) for n, r in rates.items() if r < 1.0), key=lambda t: -t[1]))
    factors = []
    for f in CHAINS.get(kpi, ()):
        if f in mc.kpis and f in central:
            y = mc.kpis[f][ok]
            factors.append(Factor(f, central[f], quantiles(y, (0.5,))[0], _percentile_of(y, central[f])))
    return CentralVsMedian(
        kpi,
        central[kpi],
        med,
        float(finite.mean()) if finite.size else float("nan"),
        p95,
        _percentile_of(x, central[kpi]),
        mc.p_all_checks_pass,
        med_pass,
        failed,
        tuple(factors),
    )
