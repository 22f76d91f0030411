"""`exoforge misev check`: missing items with their purpose, the completeness score, and the NTA import's part."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from exoforge.characterization.misev import check_record, load_checklist
from exoforge.characterization.record import RecordError, load_record, parse_record
from exoforge.cli import app
from tests.conftest import ROOT

runner = CliRunner()
NTA = ROOT / "tests" / "data" / "nta" / "nanosight_seven_videos_dilution_500.csv"

COMPLETE: dict[str, Any] = {
    "record_version": 1,
    "batch": "B1",
    "source": {
        "species": "human",
        "cell_type": "bone-marrow MSC",
        "donor_or_line": "D12",
        "passage": 4,
        "identity_tests": ["CD73/CD90/CD105 flow"],
    },
    "culture": {
        "medium": "alpha-MEM",
        "supplement": "5 % hPL",
        "ev_depletion": "serum_free",
        "format": "3 L stirred tank",
        "conditioning_days": 2,
        "conditioned_medium_ml": 3000,
        "cell_count_at_harvest": 1.1e8,
        "viability_percent": 94,
    },
    "preprocessing": [{"step": "centrifugation", "g": 2000, "minutes": 20, "temperature_c": 4}],
    "separation": [
        {"method": "tff", "parameters": {"mwco_kda": 300, "membrane_area_m2": 0.05}},
        {"method": "sec", "parameters": {"resin": "Sepharose CL-4B", "fractions": "7-9"}},
    ],
    "protein": {"assay": "BCA", "concentration_ug_per_ml": 80, "lod_ug_per_ml": 5},
    "markers": [
        {
            "name": "CD63",
            "category": "transmembrane",
            "result": "positive",
            "method": "western_blot",
            "antibody": "H5C6",
            "amount_loaded_ug": 10,
            "lysis": "RIPA",
        },
        {"name": "CD81", "category": "transmembrane", "result": "positive", "method": "bead_flow", "antibody": "JS-81"},
        {
            "name": "TSG101",
            "category": "cytosolic",
            "result": "positive",
            "method": "western_blot",
            "antibody": "4A10",
            "amount_loaded_ug": 10,
            "lysis": "RIPA",
        },
        {
            "name": "calnexin",
            "category": "other_compartment",
            "result": "negative",
            "method": "western_blot",
            "antibody": "AF18",
            "amount_loaded_ug": 10,
            "lysis": "RIPA",
        },
        {"name": "CD73", "category": "msc_positive", "result": "positive", "method": "bead_flow", "antibody": "AD2"},
        {
            "name": "CD45",
            "category": "haematopoietic_negative",
            "result": "negative",
            "method": "bead_flow",
            "antibody": "HI30",
        },
    ],
    "imaging": [{"method": "tem", "views": ["wide_field", "close_up"], "files": ["tem/b1.tif"]}],
    "function": [
        {
            "name": "T-cell proliferation",
            "dose_levels": 4,
            "metric": "IC50",
            "dose_particles": True,
            "dose_protein": True,
            "controls": ["vehicle"],
            "reference_batch": "B0",
        },
    ],
    "product": {"term": "sEV", "volume_ml": 10, "buffer": "PBS", "storage_temperature_c": -80},
    "qc": {"intended_use": "research"},
    "stability": [{"condition": "-80 C", "days": 90, "attribute": "particle concentration", "retained_percent": 92}],
    "evtrack_id": "EV260001",
}


def complete_record(tmp_path):
    """The complete record with its particle part written by the NTA import."""
    path = tmp_path / "record.yaml"
    path.write_text(yaml.safe_dump(COMPLETE), encoding="utf-8")
    out = runner.invoke(app, ["nta", "import", str(NTA), "--record", str(path)])
    assert out.exit_code == 0, out.output
    return path


def test_a_complete_record_misses_nothing(tmp_path) -> None:
    path = complete_record(tmp_path)
    rec = load_record(path)
    assert rec.particles is not None and rec.particles.videos == 7 and rec.particles.dilution_factor == 500
    assert rec.particles.dilution_applied_by == "instrument"  # NanoSight adjusts a recorded factor itself
    result = check_record(rec, path.parent)
    assert [i.item.id for i in result.missing] == []
    assert result.score() == 1.0 and result.score(required_only=True) == 1.0
    out = runner.invoke(app, ["misev", "check", str(path), "--strict"])
    assert out.exit_code == 0 and "nothing missing" in out.output and "completeness 100%" in out.output


def test_an_incomplete_record_lists_what_is_missing_and_why(tmp_path) -> None:
    data = {k: v for k, v in COMPLETE.items() if k not in ("imaging", "protein", "evtrack_id")}
    data["markers"] = [m for m in COMPLETE["markers"] if m["category"] != "cytosolic"]
    data["markers"][0] = {**data["markers"][0], "antibody": None}
    data["separation"] = [{"method": "ultracentrifugation", "parameters": {"g": 100000}}]
    rec = parse_record(data)
    result = check_record(rec)
    missing = {i.item.id: i for i in result.missing}
    assert set(missing) == {
        "QNT-02",
        "QNT-03",
        "QNT-04",
        "QNT-05",
        "QNT-06",
        "QNT-07",
        "QNT-08",
        "SGL-01",
        "SGL-02",
        "MRK-02",
        "MRK-03",
        "MRK-05",
        "SEP-02",
        "REP-01",
        "REP-02",
    }
    sep = missing["SEP-02"].detail or ""
    assert "minutes" in sep and "rotor" in sep
    assert all(i.item.purpose for i in missing.values())
    assert 0 < result.score() < 1 and result.score(required_only=True) < result.score()
    path = tmp_path / "draft.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = runner.invoke(app, ["misev", "check", str(path), "--json"])
    d = json.loads(out.output)
    assert d["completeness"] == pytest.approx(result.score()) and "MRK-02" in d["missing_required"]
    item = next(i for i in d["items"] if i["id"] == "MRK-04")
    assert item["met"] and "unverified" in item
    out = runner.invoke(app, ["misev", "check", str(path), "--strict"])
    assert out.exit_code == 1 and "why:" in out.output


def test_conditional_items_apply_only_when_their_condition_holds() -> None:
    rec = parse_record({"separation": [{"method": "peg_precipitation"}], "qc": {"intended_use": "clinical"}})
    by = {i.item.id: i for i in check_record(rec).items}
    assert not by["SEP-02"].applicable and not by["MRK-05"].applicable
    assert by["QC-01"].applicable and not by["QC-01"].met


def test_raw_files_are_checked_against_their_hash(tmp_path) -> None:
    path = complete_record(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["raw_files"][0]["sha256"] = "0" * 64
    rec = parse_record(data)
    rep = next(i for i in check_record(rec, tmp_path).items if i.item.id == "REP-01")
    assert not rep.met and "changed since recorded" in (rep.detail or "")


def test_bad_records_name_the_key(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("culture: {viability_percent: 140, medum: x}\nmarkers: [{name: CD9, category: tetraspanin}]\n")
    with pytest.raises(RecordError) as err:
        load_record(path)
    text = "\n".join(err.value.problems)
    assert "culture.viability_percent: 140" in text and "culture.medum: unknown key" in text
    assert "markers[0].category" in text and "markers[0].result: required key is missing" in text
    out = runner.invoke(app, ["misev", "check", str(path)])
    assert out.exit_code == 2 and "Traceback" not in out.output


def test_the_checklist_cites_every_item() -> None:
    cl = load_checklist()
    assert len(cl.items) >= 30 and len({i.id for i in cl.items}) == len(cl.items)
    for item in cl.items:
        assert item.purpose and item.refs and all(r in cl.sources for r in item.refs)
