"""Resources a process consumes: the common currency between the process wings and costing.

Upstream and downstream report what they use (litres of medium, m² of
membrane, operator hours) as :class:`Resource` lines; the economics wing
prices them. Neither side imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CATEGORIES = ("media", "consumables", "labour", "qc", "facility")


@dataclass(frozen=True)
class Resource:
    """A quantity of one priced item used by one process step.

    Attributes
    ----------
    item : price key, looked up as parameter ``price.<item>`` (or the labour rate)
    quantity : array (N,) in ``unit``
    unit : unit of the quantity, e.g. 'L', 'm**2', 'h', 'batch'
    step : process step that uses it, e.g. 'expansion', '2. tff'
    category : one of :data:`CATEGORIES`
    """

    item: str
    quantity: np.ndarray
    unit: str
    step: str
    category: str = "consumables"
