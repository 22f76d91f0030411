"""Every default has a unit, a distribution and a source or a stated assumption; every used
parameter moves an output when changed (or is declared inert)."""

from __future__ import annotations

import itertools
import typing

import numpy as np

import exoforge as xf
from exoforge.evidence.effects import strategy_evidence
from exoforge.evidence.store import load_strategies
from exoforge.parameters import ParameterBatch, load_default_entries
from exoforge.simulation import evaluate, parameters_for
from exoforge.units import parse_unit
from tests.conftest import EXAMPLES, ROOT


def test_every_default_has_provenance() -> None:
    for p in load_default_entries():
        parse_unit(p.unit)
        assert p.description, p.name
        assert p.estimates or p.assumption, f"{p.name} has neither a source nor an assumption"
        for e in p.estimates:
            assert e.location and len(e.location) > 3, p.name
            assert e.ref.startswith(("10.", "pmid:", "url:", "rrid:")), (p.name, e.ref)
        if p.assumption:
            assert len(p.assumption) > 15, f"{p.name}: say why"


def _variants():
    base = xf.scenario.read_mapping(ROOT / "examples" / "stirred_tank_tff_sec.yaml")
    planar = xf.scenario.read_mapping(ROOT / "examples" / "planar_10layer_uc.yaml")
    out = [xf.load_scenario(p) for p in EXAMPLES]
    for mc, medium in itertools.product(
        ("cytodex1", "cytodex3", "hillex2", "synthemax2"), ("fbs", "hpl", "serum_free", "xeno_free")
    ):
        d = dict(base, expansion=dict(base["expansion"], microcarrier={"type": mc, "g_per_l": 2}, medium=medium))
        out.append(xf.parse_scenario(d))
    for platform in ("spinner", "vertical_wheel"):
        out.append(xf.parse_scenario(dict(base, expansion=dict(base["expansion"], platform=platform))))
    for cond in ("ev_depleted_fbs", "ev_depleted_hpl", "same"):
        out.append(xf.parse_scenario(dict(planar, conditioning=dict(planar["conditioning"], medium=cond))))
    for src in ("ad_msc", "uc_msc", "ipsc_msc"):
        out.append(xf.parse_scenario(dict(planar, cell_source=src)))
    for med in ("hpl", "serum_free", "xeno_free"):
        out.append(xf.parse_scenario(dict(planar, expansion=dict(planar["expansion"], medium=med))))
    for basal in typing.get_args(xf.scenario.BasalMedium):
        out.append(xf.parse_scenario(dict(planar, expansion=dict(planar["expansion"], basal_medium=basal))))
    out.append(
        xf.parse_scenario(
            dict(
                planar,
                expansion={k: v for k, v in planar["expansion"].items() if k != "layers"} | {"platform": "planar"},
            )
        )
    )
    for med in ("hpl", "xeno_free"):
        out.append(
            xf.parse_scenario(
                dict(
                    planar,
                    expansion=dict(planar["expansion"], medium=med),
                    conditioning=dict(planar["conditioning"], medium="same"),
                )
            )
        )
    out.append(xf.parse_scenario(dict(planar, isolation=[{"op": "ultracentrifugation"}, {"op": "sec"}])))
    out.append(xf.parse_scenario(dict(planar, isolation=[{"op": "tff", "concentration_factor": 100}, {"op": "sec"}])))
    out += _isolation_variants()
    out += _platform_variants()
    with_evidence = [sid for sid in STRATEGIES if strategy_evidence(sid) is not None]
    if len(with_evidence) >= 2:
        out.append(xf.parse_scenario(dict(base, conditioning=dict(base["conditioning"], strategies=with_evidence[:2]))))
    return out


def _platform_variants():
    """Platform defaults that examples override: omitted agitation, volumes, feed, bed and aggregate sizes."""
    stirred = xf.scenario.read_mapping(ROOT / "examples" / "stirred_tank_tff_sec.yaml")
    hollow = xf.scenario.read_mapping(ROOT / "examples" / "platform_hollow_fiber.yaml")
    bed = xf.scenario.read_mapping(ROOT / "examples" / "platform_fixed_bed.yaml")
    spheroid = xf.scenario.read_mapping(ROOT / "examples" / "platform_spheroid.yaml")

    def without(d, block, *keys):
        return dict(d, **{block: {k: v for k, v in d[block].items() if k not in keys}})

    out = [
        without(stirred, "expansion", "agitation_rpm"),
        without(hollow, "expansion", "ic_volume_ml", "ec_volume_ml", "feed_ml_per_min", "cell_compartment"),
        without(bed, "expansion", "bed_volume_l", "working_volume_l", "linear_velocity_cm_per_s"),
        without(spheroid, "expansion", "agitation_rpm", "cells_per_aggregate"),
    ]
    return [xf.parse_scenario(d) for d in out]


