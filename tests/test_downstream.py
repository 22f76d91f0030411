"""Isolation steps never create particles or protein; volumes and times stay positive."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import exoforge as xf
from exoforge.downstream.chromatography import SEC, AnionExchange, Immunoaffinity, Multimodal
from exoforge.downstream.filtration import TFF, DepthFiltration, Microfiltration, SterileFiltration, Ultrafiltration
from exoforge.downstream.formulation import Hold, Lyophilization, Storage
from exoforge.downstream.operations import OPERATIONS
from exoforge.downstream.precipitation import PEGPrecipitation
from exoforge.downstream.sedimentation import Centrifugation, DensityGradient, Ultracentrifugation
from exoforge.downstream.stream import Stream
from exoforge.downstream.train import run_train
from exoforge.parameters import UsageLog
from exoforge.simulation import parameters_for
from tests.conftest import EXAMPLES

PS = parameters_for(xf.load_scenario(EXAMPLES[0])).params

#: One hypothesis strategy per modelled unit operation, with its settings drawn over their ranges.
OP_STRATEGIES = {
    "centrifugation": st.builds(
        Centrifugation, op=st.just("centrifugation"), g=st.floats(100, 20000), minutes=st.floats(1, 60)
    ),
    "depth_filtration": st.builds(
        DepthFiltration, op=st.just("depth_filtration"), area_m2=st.none() | st.floats(0.01, 5)
    ),
    "microfiltration": st.builds(
        Microfiltration,
        op=st.just("microfiltration"),
        pore_um=st.floats(0.1, 1.0),
        area_m2=st.none() | st.floats(0.01, 5),
    ),
    "ultracentrifugation": st.builds(
        Ultracentrifugation,
        op=st.just("ultracentrifugation"),
        g=st.floats(10_000, 300_000),
        minutes=st.floats(30, 240),
        washes=st.integers(0, 2),
        rotor=st.sampled_from(["fixed_angle", "swinging_bucket"]),
        cutoff_nm=st.none() | st.floats(30, 200),
    ),
    "density_gradient": st.builds(
        DensityGradient, op=st.just("density_gradient"), medium=st.sampled_from(["iodixanol", "sucrose"])
    ),
    "tff": st.builds(
        TFF,
        op=st.just("tff"),
        mwco_kda=st.floats(10, 5000),
        concentration_factor=st.floats(1, 200),
        diafiltration_volumes=st.floats(0, 10),
    ),
    "ultrafiltration": st.builds(
        Ultrafiltration,
        op=st.just("ultrafiltration"),
        mwco_kda=st.floats(3, 1000),
        concentration_factor=st.floats(1, 100),
    ),
    "sec": st.builds(
        SEC,
        op=st.just("sec"),
        resin=st.sampled_from(["sepharose_cl2b", "sepharose_cl4b", "sepharose_cl6b", "qev"]),
        column_volume_ml=st.none() | st.floats(1, 5000),
    ),
    "anion_exchange": st.builds(
        AnionExchange, op=st.just("anion_exchange"), resin_volume_ml=st.none() | st.floats(0.1, 5000)
    ),
    "multimodal_chromatography": st.builds(
        Multimodal,
        op=st.just("multimodal_chromatography"),
        mode=st.sampled_from(["core_bead", "dual_mode"]),
        resin_volume_ml=st.none() | st.floats(0.1, 5000),
    ),
    "peg_precipitation": st.builds(
        PEGPrecipitation, op=st.just("peg_precipitation"), peg_percent=st.floats(1, 20), hours=st.floats(0.5, 24)
    ),
    "immunoaffinity": st.builds(
        Immunoaffinity, op=st.just("immunoaffinity"), marker=st.sampled_from(["cd9", "cd63", "cd81", "pan_tetraspanin"])
    ),
    "sterile_filtration": st.builds(SterileFiltration, op=st.just("sterile_filtration"), pore_um=st.floats(0.1, 0.45)),
    "lyophilization": st.builds(
        Lyophilization,
        op=st.just("lyophilization"),
        excipient=st.sampled_from(["trehalose", "sucrose", "mannitol", "none"]),
    ),
    "storage": st.builds(
        Storage,
        op=st.just("storage"),
        temperature_c=st.sampled_from([4, -20, -80]),
        days=st.floats(0, 365),
        freeze_thaw_cycles=st.integers(0, 5),
    ),
    "hold": st.builds(Hold, op=st.just("hold"), hours=st.floats(0.1, 200)),
}
op_strategy = st.one_of(*OP_STRATEGIES.values())


def _stream(n: int, rng: np.random.Generator) -> Stream:
    vol = rng.uniform(0.001, 100, n)
    particles = rng.uniform(1e9, 1e14, n)
    return Stream(
        vol, particles, rng.uniform(0, 1e12, n), particles / 3e10 + rng.uniform(0, 1e6, n), rng.uniform(0, 1e12, n)
    )


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(op_strategy, min_size=1, max_size=6), seed=st.integers(0, 2**31 - 1))
def test_random_trains_conserve(ops: list, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 8
    batch = PS.sample(n, rng)
    feed = _stream(n, rng)
    res = run_train(ops, feed, UsageLog(batch))
    s_in = feed
    for step in res.steps:
        out = step.outlet
        assert np.all(out.particles <= s_in.particles * (1 + 1e-12))
        assert np.all(out.protein_ug <= s_in.protein_ug * (1 + 1e-12))
        assert np.all(out.background_particles <= s_in.background_particles * (1 + 1e-12) + 1e-9)
        assert np.all(out.lipoprotein_particles <= s_in.lipoprotein_particles * (1 + 1e-12) + 1e-9)
        assert np.all(out.protein_ug >= 0) and np.all(out.particles >= 0)
        assert np.all((step.recovery >= 0) & (step.recovery <= 1))
        assert np.all(out.volume_l > 0)
        assert np.all(step.process_hours > 0)
        assert np.all(step.labour_hours >= 0)
        for r in step.resources:
            assert np.all(r.quantity >= 0)
        s_in = out


def test_every_modelled_operation_has_a_strategy() -> None:
    assert set(OPERATIONS) <= set(OP_STRATEGIES)


def test_every_contract_operation_is_modelled() -> None:
    from exoforge.scenario import UNIT_OPERATION_IDS

    assert set(UNIT_OPERATION_IDS) <= set(OPERATIONS)


def test_tff_time_grows_with_volume_and_diafiltration() -> None:
    p = UsageLog(PS.nominal(2))
    feed = Stream(np.array([1.0, 10.0]), np.array([1e12, 1e13]), np.zeros(2), np.array([1e3, 1e4]))
    a = OPERATIONS["tff"](TFF(op="tff", diafiltration_volumes=0, membrane_area_m2=0.1), feed, p, "t")
    b = OPERATIONS["tff"](TFF(op="tff", diafiltration_volumes=5, membrane_area_m2=0.1), feed, p, "t")
    assert a.process_hours[1] > a.process_hours[0]
    assert np.all(b.process_hours > a.process_hours)
    assert np.all(b.outlet.protein_ug < a.outlet.protein_ug)  # diafiltration clears protein


def test_sec_removes_most_free_protein() -> None:
    """SEC co-elutes 0.65 % of protein with vesicles (Boing et al. 2014, doi:10.3402/jev.v3.23430)."""
    p = UsageLog(PS.nominal(1))
    feed = Stream(np.array([0.05]), np.array([1e12]), np.zeros(1), np.array([1e5]))
    out = OPERATIONS["sec"](SEC(op="sec"), feed, p, "s").outlet
    free_in = feed.protein_ug - feed.particles / 3e10
    free_out = out.protein_ug - out.particles / 3e10
    assert free_out[0] / free_in[0] < 0.02


def test_every_scenario_operation_is_registered_once_by_its_settings() -> None:
    """The registry holds exactly the scenario's operations; an id cannot be registered twice."""
    from exoforge.downstream.registry import operation, operation_id
    from exoforge.scenario import OPERATION_MODELS, UNIT_OPERATION_IDS

    assert set(OPERATIONS) == set(UNIT_OPERATION_IDS)
    assert [operation_id(m) for m in OPERATION_MODELS] == list(UNIT_OPERATION_IDS)
    with pytest.raises(ValueError, match="'sec' is already registered"):
        operation(SEC)(OPERATIONS["sec"])


