"""Each unit operation against a published comparison, at the default (central) parameter values.

Every test names the evidence record (``src/exoforge/evidence/data/records``) or, where the
evidence base holds none, the cited source of the parameter it checks. The feed is a clarified
conditioned medium: 2 L with 2e12 EVs, medium vesicles and lipoprotein particles, and 0.1 mg/mL
soluble protein (serum-free MSC medium order).
"""

from __future__ import annotations

import inspect
import sys

import numpy as np
import pytest

import exoforge as xf
from exoforge.downstream.operations import OPERATIONS
from exoforge.downstream.stream import Stream
from exoforge.downstream.train import run_train
from exoforge.evidence.query import find_record
from exoforge.parameters import UsageLog
from exoforge.scenario import parse_scenario
from exoforge.simulation import parameters_for
from tests.conftest import ROOT

BASE = xf.scenario.read_mapping(ROOT / "examples" / "stirred_tank_tff_sec.yaml")
PS = parameters_for(xf.load_scenario(ROOT / "examples" / "stirred_tank_tff_sec.yaml")).params
PURITY = PS["ev_intrinsic_purity"].value


def record(record_id: str):
    """The evidence record of that id (its figures are in ``.value`` / ``.fold_change``)."""
    found = find_record(record_id)
    assert found is not None, record_id
    return found.record


def feed(volume_l: float = 2.0, particles: float = 2e12, lipo: float = 2e11, free_ug: float = 2e5) -> Stream:
    one = np.ones(1)
    return Stream(one * volume_l, one * particles, one * 1e11, one * (particles / PURITY + free_ug), one * lipo)


def train(*ops: dict, s: Stream | None = None):
    scn = parse_scenario(dict(BASE, isolation=list(ops)))
    return run_train(list(scn.isolation), s if s is not None else feed(), UsageLog(PS.nominal(1)))


def free_protein(s: Stream) -> float:
    return float(s.protein_ug[0] - s.particles[0] / PURITY)


def lipo_per_ev(s: Stream) -> float:
    return float(s.lipoprotein_particles[0] / s.particles[0])


UC = {"op": "ultracentrifugation", "g": 100000, "minutes": 70, "washes": 1}
TFF = {"op": "tff", "mwco_kda": 300, "concentration_factor": 20, "diafiltration_volumes": 5}


PUBLISHED_COMPARISONS: dict[str, tuple[str, ...]] = {
    "centrifugation": ("livshits2015-kfactor-fixed-angle-direction", "teixeira-marques2024-filtering-vs-lev-spin"),
    "depth_filtration": ("williams2020-lv-tfdf-harvest-yield",),
    "microfiltration": ("teixeira-marques2024-filtering-vs-lev-spin",),
    "ultracentrifugation": (
        "haraszti2018-tff-vs-uc-7x",
        "teixeira-marques2024-uc-wash-loss",
        "watson2018-sec-vs-uc-recovery-direction",
        "livshits2015-kfactor-fixed-angle-direction",
    ),
    "density_gradient": ("vandeun2014-density-gradient-purity-direction",),
    "tff": (
        "haraszti2018-tff-vs-uc-7x",
        "busatto2018-tff-vs-uc-yield-direction",
        "busatto2018-tff-vs-uc-time",
        "binder2021-tff1-recovery",
        "binder2021-tff2-cumulative-recovery",
        "andriolo2018-tff-protein-removal",
    ),
    "ultrafiltration": ("benedikter2017-ufsec-vs-uc-yield-direction",),
    "sec": (
        "boing2014-sec-protein-removal",
        "watson2018-sec-vs-uc-ferritin",
        "watson2018-sec-vs-uc-recovery-direction",
    ),
    "anion_exchange": ("pereira-aguilar2019-aex-enveloped-vlp-recovery",),
    "multimodal_chromatography": (
        "vandeun2020-dmc-apob-lipoprotein-removal",
        "vandeun2020-dmc-ev-recovery",
        "vandeun2020-dmc-time-per-sample",
    ),
    "peg_precipitation": ("tian2020-uc-vs-kits-particles", "helwa2017-precipitation-kits-vs-uc-particles"),
    "immunoaffinity": ("tauro2012-immunoaffinity-marker-enrichment",),
    "sterile_filtration": (),
    "lyophilization": ("frank2018-lyophilisation-stability-direction",),
    "storage": ("p-evtushenko2020-loss-lowbind-4c-48h", "walker2022-sucrose-vs-pbs-80c-direction"),
    "hold": ("p-evtushenko2020-loss-lowbind-4c-48h",),
}
"""Evidence records each operation's tests below are checked against."""

