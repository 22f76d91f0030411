"""An isolation train: the scenario's unit operations applied in order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from exoforge.downstream.common import runs
from exoforge.downstream.operations import OPERATIONS, step_name
from exoforge.downstream.physics import SizePopulation
from exoforge.downstream.stream import Limit, StepOutcome, Stream
from exoforge.parameters import UsageLog
from exoforge.resources import Resource
from exoforge.scenario import Scenario, UnitOperation


class OperationNotModelled(ValueError):
    """The scenario names a unit operation this version cannot simulate."""


@dataclass(frozen=True)
class TrainResult:
    steps: tuple[StepOutcome, ...]
    feed: Stream
    product: Stream

    @property
    def hours(self) -> np.ndarray:
        return cast("np.ndarray", np.sum([s.process_hours for s in self.steps], axis=0))

    @property
    def recovery(self) -> np.ndarray:
        return cast("np.ndarray", self.product.particles / np.maximum(self.feed.particles, 1e-300))

    @property
    def labour_hours(self) -> np.ndarray:
        return cast("np.ndarray", np.sum([s.labour_hours for s in self.steps], axis=0))

    @property
    def limits(self) -> tuple[Limit, ...]:
        """Scale limits of every step, in train order."""
        return tuple(lim for s in self.steps for lim in s.limits)

    def equipment(self) -> dict[str, tuple[str, np.ndarray]]:
        """Each capital item the train needs: the first step that uses it and the units needed, arrays (N,).

        A step whose scale limit is exceeded needs ``ceil(value / limit)`` units
        of its equipment in parallel (a second centrifuge, a larger skid); an
        item used by several steps is sized for the most demanding one.
        """
        out: dict[str, tuple[str, np.ndarray]] = {}
        for s in self.steps:
            units = np.ones_like(s.process_hours)
            for lim in s.limits:
                units = np.maximum(units, np.ceil(lim.value / lim.limit - 1e-9))
            for item in s.equipment:
                step, have = out.get(item, (s.name, units))
                out[item] = (step, np.maximum(have, units))
        return out


def run_train(ops: list[UnitOperation], feed: Stream, p: UsageLog) -> TrainResult:
    """Apply ``ops`` in order to ``feed``."""
    from exoforge.plugins import load_plugins

    load_plugins()
    stream = feed
    steps = []
    for i, op in enumerate(ops):
        fn = OPERATIONS.get(op.op)
        if fn is None:
            raise OperationNotModelled(
                f"isolation[{i}].op: '{op.op}' is not modelled by this version; modelled: {', '.join(OPERATIONS)}"
            )
        outcome = fn(op, stream, p, step_name(i, op.op))
        steps.append(outcome)
        stream = outcome.outlet
    return TrainResult(tuple(steps), feed, stream)


def lipoprotein_source_medium(scn: Scenario) -> str:
    """The medium whose serum or lysate supplies the counted background particles of the harvest.

    Conditioning in serum-free medium (or in the same medium) leaves the
    expansion medium's supplement as the only source (through the residual
    film); EV-depleted conditioning media bring their own.
    """
    cond = scn.conditioning.medium
    return scn.expansion.medium if cond in ("same", "serum_free") else cond


def harvest_stream(
    scn: Scenario,
    volume_l: np.ndarray,
    particles: np.ndarray,
    background_particles: np.ndarray,
    protein_ug: np.ndarray,
    p: UsageLog,
) -> Stream:
    """The harvest as a stream: medium-derived particles split into vesicles and lipoproteins."""
    share = p.get(f"medium_lipoprotein_share.{lipoprotein_source_medium(scn)}", "")
    measured = scn.ev_size.harvest if scn.ev_size is not None else None
    size = None
    if measured is not None:
        if measured.diameters_nm is None or measured.fractions is None:
            raise ValueError(
                "ev_size.harvest.nta_file was not read: load the scenario from its file (load_scenario) "
                "or give diameters_nm and fractions"
            )
        size = SizePopulation.of(measured.diameters_nm, measured.fractions, np.size(volume_l))
    return Stream(
        volume_l, particles, background_particles * (1 - share), protein_ug, background_particles * share, size
    )


def size_percentile(diameters_nm: np.ndarray, fractions: np.ndarray, q: float) -> float:
    """Diameter [nm] below which a fraction ``q`` of a binned number distribution lies (log-linear in bins)."""
    d = np.asarray(diameters_nm, dtype=float)
    f = np.asarray(fractions, dtype=float)
    f = f / f.sum()
    edges = np.sqrt(d[:-1] * d[1:])
    edges = np.concatenate([[d[0] ** 2 / edges[0]], edges, [d[-1] ** 2 / edges[-1]]])
    cum = np.concatenate([[0.0], np.cumsum(f)])
    return float(np.exp(np.interp(q, cum, np.log(edges))))


def size_distributions(scn: Scenario, train: TrainResult) -> dict[str, Any]:
    """Measured and predicted EV size distributions of a run (row 0 of the batch), when the scenario gives
    measured ones: the harvest as measured, the product as predicted after the train, the product as measured,
    and the D10/D50/D90 of each."""
    if scn.ev_size is None or train.feed.size is None:
        return {}

    def entry(d: np.ndarray, f: np.ndarray, source: str) -> dict[str, Any]:
        f = np.asarray(f, dtype=float) / np.sum(f)
        return {
            "diameters_nm": [float(x) for x in d],
            "fractions": [float(x) for x in f],
            "d10_nm": size_percentile(d, f, 0.1),
            "d50_nm": size_percentile(d, f, 0.5),
            "d90_nm": size_percentile(d, f, 0.9),
            "source": source,
        }

    harvest = scn.ev_size.harvest
    assert harvest is not None and harvest.fractions is not None
    out: dict[str, Any] = {
        "harvest_measured": entry(train.feed.size.diameters_nm, train.feed.size.weights[0], harvest.source or "")
    }
    product = train.product.size
    if product is not None:
        out["product_predicted"] = entry(
            product.diameters_nm, product.weights[0], "predicted after the isolation train"
        )
        out["steps"] = [
            {"step": s.name, "d50_nm": size_percentile(s.outlet.size.diameters_nm, s.outlet.size.weights[0], 0.5)}
            for s in train.steps
            if s.outlet.size is not None
        ]
    measured = scn.ev_size.product
    if measured is not None and measured.diameters_nm is not None and measured.fractions is not None:
        out["product_measured"] = entry(
            np.array(measured.diameters_nm), np.array(measured.fractions), measured.source or ""
        )
    return out


def simulate_downstream(scn: Scenario, feed: Stream, p: UsageLog) -> TrainResult:
    return run_train(list(scn.isolation), feed, p)


def containers(train: TrainResult, p: UsageLog) -> list[Resource]:
    """Single-use containers around the train: harvest bags for the conditioned medium, and vials
    for the final product (unless a lyophilisation step has already filled it into vials).

    Filling takes ``fill.minutes_per_vial`` of operator time per vial.
    """
    bags = runs(train.feed.volume_l, p.get("harvest.bag_volume", "L"))
    out = [Resource("harvest_bag_each", bags, "", "harvest")]
    if not any(s.op == "lyophilization" for s in train.steps):
        vials = runs(train.product.volume_l, p.get("fill.vial_volume", "L"))
        out.append(Resource("vial_each", vials, "", "fill"))
        out.append(Resource("labour_rate_per_h", vials * p.get("fill.minutes_per_vial", "h"), "h", "fill", "labour"))
    return out
