"""What a nanoparticle-tracking (NTA) measurement says, whatever instrument exported it.

:class:`NTAMeasurement` holds, per video (NanoSight) or per position set
(ZetaView), the particle concentration and the size statistics, the number
size distribution in the instrument's bins, the instrument settings that NTA
results depend on (camera level, detection threshold or sensitivity, shutter,
temperature, viscosity; Vestad et al. 2017, doi:10.1080/20013078.2017.1344087:
the same sample gives different results at different settings, so settings must
be reported) and the dilution factor.

Concentrations are kept **as the file reports them**. Whether they are those
of the undiluted sample depends on the dilution factor: a NanoSight file that
says "Not recorded" reports the concentration of the suspension in the cell,
and the sample's concentration needs the factor from the user
(:meth:`NTAMeasurement.sample_concentration` refuses to guess one).

:func:`read_nta` opens either a NanoSight ``ExperimentSummary.csv`` or a
ZetaView ``.txt`` export, recognised by content, not by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from exoforge.characterization.textfile import DataFileError, read_text

#: Size statistics an NTA export reports (diameters in nm).
STATISTICS = ("mean", "mode", "sd", "d10", "d50", "d90")


@dataclass(frozen=True)
class Reported:
    """A quantity reported per video, with the instrument's average and standard error where given."""

    per_video: tuple[float | None, ...]
    average: float | None
    standard_error: float | None = None
    line: int | None = None  # where in the file it stands

    @classmethod
    def of(cls, values: list[float | None], line: int | None = None) -> Reported:
        """Average and standard error computed from the per-video values (when the file gives none)."""
        finite = [v for v in values if v is not None and math.isfinite(v)]
        avg = float(np.mean(finite)) if finite else None
        se = float(np.std(finite, ddof=1) / math.sqrt(len(finite))) if len(finite) > 1 else None
        return cls(tuple(values), avg, se, line)

    def to_dict(self) -> dict[str, Any]:
        return {"per_video": list(self.per_video), "average": self.average, "standard_error": self.standard_error}


@dataclass(frozen=True)
class SizeDistribution:
    """A number size distribution in bins: centres [nm] and concentration per bin [particles/mL].

    ``per_video`` is (bins, videos) when the file gives each video; ``average``
    is the instrument's average (or the mean of the videos).
    """

    centres_nm: np.ndarray
    average: np.ndarray
    per_video: np.ndarray | None = None
    standard_error: np.ndarray | None = None

    @property
    def widths_nm(self) -> np.ndarray:
        """Bin widths [nm] from the spacing of the centres (the first bin as wide as the second)."""
        c = self.centres_nm
        if c.size < 2:
            return np.ones_like(c)
        edges = np.concatenate([[c[0] - (c[1] - c[0]) / 2], (c[1:] + c[:-1]) / 2, [c[-1] + (c[-1] - c[-2]) / 2]])
        return np.diff(edges)

    @property
    def total(self) -> float:
        """Total concentration over the bins [particles/mL]."""
        return float(np.sum(self.average))

    def fractions(self) -> np.ndarray:
        """Number fraction in each bin (sums to 1)."""
        total = np.sum(self.average)
        return self.average / total if total > 0 else np.zeros_like(self.average)

    def percentile(self, q: float) -> float:
        """Diameter [nm] below which a fraction ``q`` of the particles lie (linear within bins)."""
        w = self.widths_nm
        edges = np.concatenate([[self.centres_nm[0] - w[0] / 2], self.centres_nm + w / 2])
        cum = np.concatenate([[0.0], np.cumsum(self.fractions())])
        return float(np.interp(q, cum, edges))

    def mean(self) -> float:
        return float(np.sum(self.fractions() * self.centres_nm))

    def mode(self) -> float:
        return float(self.centres_nm[int(np.argmax(self.average))])

    def to_dict(self) -> dict[str, Any]:
        keep = self.average > 0
        return {
            "centres_nm": self.centres_nm[keep].tolist(),
            "concentration_per_ml": self.average[keep].tolist(),
            "bin_width_nm": float(np.median(self.widths_nm)),
        }