NO_EVIDENCE_RECORD = {
    "sterile_filtration": "no EV loss figure for 0.22 um filtration could be read",
}
"""Operations whose test cites a source outside the evidence base, and why."""


def test_every_operation_is_checked_against_named_records_or_says_why_not() -> None:
    assert set(PUBLISHED_COMPARISONS) == set(OPERATIONS)
    assert {op for op, ids in PUBLISHED_COMPARISONS.items() if not ids} == set(NO_EVIDENCE_RECORD)
    source = inspect.getsource(sys.modules[__name__])
    tests = source[source.index('"""Evidence records each') :]  # everything after the table
    for ids in PUBLISHED_COMPARISONS.values():
        for rid in ids:
            assert record(rid).id == rid
            assert rid in tests, f"no test names {rid}"


def test_tff_yield_is_several_fold_that_of_ultracentrifugation() -> None:
    """TFF recovered ~7-fold more exosomes than UC from the same MSC medium
    (record haraszti2018-tff-vs-uc-7x; direction also busatto2018-tff-vs-uc-yield-direction)."""
    ratio = train(TFF).recovery[0] / train(UC).recovery[0]
    published = record("haraszti2018-tff-vs-uc-7x").fold_change
    assert published / 2.5 < ratio < published * 2.5


def test_tff_takes_less_time_than_ultracentrifugation() -> None:
    """TFF took half the processing time of UC (record busatto2018-tff-vs-uc-time, fold 0.5)."""
    ratio = train(TFF).hours[0] / train(UC).hours[0]
    assert ratio < 1.0
    assert ratio == pytest.approx(record("busatto2018-tff-vs-uc-time").fold_change, rel=0.6)


def test_tff_single_pass_recovery_and_second_pass_loss() -> None:
    """One TFF pass recovers ~90 % (binder2021-tff1-recovery); a second pass loses more
    (binder2021-tff2-cumulative-recovery: 66 % cumulative)."""
    one = train(TFF).recovery[0]
    two = train(TFF, dict(TFF, concentration_factor=2)).recovery[0]
    assert one == pytest.approx(record("binder2021-tff1-recovery").value, abs=0.05)
    assert two < one
    assert two == pytest.approx(record("binder2021-tff2-cumulative-recovery").value, abs=0.2)


def test_tff_diafiltration_removes_most_protein() -> None:
    """A GMP TFF process removed 97 % of contaminating protein (andriolo2018-tff-protein-removal)."""
    res = train(TFF)
    removed = 1 - free_protein(res.product) / free_protein(res.feed)
    assert removed > 0.9
    assert removed == pytest.approx(record("andriolo2018-tff-protein-removal").value, abs=0.08)


def test_sec_removes_protein_like_the_platelet_study() -> None:
    """SEC left 0.65 % of the protein in the EV fractions (boing2014-sec-protein-removal: 99.35 % removed)."""
    res = train(TFF, {"op": "sec"})
    sec_step = res.steps[-1]
    removed = 1 - free_protein(sec_step.outlet) / free_protein(sec_step.inlet)
    assert removed == pytest.approx(record("boing2014-sec-protein-removal").value, abs=0.005)


def test_sec_leaves_less_protein_than_ultracentrifugation_with_comparable_recovery() -> None:
    """SEC preparations had 100-fold less ferritin than UC (watson2018-sec-vs-uc-ferritin) and a
    comparable particle recovery (watson2018-sec-vs-uc-recovery-direction)."""
    sec = train(TFF, {"op": "sec"}).steps[-1]
    uc = train(UC).steps[-1]
    sec_left = free_protein(sec.outlet) / free_protein(sec.inlet)
    uc_left = free_protein(uc.outlet) / free_protein(uc.inlet)
    assert sec_left < uc_left
    assert 0.2 < sec.recovery[0] / uc.recovery[0] < 10  # same order, not the 7-fold TFF gain


def test_sec_carries_lipoproteins_that_ultracentrifugation_leaves_behind() -> None:
    """APOB/CD81 was almost 60 times higher after SEC than after UC (evcna 2021 review, Fig. 3D;
    doi:10.20517/evcna.2021.07, the source of ultracentrifugation.lipoprotein_trapping)."""
    sec = train({"op": "sec"}, s=feed(volume_l=0.05))
    uc = train(dict(UC, washes=0), s=feed(volume_l=0.05))
    assert lipo_per_ev(sec.product) / lipo_per_ev(uc.product) == pytest.approx(60, rel=0.3)


