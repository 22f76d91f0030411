"""The assay-noise layer: how a measured value scatters about the true one.

For a true value ``f`` of a variable measured by an assay with random SD
``s_r``, systematic SD ``s_s`` and floor ``c`` (all from ``assays.yaml`` or the
user's file)::

    ln(y + c) = ln(f * exp(b) + c) + s_r * e,   e ~ N(0, 1) for each measurement,
                                                b ~ N(0, s_s^2) once per assay and variable

so values well above the floor scatter multiplicatively (about ``s_r`` as a
coefficient of variation) and values near zero additively (about ``s_r * c``).
The fit uses exactly this model (one bias ``b`` per assay and variable, with its
prior); :func:`draw` generates synthetic data from it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, cast

import numpy as np

from exoforge.characterization.textfile import DataFileError
from exoforge.measurements.variables import VARIABLES
from exoforge.yamlio import load_yaml


@dataclass(frozen=True)
class AssayNoise:
    """Noise of one assay (see the module docstring)."""

    name: str
    random_sd_log: float
    systematic_sd_log: float
    floor: dict[str, float] = field(default_factory=dict)
    description: str = ""
    sources: tuple[dict[str, Any], ...] = ()

    def floor_of(self, variable: str) -> float:
        return float(self.floor.get(variable, 0.0))


def _float(v: Any) -> Any:
    """YAML 1.1 reads 1.0e6 (no exponent sign) as a string: take it as the number users mean."""
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return v
    return v


def _parse(raw: dict[str, Any], where: str) -> dict[str, AssayNoise]:
    if not isinstance(raw, dict) or not isinstance(raw.get("assays"), dict):
        raise DataFileError([f"{where}: expected a mapping 'assays:' of assay names to their noise"])
    out: dict[str, AssayNoise] = {}
    problems: list[str] = []
    for name, spec in raw["assays"].items():
        if not isinstance(spec, dict):
            problems.append(f"{where}: assays.{name}: expected a mapping")
            continue
        values: dict[str, float] = {}
        for key in ("random_sd_log", "systematic_sd_log"):
            if key not in spec:
                problems.append(f"{where}: assays.{name}.{key}: required key is missing")
                continue
            v = _float(spec.get(key))
            if not isinstance(v, int | float) or not 0 <= v <= 3:
                problems.append(f"{where}: assays.{name}.{key}: {v!r} is not allowed; give an SD of ln between 0 and 3")
            else:
                values[key] = float(v)
        if values.get("random_sd_log") == 0:
            problems.append(f"{where}: assays.{name}.random_sd_log: 0 gives measurements infinite weight; give > 0")
        floor = {k: _float(v) for k, v in (spec.get("floor") or {}).items()}
        for var, v in floor.items():
            if var not in VARIABLES:
                close = difflib.get_close_matches(str(var), list(VARIABLES), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                problems.append(f"{where}: assays.{name}.floor.{var}: not a variable{hint}")
            elif not isinstance(v, int | float) or v < 0:
                problems.append(f"{where}: assays.{name}.floor.{var}: {v!r} is not a non-negative number")
        if len(values) == 2:
            out[str(name)] = AssayNoise(
                str(name),
                values["random_sd_log"],
                values["systematic_sd_log"],
                {str(k): float(v) for k, v in floor.items() if isinstance(v, int | float)},
                str(spec.get("description", "")),
                tuple(spec.get("sources") or ()),
            )
    if problems:
        raise DataFileError(problems)
    return out


@lru_cache(maxsize=1)
def default_assays() -> dict[str, AssayNoise]:
    """The packaged assay noise (``measurements/assays.yaml``)."""
    text = resources.files("exoforge.measurements").joinpath("assays.yaml").read_text(encoding="utf-8")
    return _parse(load_yaml(text), "assays.yaml")


def load_assays(path: str | Path | None = None) -> dict[str, AssayNoise]:
    """The packaged assays, with the assays of the user's file (same layout) added or replacing them."""
    assays = dict(default_assays())
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise DataFileError([f"{p}: file not found"])
        try:
            raw = load_yaml(p.read_text(encoding="utf-8"))
        except Exception as exc:  # yaml errors
            raise DataFileError([f"{p}: not valid YAML: {' '.join(str(exc).split())}"]) from None
        assays.update(_parse(raw, str(p)))
    return assays


def draw(
    truth: np.ndarray,
    random_sd: np.ndarray,
    floor: np.ndarray,
    bias_index: np.ndarray,
    systematic_sd: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Measured values for true values ``truth`` (see the module docstring); negative draws are read as 0.

    ``bias_index[i]`` names the (assay, variable) group of value ``i``; ``systematic_sd[g]`` is that group's SD.
    """
    bias = rng.normal(0.0, 1.0, size=len(systematic_sd)) * systematic_sd
    noisy = (truth * np.exp(bias[bias_index]) + floor) * np.exp(random_sd * rng.normal(size=truth.shape)) - floor
    return cast("np.ndarray", np.maximum(noisy, 0.0))
