"""Uncertainty distributions (exoforge.distributions): every kind against scipy.stats, and its rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from exoforge.distributions import KINDS, Distribution, expit, logit

U = np.linspace(0.01, 0.99, 99)


def _scipy(kind: str, spec: dict[str, float], value: float):
    """The same distribution as a frozen scipy.stats object."""
    if kind == "lognormal":
        return stats.lognorm(s=spec["sigma"], scale=value)
    if kind == "normal":
        a = (spec.get("lower", -np.inf) - value) / spec["sd"]
        b = (spec.get("upper", np.inf) - value) / spec["sd"]
        return stats.truncnorm(a, b, loc=value, scale=spec["sd"])
    if kind == "uniform":
        return stats.uniform(spec["low"], spec["high"] - spec["low"])
    if kind == "loguniform":
        return stats.loguniform(spec["low"], spec["high"])
    if kind == "triangular":
        lo, hi = spec["low"], spec["high"]
        return stats.triang((value - lo) / (hi - lo), loc=lo, scale=hi - lo)
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "spec", "value"),
    [
        ("lognormal", {"sigma": 0.7}, 3e3),
        ("normal", {"sd": 0.2}, 1.0),
        ("normal", {"sd": 0.3, "lower": 0.0, "upper": 1.2}, 0.9),
        ("uniform", {"low": 2.0, "high": 5.0}, 3.0),
        ("loguniform", {"low": 1e-3, "high": 1e2}, 1.0),
        ("triangular", {"low": 0.1, "high": 0.9}, 0.3),
    ],
)
def test_ppf_is_the_scipy_inverse_cdf(kind: str, spec: dict[str, float], value: float) -> None:
    got = Distribution(kind, spec).ppf(U, value)
    np.testing.assert_allclose(got, _scipy(kind, spec, value).ppf(U), rtol=1e-9)


def test_logitnormal_is_normal_on_the_logit_scale() -> None:
    d = Distribution("logitnormal", {"sigma": 0.8})
    got = d.ppf(U, 0.3)
    np.testing.assert_allclose([logit(float(x)) for x in got], stats.norm(logit(0.3), 0.8).ppf(U), rtol=1e-9)
    assert np.all((got > 0) & (got < 1))


@pytest.mark.parametrize("kind", ["lognormal", "logitnormal"])
def test_a_95_interval_gives_sigma_from_the_wider_side(kind: str) -> None:
    value, low, high = 0.2, 0.05, 0.5
    d = Distribution(kind, {"low": low, "high": high})
    lo, hi = d.interval(value, level=0.95)
    # the wider side is reproduced exactly, the narrower one is wider than asked (never narrower)
    if kind == "lognormal":
        wide_is_high = math.log(high / value) >= math.log(value / low)
    else:
        wide_is_high = logit(high) - logit(value) >= logit(value) - logit(low)
    if wide_is_high:
        assert hi == pytest.approx(high, rel=1e-9)
        assert lo <= low
    else:
        assert lo == pytest.approx(low, rel=1e-9)
        assert hi >= high


def test_gsd_and_sigma_agree() -> None:
    a = Distribution("lognormal", {"gsd": 2.0}).ppf(U, 10.0)
    b = Distribution("lognormal", {"sigma": math.log(2.0)}).ppf(U, 10.0)
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_medians_and_fixed() -> None:
    half = np.array([0.5])
    assert Distribution("lognormal", {"sigma": 1.0}).ppf(half, 7.0)[0] == pytest.approx(7.0)
    assert Distribution("logitnormal", {"sigma": 1.0}).ppf(half, 0.7)[0] == pytest.approx(0.7)
    assert np.all(Distribution().ppf(U, 4.2) == 4.2)
    assert not Distribution().is_uncertain
    assert Distribution("uniform", {"low": 0, "high": 1}).is_uncertain


def test_extreme_uniform_numbers_stay_finite() -> None:
    """u of exactly 0 or 1 (possible from a Sobol sequence) is clipped: no infinite parameter."""
    for kind, spec, value in [
        ("lognormal", {"sigma": 2.0}, 1.0),
        ("logitnormal", {"sigma": 2.0}, 0.5),
        ("normal", {"sd": 1.0}, 0.0),
    ]:
        out = Distribution(kind, spec).ppf(np.array([0.0, 1.0]), value)
        assert np.all(np.isfinite(out)), kind


@pytest.mark.parametrize(
    ("kind", "spec", "value", "message"),
    [
        ("lognormal", {"sigma": 1.0}, 0.0, "positive value"),
        ("loguniform", {"low": 1, "high": 2}, -1.0, "positive value"),
        ("logitnormal", {"sigma": 1.0}, 1.0, r"\(0, 1\)"),
        ("uniform", {"low": 2, "high": 3}, 1.0, "bracketing"),
        ("triangular", {"low": 3, "high": 2}, 2.5, "bracketing"),
        ("lognormal", {}, 1.0, "gsd, sigma"),
        ("logitnormal", {}, 0.5, "sigma, or low"),
        ("normal", {}, 0.5, "needs sd"),
    ],
)
def test_validate_refuses_what_cannot_describe_the_value(kind, spec, value, message) -> None:
    with pytest.raises(ValueError, match=message):
        Distribution(kind, spec).validate(value)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="not one of"):
        Distribution("gamma")
    assert set(KINDS) >= {"fixed", "lognormal", "normal"}


def test_dict_round_trip() -> None:
    d = Distribution.from_dict({"kind": "lognormal", "low": 1, "high": 9})
    assert d == Distribution("lognormal", {"low": 1.0, "high": 9.0})
    assert Distribution.from_dict(d.to_dict()) == d
    assert Distribution.from_dict(None) == Distribution()


def test_widened_multiplies_the_spread() -> None:
    d = Distribution("lognormal", {"sigma": 0.5}).widened(2.0, 3.0)
    assert d.spec["sigma"] == pytest.approx(1.0)
    assert Distribution("logitnormal", {"sigma": 0.5}).widened(3.0, 0.4).spec["sigma"] == pytest.approx(1.5)
    assert Distribution("normal", {"sd": 0.2, "lower": 0}).widened(2.0, 1.0).spec == {"sd": 0.4, "lower": 0}
    # a fixed number loses its certainty: a fraction becomes logit-normal, a positive number lognormal
    assert Distribution().widened(2.0, 0.5) == Distribution("logitnormal", {"sigma": math.log(2.0)})
    assert Distribution().widened(2.0, 5.0) == Distribution("lognormal", {"gsd": 2.0})
    assert Distribution().widened(2.0, -1.0) == Distribution()
    # bounded kinds stretch about the value on the log scale when positive, linearly otherwise
    lo, hi = Distribution("uniform", {"low": 1.0, "high": 4.0}).widened(2.0, 2.0).spec.values()
    assert (lo, hi) == pytest.approx((0.5, 8.0))
    lo, hi = Distribution("triangular", {"low": -1.0, "high": 2.0}).widened(2.0, 0.0).spec.values()
    assert (lo, hi) == pytest.approx((-2.0, 4.0))


def test_expit_inverts_logit() -> None:
    x = np.array([1e-6, 0.2, 0.5, 0.9])
    np.testing.assert_allclose(expit(np.array([logit(float(v)) for v in x])), x, rtol=1e-9)