def test_density_gradient_gives_the_purest_preparation() -> None:
    """OptiPrep density gradients gave purer EVs than UC and than polymer precipitation
    (vandeun2014-density-gradient-purity-direction)."""
    lipo_rich = feed(lipo=2e13)
    dg = train(UC, {"op": "density_gradient"}, s=lipo_rich).product
    uc = train(UC, s=lipo_rich).product
    peg = train({"op": "peg_precipitation"}, s=lipo_rich).product
    assert dg.purity[0] > max(uc.purity[0], peg.purity[0])  # EVs per ug protein
    assert lipo_per_ev(dg) < min(lipo_per_ev(uc), lipo_per_ev(peg))


def test_precipitation_counts_orders_of_magnitude_more_particles_than_uc_in_lipoprotein_rich_fluid() -> None:
    """Kits gave 2-4 orders of magnitude more particles than UC from plasma, mostly non-vesicular
    (tian2020-uc-vs-kits-particles: UC = 0.01 x kits), and 80-300-fold more from serum
    (helwa2017-precipitation-kits-vs-uc-particles). Plasma-like feed: 100 lipoproteins per EV."""
    plasma_like = feed(lipo=2e14)
    peg = train({"op": "peg_precipitation"}, s=plasma_like).product.counted_particles[0]
    uc = train(UC, s=plasma_like).product.counted_particles[0]
    published = record("tian2020-uc-vs-kits-particles").fold_change
    assert 1e-4 < uc / peg <= published * 1.0001
    assert peg / uc >= record("helwa2017-precipitation-kits-vs-uc-particles").value_low  # 80-300-fold in serum


def test_precipitation_yield_high_but_purity_low() -> None:
    """Polymer precipitation: highest yield, lowest purity of the methods compared
    (review table, url:pmc.ncbi.nlm.nih.gov/articles/PMC10058361, Table 1: 90+ %, low purity)."""
    peg = train({"op": "peg_precipitation"})
    sec = train(TFF, {"op": "sec"})
    assert peg.recovery[0] > 0.8 > sec.recovery[0]
    assert peg.product.purity[0] < sec.product.purity[0]


def test_centrifugal_ultrafiltration_loses_more_than_tff() -> None:
    """Dead-end devices trap EVs (30 % recovery in the review table, url:...PMC10058361, Table 1)
    while one TFF pass recovers ~90 % (binder2021-tff1-recovery)."""
    uf = train({"op": "ultrafiltration", "concentration_factor": 20}, s=feed(volume_l=0.5))
    assert uf.recovery[0] < train(TFF).recovery[0]
    assert uf.recovery[0] == pytest.approx(0.30, abs=0.1)


def test_ultrafiltration_then_sec_matches_or_beats_ultracentrifugation() -> None:
    """UF on 10 kDa centrifugal devices followed by SEC tended to give a higher EV yield and EV-to-protein
    purity than ultracentrifugation of the same medium (benedikter2017-ufsec-vs-uc-yield-direction)."""
    small = feed(volume_l=0.5)
    uf_sec = train({"op": "ultrafiltration", "concentration_factor": 20}, {"op": "sec"}, s=small)
    uc = train(UC, s=small)
    assert uf_sec.recovery[0] >= uc.recovery[0]
    assert uf_sec.product.purity[0] >= uc.product.purity[0]


def test_immunoaffinity_is_purest_but_yields_least() -> None:
    """Immunoaffinity isolates carried at least twice the exosome markers of UC and density-gradient isolates
    (tauro2012-immunoaffinity-marker-enrichment; the UC half is an independent check, the density-gradient
    half checks the carry-over calibrated from it). It has low capacity and yield (review table,
    url:...PMC10058361, Table 1), and unlike SEC it does not co-elute lipoproteins."""
    published = record("tauro2012-immunoaffinity-marker-enrichment").fold_change
    ia = train({"op": "immunoaffinity"}).product
    uc = train(UC).product
    dg = train(UC, {"op": "density_gradient"}).product
    assert ia.purity[0] >= published * max(uc.purity[0], dg.purity[0])
    small = feed(volume_l=0.01, lipo=2e13)
    ia_small = train({"op": "immunoaffinity"}, s=small).product
    sec = train({"op": "sec"}, s=small).product
    assert lipo_per_ev(ia_small) < lipo_per_ev(sec)
    assert ia_small.purity[0] > sec.purity[0]
    assert ia_small.particles[0] < min(sec.particles[0], 0.5 * small.particles[0])


