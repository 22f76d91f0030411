"""Uncertainty distributions of parameters, sampled through their inverse CDF.

Every distribution is defined around the parameter's central ``value`` and
exposes :meth:`Distribution.ppf`, so random, Latin-hypercube and Sobol samplers
all map uniform numbers in (0, 1) to parameter values the same way.

Kinds (``spec`` keys in the parameter data files):

``fixed``
    no uncertainty.
``lognormal``
    median = value; ``gsd`` (geometric SD) or ``sigma`` (SD of ln x), or a 95 %
    interval ``low``/``high`` (sigma from the wider side).
``normal``
    mean = value, ``sd``; optional ``lower``/``upper`` truncation.
``uniform`` / ``loguniform``
    between ``low`` and ``high``.
``triangular``
    ``low``, mode = value, ``high``.
``logitnormal``
    for fractions in (0, 1): median = value; ``sigma`` on the logit scale, or a
    95 % interval ``low``/``high``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from exoforge.special import ndtri

KINDS = ("fixed", "lognormal", "normal", "uniform", "loguniform", "triangular", "logitnormal")
#: The standard normal's 97.5th percentile: a central 95 % interval is mean +/- Z95 standard deviations.
Z95 = 1.959963984540054


def logit(x: float) -> float:
    return math.log(x / (1.0 - x))


def expit(x: np.ndarray) -> np.ndarray:
    return cast("np.ndarray", 1.0 / (1.0 + np.exp(-x)))


@dataclass(frozen=True)
class Distribution:
    """An uncertainty distribution about a central value (see module docstring)."""

    kind: str = "fixed"
    spec: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"distribution kind '{self.kind}' is not one of {', '.join(KINDS)}")

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Distribution:
        if not raw:
            return cls()
        raw = dict(raw)
        kind = str(raw.pop("kind", "fixed"))
        return cls(kind, {k: float(v) for k, v in raw.items()})

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.spec}

    @property
    def is_uncertain(self) -> bool:
        return self.kind != "fixed"

    # -- parameters on the transformed scale ---------------------------------
    def _log_sigma(self, value: float) -> float:
        s = self.spec
        if "sigma" in s:
            return s["sigma"]
        if "gsd" in s:
            return math.log(s["gsd"])
        if "low" in s and "high" in s:
            lo, hi = s["low"], s["high"]
            return max(math.log(hi / value), math.log(value / lo)) / Z95
        raise ValueError("a lognormal distribution needs gsd, sigma, or low and high")

    def _logit_sigma(self, value: float) -> float:
        s = self.spec
        if "sigma" in s:
            return s["sigma"]
        if "low" in s and "high" in s:
            mid = logit(value)
            return float(max(logit(s["high"]) - mid, mid - logit(s["low"])) / Z95)
        raise ValueError("a logitnormal distribution needs sigma, or low and high")

    def validate(self, value: float) -> None:
        """Raise ``ValueError`` when the distribution cannot describe ``value``."""
        if self.kind in ("lognormal", "loguniform") and value <= 0:
            raise ValueError(f"a {self.kind} distribution needs a positive value (got {value})")
        if self.kind == "logitnormal" and not 0 < value < 1:
            raise ValueError(f"a logitnormal distribution needs a value in (0, 1) (got {value})")
        if self.kind in ("uniform", "loguniform", "triangular"):
            lo, hi = self.spec.get("low"), self.spec.get("high")
            if lo is None or hi is None or not lo <= value <= hi or lo >= hi:
                raise ValueError(f"{self.kind} needs low < high bracketing the value {value}")
        if self.kind == "lognormal":
            self._log_sigma(value)
        if self.kind == "logitnormal":
            self._logit_sigma(value)
        if self.kind == "normal" and "sd" not in self.spec:
            raise ValueError("a normal distribution needs sd")

    def ppf(self, u: np.ndarray, value: float) -> np.ndarray:
        """Inverse CDF: map uniform numbers ``u`` in (0, 1) to parameter values."""
        u = np.clip(np.asarray(u, dtype=float), 1e-12, 1 - 1e-12)
        k, s = self.kind, self.spec
        if k == "fixed":
            return np.full_like(u, value)
        if k == "lognormal":
            return value * np.exp(self._log_sigma(value) * ndtri(u))
        if k == "normal":
            from scipy import stats

            lo = s.get("lower", -np.inf)
            hi = s.get("upper", np.inf)
            a, b = (lo - value) / s["sd"], (hi - value) / s["sd"]
            return np.asarray(stats.truncnorm.ppf(u, a, b, loc=value, scale=s["sd"]))
        if k == "uniform":
            return s["low"] + u * (s["high"] - s["low"])
        if k == "loguniform":
            return cast("np.ndarray", np.exp(np.log(s["low"]) + u * (np.log(s["high"]) - np.log(s["low"]))))
        if k == "triangular":
            lo, hi, mode = s["low"], s["high"], value
            fc = (mode - lo) / (hi - lo)
            left = lo + np.sqrt(u * (hi - lo) * (mode - lo))
            right = hi - np.sqrt((1 - u) * (hi - lo) * (hi - mode))
            return np.where(u < fc, left, right)
        if k == "logitnormal":
            return expit(logit(value) + self._logit_sigma(value) * ndtri(u))
        raise AssertionError(k)

    def interval(self, value: float, level: float = 0.90) -> tuple[float, float]:
        """Central interval of the distribution (default 5th-95th percentile)."""
        lo, hi = self.ppf(np.array([(1 - level) / 2, (1 + level) / 2]), value)
        return float(lo), float(hi)

    def widened(self, factor: float, value: float) -> Distribution:
        """The same kind of distribution with its spread multiplied by ``factor``.

        Used when a parameter loses its source (``--exclude-ref``) and stands on
        an assumption; a fixed parameter becomes lognormal with gsd = factor.
        """
        if self.kind == "lognormal":
            return Distribution("lognormal", {"sigma": self._log_sigma(value) * factor})
        if self.kind == "logitnormal":
            return Distribution("logitnormal", {"sigma": self._logit_sigma(value) * factor})
        if self.kind == "normal":
            spec = dict(self.spec)
            spec["sd"] = spec["sd"] * factor
            return Distribution("normal", spec)
        if self.kind == "fixed":
            if 0 < value < 1:
                return Distribution("logitnormal", {"sigma": math.log(factor)})
            if value > 0:
                return Distribution("lognormal", {"gsd": factor})
            return self
        # bounded kinds: stretch about the value on the log scale when positive
        lo, hi = self.spec["low"], self.spec["high"]
        if lo > 0:
            lo2, hi2 = value * (lo / value) ** factor, value * (hi / value) ** factor
        else:
            lo2, hi2 = value - (value - lo) * factor, value + (hi - value) * factor
        return Distribution(self.kind, {"low": lo2, "high": hi2})
