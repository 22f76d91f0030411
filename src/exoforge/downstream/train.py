"""An isolation train: the scenario's unit operations applied in order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exoforge.downstream.operations import OPERATIONS, step_name
from exoforge.downstream.stream import StepOutcome, Stream
from exoforge.parameters import UsageLog
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
        return np.sum([s.process_hours for s in self.steps], axis=0)

    @property
    def recovery(self) -> np.ndarray:
        return self.product.particles / np.maximum(self.feed.particles, 1e-300)


def run_train(ops: list[UnitOperation], feed: Stream, p: UsageLog) -> TrainResult:
    """Apply ``ops`` in order to ``feed``."""
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


def simulate_downstream(scn: Scenario, feed: Stream, p: UsageLog) -> TrainResult:
    return run_train(list(scn.isolation), feed, p)
