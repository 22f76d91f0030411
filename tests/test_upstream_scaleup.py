"""Scale-up helper: each rule keeps what it claims to keep, checks come with every point; the CLI face."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import exoforge as xf
from exoforge.cli import app
from exoforge.parameters import UsageLog
from exoforge.simulation import parameters_for
from exoforge.upstream.scaleup import BASES, NotScalable, scale_up
from tests.conftest import ROOT

LAB = ROOT / "examples" / "stirred_tank_tff_sec.yaml"


def _points(target: float, path=LAB, n: int = 1):
    scn = xf.load_scenario(path)
    ps = parameters_for(scn).params
    batch = ps.nominal(1) if n == 1 else ps.sample(n, np.random.default_rng(4))
    return {pt.basis: pt for pt in scale_up(scn, target, UsageLog(batch))}


def _value(point, name: str) -> np.ndarray:
    return next(c.value for c in point.checks if c.name == name)


def test_each_basis_keeps_its_quantity() -> None:
    pts = _points(50.0, n=8)
    lab = pts["lab"]
    assert set(pts) == {"lab", *BASES}
    np.testing.assert_allclose(
        pts["constant_power_per_volume"].hydrodynamics.power_per_volume, lab.hydrodynamics.power_per_volume, rtol=1e-12
    )
    np.testing.assert_allclose(
        pts["constant_tip_speed"].hydrodynamics.tip_speed, lab.hydrodynamics.tip_speed, rtol=1e-12
    )
    np.testing.assert_allclose(_value(pts["just_suspended"], "agitation_to_just_suspended_speed"), 1.0, rtol=1e-12)
    # same P/V keeps the Kolmogorov length; the same tip speed at a bigger impeller lowers P/V
    np.testing.assert_allclose(
        _value(pts["constant_power_per_volume"], "kolmogorov_length_um"), _value(lab, "kolmogorov_length_um")
    )
    assert np.all(pts["constant_tip_speed"].hydrodynamics.power_per_volume < lab.hydrodynamics.power_per_volume)
    assert np.all(pts["constant_tip_speed"].rpm < pts["constant_power_per_volume"].rpm)
    assert np.all(pts["constant_power_per_volume"].rpm < lab.rpm)


def test_every_point_carries_the_hydrodynamic_and_oxygen_checks() -> None:
    for pt in _points(50.0).values():
        names = {c.name for c in pt.checks}
        assert {
            "kolmogorov_length_um",
            "agitation_to_just_suspended_speed",
            "tip_speed_m_per_s",
            "shear_stress_pa",
            "max_shear_stress_pa",
            "power_per_volume_w_per_m3",
            "mixing_time_s",
            "oxygen_demand_to_supply",
            "min_dissolved_oxygen_fraction",
        } <= names


def test_surface_aeration_falls_behind_with_scale() -> None:
    """kLa of surface aeration falls as 1 / H: from 3 to 200 L the demand-to-supply ratio rises ~4-fold."""
    pts = _points(200.0)
    lab, big = pts["lab"], pts["constant_power_per_volume"]
    ratio = _value(big, "oxygen_demand_to_supply")[0] / _value(lab, "oxygen_demand_to_supply")[0]
    assert ratio == pytest.approx((200.0 / 3.0) ** (1.0 / 3.0), rel=1e-9)
    assert big.dissolved_oxygen_fraction[0] < lab.dissolved_oxygen_fraction[0]


def test_scale_up_refuses_what_it_cannot_scale() -> None:
    with pytest.raises(NotScalable):
        _points(50.0, ROOT / "examples" / "platform_planar.yaml")
    with pytest.raises(ValueError, match="outside"):
        _points(500.0)


def test_scaleup_command() -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["scaleup", str(LAB), "--to", "50", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert [p["basis"] for p in data["points"]] == ["lab", *BASES]
    assert all({"name", "value", "limit", "ok"} <= set(c) for p in data["points"] for c in p["checks"])
    table = runner.invoke(app, ["scaleup", str(LAB), "--to", "50"])
    assert table.exit_code == 0 and "just_suspended" in table.output
    bad = runner.invoke(app, ["scaleup", str(ROOT / "examples" / "platform_planar.yaml"), "--to", "50"])
    assert bad.exit_code == 2 and "scale-up applies to" in bad.output
