"""Labour by operation and role.

The process wings report hands-on operator hours per step (item
``labour_rate_per_h``). This module adds the other roles a GMP batch needs:

* supervisor: a fraction of every operator hour, on the same step;
* quality assurance: batch-record review per batch and lot release per lot;
* QC analyst: hours per release test (see :mod:`.release`).

Each role has its own fully loaded hourly rate, ``price.<role>_rate_per_h``
(the operator rate is ``price.labour_rate_per_h``, which
``economics.labour_rate_per_h`` in a scenario overrides).
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from exoforge.parameters import UsageLog
from exoforge.resources import Resource

OPERATOR = "labour_rate_per_h"
#: Role of each labour price item.
ROLES = MappingProxyType(
    {
        OPERATOR: "operator",
        "supervisor_rate_per_h": "supervisor",
        "qa_rate_per_h": "quality assurance",
        "qc_analyst_rate_per_h": "QC analyst",
    }
)


def role_of(item: str) -> str | None:
    """The role a labour price item pays for, or None for other items."""
    return ROLES.get(item)


def supporting_roles(resources: list[Resource], lots: np.ndarray, p: UsageLog) -> list[Resource]:
    """Supervisor hours on every step with operator hours, and QA hours per batch and lot."""
    frac = p.get("labour.supervision_fraction", "")
    out = [
        Resource("supervisor_rate_per_h", r.quantity * frac, "h", r.step, "labour")
        for r in resources
        if r.item == OPERATOR
    ]
    qa = p.get("labour.batch_record_hours", "h") + np.maximum(lots, 1.0) * p.get("labour.qa_release_hours_per_lot", "h")
    out.append(Resource("qa_rate_per_h", qa, "h", "batch record and release", "labour"))
    return out