@dataclass(frozen=True)
class NTAMeasurement:
    """One NTA measurement of one sample (see the module docstring)."""

    path: str
    instrument: str  # "NanoSight" or "ZetaView"
    software: str
    sample: str
    videos: tuple[str, ...]
    concentration: Reported  # particles/mL, as reported
    dilution_factor: float | None  # None: not recorded in the file
    dilution_line: int | None
    concentration_adjusted_for_dilution: bool  # True when the reported concentrations already include the factor
    size: dict[str, Reported]  # STATISTICS of the number distribution [nm]
    distribution: SizeDistribution | None
    settings: dict[str, Any] = field(default_factory=dict)  # camera level, detection threshold, temperature, ...
    warnings: tuple[str, ...] = ()

    @property
    def d50_nm(self) -> float | None:
        r = self.size.get("d50")
        return r.average if r is not None else None

    def sample_concentration(self, dilution: float | None = None) -> float:
        """Particle concentration of the undiluted sample [particles/mL].

        ``dilution`` is the user's factor (sample volume / volume of sample in the
        measured suspension, e.g. 200 for 1:200). It is required when the file
        does not record one, and refused when it contradicts the file.
        """
        avg = self.concentration.average
        if avg is None:
            raise DataFileError([f"{self.path}: no average particle concentration in the file"])
        if dilution is not None and (not math.isfinite(dilution) or dilution < 1):
            raise ValueError(f"dilution factor {dilution:g} is not allowed; give a factor of 1 or more (200 for 1:200)")
        recorded = self.dilution_factor
        if recorded is None:
            if dilution is None:
                at = f" (line {self.dilution_line})" if self.dilution_line else ""
                raise DataFileError(
                    [
                        f"{self.path}: the dilution factor is not recorded in the file{at}; give it "
                        "(e.g. --dilution 200 for a 1:200 dilution): exoforge never assumes one"
                    ]
                )
            return avg * dilution
        if dilution is not None and not math.isclose(dilution, recorded, rel_tol=1e-6):
            raise ValueError(
                f"{self.path}: the file records a dilution factor of {recorded:g} (line {self.dilution_line}); "
                f"--dilution {dilution:g} contradicts it"
            )
        return avg if self.concentration_adjusted_for_dilution else avg * recorded

    def summary(self, dilution: float | None = None) -> dict[str, Any]:
        """Plain data for JSON output and records (no arrays but the distribution's bins)."""
        try:
            sample_conc: float | None = self.sample_concentration(dilution)
            missing = None
        except DataFileError as exc:
            sample_conc, missing = None, exc.problems[0]
        out: dict[str, Any] = {
            "path": self.path,
            "instrument": self.instrument,
            "software": self.software,
            "sample": self.sample,
            "videos": len(self.videos),
            "concentration_per_ml_as_reported": self.concentration.to_dict(),
            "dilution_factor_recorded": self.dilution_factor,
            "dilution_factor_used": dilution if self.dilution_factor is None else self.dilution_factor,
            "sample_concentration_per_ml": sample_conc,
            "size_nm": {k: v.to_dict() for k, v in self.size.items()},
            "settings": dict(self.settings),
            "warnings": list(self.warnings),
        }
        if missing:
            out["sample_concentration_missing"] = missing
        if self.distribution is not None:
            out["distribution"] = self.distribution.to_dict()
        return out

    def record_entry(self, dilution: float | None = None) -> dict[str, Any]:
        """The particle part of a characterisation record (:mod:`exoforge.characterization.record`)."""
        entry: dict[str, Any] = {
            "method": "NTA",
            "instrument": self.instrument,
            "software": self.software,
            "source_file": self.path,
            "videos": len(self.videos),
            "concentration_per_ml": self.sample_concentration(dilution),
            "dilution_factor": self.dilution_factor if self.dilution_factor is not None else dilution,
            "size_nm": {k: v.average for k, v in self.size.items() if v.average is not None},
            "settings": {k: v for k, v in self.settings.items() if v is not None},
        }
        errors = {k: v.standard_error for k, v in self.size.items() if v.standard_error is not None}
        if errors:
            entry["size_standard_error_nm"] = errors
        return entry


def read_nta(path: str | Path) -> NTAMeasurement:
    """Read a NanoSight ``ExperimentSummary.csv`` or a ZetaView ``.txt`` export (recognised by content)."""
    from exoforge.characterization import nanosight, zetaview

    p = Path(path)
    text = read_text(p)
    head = text[:4000]
    if zetaview.looks_like(head):
        return zetaview.read_zetaview(p)
    if nanosight.looks_like(head):
        return nanosight.read_nanosight(p)
    raise DataFileError(
        [
            f"{p}: line 1: not an NTA export exoforge reads (expected a NanoSight 'NTA Experiment Summary File' "
            "with a [Results] section, or a ZetaView export with a 'Size / nm' table)"
        ]
    )