def test_anion_exchange_recovers_like_the_enveloped_particle_analogue_and_leaves_less_protein_than_uc() -> None:
    """Enveloped Gag virus-like particles (the closest analogue with a readable figure) were recovered at 50 %
    in the main peak and 66 % in total from one anion-exchange column, most host-cell protein passing unbound
    (pereira-aguilar2019-aex-enveloped-vlp-recovery). Ion exchange also gave lower protein contamination than
    UC at similar abundance (BMRAT article 881, Results; no DOI, so not in the evidence base)."""
    rec = record("pereira-aguilar2019-aex-enveloped-vlp-recovery")
    aex = train({"op": "anion_exchange"}).steps[-1]
    assert rec.value_low <= aex.recovery[0] <= rec.value_high
    uc = train(UC).steps[-1]
    assert free_protein(aex.outlet) / free_protein(aex.inlet) < free_protein(uc.outlet) / free_protein(uc.inlet)


def test_multimodal_flow_through_polishes_protein_after_tff() -> None:
    """No core-bead EV comparison could be read (dual mode: next test); the flow-through step must clear
    protein beyond the 97 % of the GMP TFF it follows (andriolo2018-tff-protein-removal) and break through
    when overloaded."""
    tff_only = train(TFF).product
    polished = train(TFF, {"op": "multimodal_chromatography"}).product
    assert free_protein(polished) < 0.2 * free_protein(tff_only)
    tiny = train(TFF, {"op": "multimodal_chromatography", "resin_volume_ml": 0.001}).product
    assert free_protein(tiny) > free_protein(polished)


def test_dual_mode_clears_the_apob_lipoproteins_that_sec_and_core_beads_carry() -> None:
    """Dual-mode chromatography (size exclusion over cation exchange) removed >99 % of (V)LDL while keeping
    >30 % of the EVs, where size exclusion alone cannot separate them, in 15 min per sample
    (vandeun2020-dmc-apob-lipoprotein-removal, vandeun2020-dmc-ev-recovery, vandeun2020-dmc-time-per-sample)."""
    small = feed(volume_l=0.01, lipo=2e13)
    dmc = train({"op": "multimodal_chromatography", "mode": "dual_mode"}, s=small)
    sec = train({"op": "sec"}, s=small).product
    core = train({"op": "multimodal_chromatography"}, s=small).product
    removed = 1 - dmc.product.lipoprotein_particles[0] / small.lipoprotein_particles[0]
    assert removed >= record("vandeun2020-dmc-apob-lipoprotein-removal").value
    assert dmc.recovery[0] >= record("vandeun2020-dmc-ev-recovery").value
    assert lipo_per_ev(dmc.product) < 0.1 * min(lipo_per_ev(sec), lipo_per_ev(core))
    minutes = record("vandeun2020-dmc-time-per-sample").value
    assert dmc.hours[0] == pytest.approx(minutes / 60)  # one cycle for a 10 mL load


def test_k_factor_clearing_time_scales_with_diameter_squared() -> None:
    """k-factor scaling (T = k/S) holds for swinging buckets (livshits2015-kfactor-fixed-angle-direction):
    a spin to clear 50 nm vesicles lasts 4x one to clear 100 nm vesicles."""
    swing = {"op": "ultracentrifugation", "rotor": "swinging_bucket", "washes": 0}
    t50 = train(dict(swing, cutoff_nm=50)).hours[0]
    t100 = train(dict(swing, cutoff_nm=100)).hours[0]
    handling = PS["ultracentrifugation.handling_hours_per_run"].value
    runs = np.ceil(2.0 / PS["ultracentrifugation.swinging_bucket.capacity_per_run"].value)
    assert (t50 / runs - handling) / (t100 / runs - handling) == pytest.approx(4.0, rel=1e-6)


def test_clarification_keeps_small_evs_and_faster_spins_pellet_more() -> None:
    """2,000 xg clarification keeps sEVs in the supernatant while longer, faster spins pellet part of
    them: pelleting depends on force, time and path (livshits2015-kfactor-fixed-angle-direction)."""
    low = train({"op": "centrifugation", "g": 2000, "minutes": 20}).recovery[0]
    high = train({"op": "centrifugation", "g": 10000, "minutes": 30}).recovery[0]
    assert low > 0.9
    assert high < low


