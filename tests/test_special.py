"""Normal-distribution functions (exoforge.special): both paths (standard library, scipy) agree with scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from exoforge import special as xs


@pytest.mark.parametrize("size", [1, 7, xs._SMALL, xs._SMALL + 1, 10_000])
def test_ndtri_and_ndtr_match_scipy_on_either_path(size: int) -> None:
    rng = np.random.default_rng(size)
    u = rng.uniform(1e-12, 1 - 1e-12, size)
    np.testing.assert_allclose(xs.ndtri(u), special.ndtri(u), rtol=1e-12, atol=1e-13)
    x = rng.normal(0, 3, size)
    np.testing.assert_allclose(xs.ndtr(x), special.ndtr(x), rtol=1e-12, atol=1e-300)


def test_shapes_are_kept_and_the_functions_invert_each_other() -> None:
    u = np.array([[0.025, 0.5], [0.8, 0.975]])
    z = xs.ndtri(u)
    assert z.shape == u.shape
    assert z[0, 1] == 0.0
    assert z[1, 1] == pytest.approx(1.959963984540054, rel=1e-12)
    np.testing.assert_allclose(xs.ndtr(z), u, rtol=1e-12)
    assert xs.ndtri(np.array(0.5)).shape == ()


def test_tails() -> None:
    """Far tails stay finite and monotone (erfc keeps the lower tail's relative accuracy)."""
    x = np.array([-30.0, -10.0, 0.0, 10.0])
    p = xs.ndtr(x)
    assert p[0] > 0 and np.all(np.diff(p) > 0)
    assert p[0] == pytest.approx(special.ndtr(-30.0), rel=1e-10)