def test_each_operation_is_its_settings_and_function_in_one_family_module() -> None:
    """A built-in operation's settings model is defined beside the function that runs it, and the scenario's
    ``isolation`` choices are exactly the registered settings, in process order (clarify first)."""
    from exoforge.downstream.operations import FAMILIES, operation_settings
    from exoforge.downstream.registry import operation_id
    from exoforge.scenario import OPERATION_MODELS, parse_scenario

    families = {family.__name__ for family in FAMILIES}
    for model in operation_settings():
        run = OPERATIONS[operation_id(model)]
        assert model.__module__ in families
        assert run.__module__ == model.__module__, operation_id(model)
    assert OPERATION_MODELS[: len(operation_settings())] == operation_settings()
    assert operation_id(OPERATION_MODELS[0]) == "centrifugation"
    data = {
        "schema_version": 1,
        "name": "t",
        "cell_source": "bm_msc",
        "expansion": {
            "platform": "planar",
            "area_cm2": 175,
            "seeding": {"cells_per_cm2": 3000},
            "medium": "fbs",
            "days": 5,
        },
        "isolation": [{"op": "centrifugation"}, {"op": "sec"}],
        "dose": {"particles": 1e11},
    }
    scn = parse_scenario(data)
    assert [type(op) for op in scn.isolation] == [Centrifugation, SEC]