@pytest.mark.parametrize("g", [10000, 20000])
def test_filtering_instead_of_a_large_ev_spin_keeps_more_small_evs(g: int) -> None:
    """Filtering the supernatant instead of spinning out large EVs recovered 1.7-fold more small EVs
    (teixeira-marques2024-filtering-vs-lev-spin; urine, filter and spin not stated in the abstract)."""
    spin = train({"op": "centrifugation", "g": g, "minutes": 30}).recovery[0]
    filtered = train({"op": "microfiltration", "pore_um": 0.45}).recovery[0]
    published = record("teixeira-marques2024-filtering-vs-lev-spin").fold_change
    assert 1.0 < filtered / spin < published * 1.5


def test_an_ultracentrifugation_wash_about_halves_the_yield() -> None:
    """A washing step (re-suspension and a second pelleting) gave 0.5 times the small-EV yield
    (teixeira-marques2024-uc-wash-loss)."""
    ratio = train(UC).recovery[0] / train(dict(UC, washes=0)).recovery[0]
    published = record("teixeira-marques2024-uc-wash-loss").fold_change
    assert published / 1.5 < ratio < published * 1.5


def test_sterile_filtration_passes_small_evs_and_retains_microvesicle_sizes() -> None:
    """sEVs (30-150 nm) pass a 0.22 um filter while microvesicles (150 nm-1 um) are partly retained
    (size classes: Biology 2022, doi:10.3390/biology11060804, section 3); 0.45 um keeps more than 0.22 um."""
    sterile = train({"op": "sterile_filtration"}, s=feed(volume_l=0.2)).recovery[0]
    adsorption = PS["sterile_filtration.recovery"].value
    assert sterile / adsorption > 0.9
    big = PS.with_values({"ev_size.median_diameter": (300.0, "nm")})
    scn = parse_scenario(dict(BASE, isolation=[{"op": "sterile_filtration"}]))
    res = run_train(list(scn.isolation), feed(volume_l=0.2), UsageLog(big.nominal(1)))
    assert res.recovery[0] / adsorption < 0.5
    micro = train({"op": "microfiltration", "pore_um": 0.45}).recovery[0] / PS["microfiltration.recovery"].value
    assert micro > sterile / adsorption


def test_depth_filtration_keeps_enveloped_nanoparticles_and_is_not_selective() -> None:
    """Lentiviral vectors (enveloped ~100 nm particles, the closest published analogue; no EV depth-filtration
    comparison could be read) kept over 90 % across a depth-filter harvest (williams2020-lv-tfdf-harvest-yield).
    Adsorption loses EVs and lipoproteins alike, so the lipoprotein-to-EV ratio is unchanged."""
    res = train({"op": "depth_filtration"})
    assert res.recovery[0] == pytest.approx(record("williams2020-lv-tfdf-harvest-yield").value, abs=0.05)
    assert lipo_per_ev(res.product) == pytest.approx(lipo_per_ev(res.feed))


def test_lyophilisation_with_cryoprotectant_keeps_more() -> None:
    """EVs are stable to lyophilisation, more so with cryoprotectants
    (frank2018-lyophilisation-stability-direction)."""
    sugar = train({"op": "lyophilization", "excipient": "trehalose"}, s=feed(volume_l=0.01)).recovery[0]
    bare = train({"op": "lyophilization", "excipient": "none"}, s=feed(volume_l=0.01)).recovery[0]
    assert sugar > bare


def test_storage_loss_at_4c_matches_the_adsorption_study() -> None:
    """48 h at +4 C in low-binding tubes lost 18-21 % (p-evtushenko2020-loss-lowbind-4c-48h);
    -80 C keeps more over 28 days than 4 C over two (walker2022-sucrose-vs-pbs-80c-direction: frozen
    storage is the reference condition)."""
    rec = record("p-evtushenko2020-loss-lowbind-4c-48h")
    cold = train({"op": "storage", "temperature_c": 4, "days": 2}, s=feed(volume_l=0.01)).recovery[0]
    assert 1 - cold == pytest.approx(rec.value, abs=0.02)
    hold = train({"op": "hold", "hours": 48}, s=feed(volume_l=0.01)).recovery[0]
    assert hold == pytest.approx(cold)
    frozen = train({"op": "storage", "temperature_c": -80, "days": 28, "freeze_thaw_cycles": 0}, s=feed(0.01))
    assert frozen.recovery[0] > cold
