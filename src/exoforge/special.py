"""Normal-distribution functions, vectorised, without paying scipy's import on small work.

``scipy.special`` costs a quarter of a second to import; a single run only
needs these functions on a handful of numbers. Small arrays use the standard
library (exact to double precision); large arrays use ``scipy.special``.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

_SMALL = 2048  # below this, a Python loop (~1 µs per element) beats importing scipy
_ND = NormalDist()


def ndtri(u: np.ndarray) -> np.ndarray:
    """Inverse of the standard normal CDF."""
    u = np.asarray(u, dtype=float)
    if u.size <= _SMALL:
        return np.array([_ND.inv_cdf(float(x)) for x in u.ravel()]).reshape(u.shape)
    from scipy import special

    return np.asarray(special.ndtri(u))


def ndtr(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF."""
    x = np.asarray(x, dtype=float)
    if x.size <= _SMALL:
        return np.array([0.5 * math.erfc(-float(v) / math.sqrt(2.0)) for v in x.ravel()]).reshape(x.shape)
    from scipy import special

    return np.asarray(special.ndtr(x))