def _isolation_variants():
    """Trains that use every unit operation and its settings, at laboratory and at clinical scale."""
    planar = xf.scenario.read_mapping(ROOT / "examples" / "planar_10layer_uc.yaml")
    big = xf.scenario.read_mapping(ROOT / "examples" / "stirred_tank_tff_sec.yaml")
    big = dict(big, expansion=dict(big["expansion"], vessels=4, working_volume_l=50))
    clarify = {"op": "centrifugation", "g": 2000, "minutes": 20}
    concentrate = {"op": "tff", "concentration_factor": 50, "diafiltration_volumes": 5}
    uc = {"op": "ultracentrifugation", "resuspension_ml": 0.5}
    trains = [
        [
            clarify,
            {"op": "ultracentrifugation", "g": 20000, "minutes": 30, "washes": 0},
            {"op": "ultracentrifugation", "rotor": "swinging_bucket", "cutoff_nm": 60},
        ],
        [
            clarify,
            uc,
            {"op": "density_gradient", "medium": "iodixanol"},
            {"op": "density_gradient", "medium": "sucrose"},
        ],
        [clarify, concentrate, {"op": "density_gradient"}],
        [
            clarify,
            {"op": "tff", "mwco_kda": 5000},
            {"op": "ultrafiltration", "concentration_factor": 2},
            {"op": "sec", "resin": "qev"},
            {"op": "sec", "resin": "sepharose_cl2b"},
            {"op": "sec", "resin": "sepharose_cl6b"},
        ],
        [clarify, {"op": "ultrafiltration", "concentration_factor": 20}],
        [
            {"op": "depth_filtration"},
            {"op": "microfiltration"},
            concentrate,
            {"op": "anion_exchange"},
            {"op": "multimodal_chromatography"},
        ],
        [clarify, uc, {"op": "anion_exchange"}, {"op": "multimodal_chromatography"}],
        [clarify, {"op": "peg_precipitation", "peg_percent": 8}, {"op": "sterile_filtration"}],
        [clarify, uc]
        + [{"op": "lyophilization", "excipient": e} for e in ("trehalose", "sucrose", "mannitol", "none")]
        + [{"op": "storage", "temperature_c": t} for t in (4, -20, -80)]
        + [{"op": "hold", "hours": 96}],
        [clarify, uc] + [{"op": "immunoaffinity", "marker": m} for m in ("cd9", "cd63", "cd81", "pan_tetraspanin")],
    ]
    out = [xf.parse_scenario(dict(planar, isolation=t)) for t in trains]
    big_trains = [
        [clarify, concentrate, {"op": "anion_exchange"}, {"op": "multimodal_chromatography"}],
        [clarify, concentrate, {"op": "immunoaffinity"}, {"op": "lyophilization"}],
    ]
    out += [xf.parse_scenario(dict(big, isolation=t)) for t in big_trains]
    protein_rich = dict(conditioning=dict(big["conditioning"], medium="same"))
    for scale in (planar, big):
        out.append(
            xf.parse_scenario(dict(scale, **protein_rich, isolation=[clarify, {"op": "multimodal_chromatography"}]))
        )
    lots = dict(big, demand={"doses_per_year": 5000, "lot_size_doses": 100})
    out.append(xf.parse_scenario(dict(lots, economics={"facility_use": "shared", "price_year": 2019})))
    out.append(xf.parse_scenario(dict(lots, economics={"facility_use": "cdmo", "campaigns_per_year": 2})))
    return out


STRATEGIES = [s.id for s in load_strategies() if s.scenario and s.effect == "ev_secretion"]
VARIANTS = _variants()


def _perturbed(value: float) -> float:
    if value == 0:
        return 1.0
    if 0 < value < 1:
        return value * 0.7
    return value * 1.3


def test_every_parameter_is_read_by_some_scenario() -> None:
    names = {p.name for p in load_default_entries()}
    used: set[str] = set()
    for scn in VARIANTS:
        used |= evaluate(scn, parameters_for(scn).params.nominal(1)).used
    inert = {p.name for p in load_default_entries() if p.inert}
    if sum(strategy_evidence(sid) is not None for sid in STRATEGIES) < 2:
        inert.add("strategy_interaction_shrinkage")  # read only when two strategies with evidence combine
    unread = names - used - inert
    # engineering-check inputs are read only on stirred platforms with agitation, all covered above
    assert not unread, sorted(unread)


def _moved_names(scn) -> tuple[set[str], set[str]]:
    """(names read by the run, names whose perturbation moved some output or check)."""
    ps = parameters_for(scn).params
    names = sorted(evaluate(scn, ps.nominal(1)).used)
    n = 1 + len(names)
    batch = ps.nominal(n)
    values = {k: v.copy() for k, v in batch.values.items()}
    for i, name in enumerate(names, start=1):
        values[name][i] = _perturbed(ps[name].value)
    ev = evaluate(scn, ParameterBatch(n, values, batch.units))
    outputs = [np.asarray(v, dtype=float) for v in ev.kpis.values()]
    outputs += [np.asarray(c.value, dtype=float) for c in ev.checks]
    outputs += [np.broadcast_to(np.asarray(c.limit, dtype=float), (n,)) for c in ev.checks]
    moved = set()
    for i, name in enumerate(names, start=1):
        if any(not np.isclose(o[i], o[0], rtol=1e-9, atol=0, equal_nan=True) for o in outputs):
            moved.add(name)
    return set(names), moved


def test_changing_each_parameter_moves_an_output() -> None:
    """Across the scenario variants, perturbing each read parameter moves some output."""
    read: set[str] = set()
    moved: set[str] = set()
    for scn in VARIANTS:
        r, m = _moved_names(scn)
        read |= r
        moved |= m
    inert = {p.name for p in load_default_entries() if p.inert}
    still = sorted(name for name in read - moved if name not in inert)
    assert not still, f"changing these moved no output in any scenario: {still}"
