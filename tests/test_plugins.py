"""A third-party package extends exoforge through the ``exoforge.plugins`` entry point.

The example plug-in in ``tests/plugin_example`` adds one isolation operation (dialysis), one medium
(example_defined), a platform (a rocking bag) with its microcarrier, their parameters and an
evidence set. It is installed here as an installer would (the package and its ``.dist-info`` with
the entry points of its ``pyproject.toml``) into a folder of its own, and exoforge runs in a fresh
process that has the folder on its path; without it the same scenario is refused.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

PLUGIN = ROOT / "tests" / "plugin_example"
SCENARIO = """schema_version: 1
name: pilot with dialysis
cell_source: bm_msc
expansion:
  platform: stirred_tank
  working_volume_l: 3
  microcarrier: {type: cytodex3, g_per_l: 3}
  seeding: {cells_per_ml: 3.0e4}
  medium: hpl
  days: 7
conditioning: {medium: example_defined, days: 2, collections: 1}
isolation:
  - {op: centrifugation, g: 2000, minutes: 20}
  - {op: tff, mwco_kda: 300, concentration_factor: 50, diafiltration_volumes: 5}
  - {op: dialysis, hours: 6}
  - {op: sterile_filtration}
dose: {particles: 1.0e11}
"""


BAG_SCENARIO = """schema_version: 1
name: rocking bag
cell_source: bm_msc
expansion:
  platform: example_rocking_bag
  working_volume_l: 2
  microcarrier: {type: example_beads, g_per_l: 3}
  seeding: {cells_per_ml: 3.0e4}
  medium: hpl
  days: 7
conditioning: {medium: same, days: 2, collections: 1}
isolation:
  - {op: centrifugation}
  - {op: tff}
dose: {particles: 1.0e11}
"""


def install(source: Path, site: Path) -> None:
    """Install the plug-in into ``site``: its package, and a dist-info naming its entry points."""
    project = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))
    meta = project["project"]
    for package in project["tool"]["setuptools"]["packages"]:
        shutil.copytree(source / package, site / package)
    info = site / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n", encoding="utf-8"
    )
    lines = []
    for group, points in meta["entry-points"].items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {target}" for name, target in points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def exoforge(*args: str, site: Path | None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-m", "exoforge.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site-packages")
    install(PLUGIN, folder)
    return folder


def _scenario_file(factory: pytest.TempPathFactory, name: str, text: str) -> Path:
    path = factory.mktemp("scenario") / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _scenario_file(tmp_path_factory, "dialysis.yaml", SCENARIO)


def test_a_scenario_runs_with_the_plugin_operation(site: Path, scenario: Path) -> None:
    out = exoforge("run", str(scenario), "--json", site=site)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    steps = {s["op"]: s for s in result["isolation_steps"]}
    assert "dialysis" in steps
    assert steps["dialysis"]["recovery"] == pytest.approx(0.9, rel=1e-6)  # the plug-in's parameter
    priced = {line["item"] for line in result["ledger"]}
    assert "dialysis_cassette_each" in priced  # priced from the plug-in's price parameter
    assert any(c["name"] == "3. dialysis: dialysis cassettes" for c in result["checks"])
    media = {line["item"] for line in result["ledger"] if line["category"] == "media"}
    assert "example_defined_medium_per_l" in media  # the plug-in's medium, priced from its parameters


def test_plugins_lists_what_each_added(site: Path) -> None:
    out = exoforge("plugins", "--json", site=site)
    assert out.returncode == 0, out.stderr
    (plugin,) = json.loads(out.stdout)
    assert plugin["name"] == "dialysis" and plugin["target"] == "exoforge_dialysis:register"
    assert plugin["operations"] == ["dialysis"] and plugin["media"] == ["example_defined"]
    assert plugin["platforms"] == {"example_rocking_bag": "spinner"} and plugin["microcarriers"] == ["example_beads"]
    assert [Path(f).name for f in plugin["evidence_folders"]] == ["evidence"]
    assert exoforge("plugins", site=None).stdout.startswith("no plug-ins installed")


def test_a_plugin_medium_without_its_parameters_is_refused(tmp_path: Path, scenario: Path) -> None:
    install(PLUGIN, tmp_path)
    data = tmp_path / "exoforge_dialysis" / "parameters" / "dialysis.yaml"
    kept = [
        line for line in data.read_text(encoding="utf-8").splitlines() if "medium_glucose.example_defined" not in line
    ]
    data.write_text("\n".join(kept) + "\n", encoding="utf-8")
    out = exoforge("run", str(scenario), site=tmp_path)
    assert out.returncode == 1
    assert "medium 'example_defined' has no medium_glucose.example_defined" in out.stderr
    assert "Traceback" not in out.stderr


def test_the_schema_and_the_parameters_list_know_the_plugin(site: Path) -> None:
    schema = json.loads(exoforge("schema", site=site).stdout)
    assert "Dialysis" in schema["$defs"]
    for block in ("Expansion", "Conditioning"):
        assert "example_defined" in schema["$defs"][block]["properties"]["medium"]["enum"]
    assert "example_rocking_bag" in schema["$defs"]["Expansion"]["properties"]["platform"]["enum"]
    assert "example_beads" in schema["$defs"]["Microcarrier"]["properties"]["type"]["enum"]
    out = exoforge("parameters", "--grep", "dialysis.recovery", site=site)
    assert out.returncode == 0 and "dialysis.recovery" in out.stdout, out.stdout + out.stderr


def test_without_the_plugin_the_operation_is_refused(scenario: Path) -> None:
    out = exoforge("run", str(scenario), site=None)
    assert out.returncode == 2
    assert "isolation[2]" in out.stderr and "dialysis" in out.stderr


def test_a_broken_plugin_stops_with_its_name(tmp_path: Path, scenario: Path) -> None:
    install(PLUGIN, tmp_path)
    (tmp_path / "exoforge_dialysis" / "__init__.py").write_text("raise ImportError('missing dependency')\n")
    out = exoforge("run", str(scenario), site=tmp_path)
    assert out.returncode == 1
    assert "plug-in 'dialysis'" in out.stderr and "missing dependency" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_mistake_in_a_plugin_parameter_file_names_plugin_file_and_line(tmp_path: Path, scenario: Path) -> None:
    install(PLUGIN, tmp_path)
    data = tmp_path / "exoforge_dialysis" / "parameters" / "dialysis.yaml"
    data.write_text(data.read_text(encoding="utf-8").replace("assumption:", "asumption:", 1), encoding="utf-8")
    out = exoforge("run", str(scenario), site=tmp_path)
    assert out.returncode == 1
    assert "plug-in 'dialysis'" in out.stderr
    assert "dialysis.yaml line 4: parameter dialysis.recovery: asumption: Extra inputs" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.fixture(scope="module")
def bag_scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _scenario_file(tmp_path_factory, "bag.yaml", BAG_SCENARIO)


def test_a_scenario_runs_on_the_plugin_platform(site: Path, bag_scenario: Path) -> None:
    """The plug-in's platform grows cells like the spinner it is like, is priced as its own bag, and its effect
    on secretion is pooled from the study in the plug-in's evidence set, shrunk toward the 3D family."""
    out = exoforge("run", str(bag_scenario), "--json", site=site)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["cells"]["harvested"] > result["cells"]["seeded"]
    priced = {line["item"] for line in result["ledger"]}
    assert "rocking_bag_per_l" in priced and "bioreactor_vessel_per_l" not in priced
    (effect,) = [e for e in result["evidence_effects"] if e["strategy"] == "example_rocking_bag"]
    assert effect["k"] == 1 and effect["records"] == ["yuan2022-wave-motion-bag-2x"]
    assert effect["refs"] == ["10.1002/jev2.12235"] and effect["family"] == "dynamic_3d_culture"
    own, family = effect["own_studies_median"], effect["family_median"]
    assert min(own, family) < effect["median"] < max(own, family)  # partially pooled
    assert not any("example_rocking_bag" in w and "family's predictive effect" in w for w in result["warnings"])


def test_worker_processes_know_the_plugin_platform(site: Path, bag_scenario: Path) -> None:
    """Monte Carlo in worker processes, which receive a scenario already read, gives this process's numbers."""
    runs = []
    for workers in ("1", "2"):
        out = exoforge(
            "mc", str(bag_scenario), "-n", "2048", "--chunk-rows", "1024", "--workers", workers, "--json", site=site
        )
        assert out.returncode == 0, out.stderr
        runs.append(json.loads(out.stdout))
    assert runs[1]["failed"]["count"] == 0
    assert runs[0]["kpis"] == runs[1]["kpis"]


def test_without_a_study_the_plugin_platform_takes_its_familys_predictive_effect(
    tmp_path: Path, bag_scenario: Path
) -> None:
    install(PLUGIN, tmp_path)
    for record in (tmp_path / "exoforge_dialysis" / "evidence" / "records").glob("*.yaml"):
        record.unlink()
    out = exoforge("run", str(bag_scenario), "--json", site=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    (effect,) = [e for e in result["evidence_effects"] if e["strategy"] == "example_rocking_bag"]
    assert effect["k"] == 0 and effect["family"] == "dynamic_3d_culture" and effect["median"] > 1
    assert any("example_rocking_bag" in w and "family's predictive effect" in w for w in result["warnings"])


def test_the_plugin_evidence_joins_emulation_and_crossval(site: Path) -> None:
    out = exoforge("evidence", "emulate", "--json", site=site)
    assert out.returncode == 0, out.stderr
    (bag,) = [e for e in json.loads(out.stdout)["emulations"] if e["record"] == "yuan2022-wave-motion-bag-2x"]
    assert bag["strategy"] == "example_rocking_bag" and bag["published"] == 2
    out = exoforge("evidence", "crossval", "--json", site=site)
    assert out.returncode == 0, out.stderr
    assert "yuan2022-wave-motion-bag-2x" in out.stdout


def test_a_comparison_filed_for_the_bag_and_for_spheroids_counts_once(site: Path, tmp_path: Path) -> None:
    """The plug-in's record repeats the packaged spheroid comparison of Yuan 2022 and says so: the pooling
    counts the one measurement once (fully correlated), and a record it names must exist."""
    out = exoforge("evidence", "pool", "example_rocking_bag", site=site)
    assert out.returncode == 0, out.stderr
    assert "shares a culture with spheroid in Yuan X 2022 (the same comparison)" in " ".join(out.stdout.split())
    install(PLUGIN, tmp_path)
    record = tmp_path / "exoforge_dialysis" / "evidence" / "records" / "yuan2022_wave_motion.yaml"
    record.write_text(
        record.read_text(encoding="utf-8").replace(
            "same_comparison_as: yuan2022-aggregate-wave-2x", "same_comparison_as: yuan2022-nothing"
        ),
        encoding="utf-8",
    )
    out = exoforge("evidence", "pool", "example_rocking_bag", site=tmp_path)
    assert out.returncode == 1
    assert "same_comparison_as 'yuan2022-nothing': no such record" in out.stderr
    assert "Traceback" not in out.stderr


def _bag_case(case_id: str, cells: float) -> str:
    """A validation case for the bag. The reported number is synthetic (a multiple of this model's own
    prediction, to test the mechanism); a real plug-in cites the published run it reproduces."""
    scenario = "\n".join("  " + line for line in BAG_SCENARIO.strip().splitlines())
    return (
        f"id: {case_id}\n"
        "title: synthetic test case, not a publication\n"
        "source: {ref: 10.0000/synthetic-test-case, location: none}\n"
        "metric: cells.harvested\n"
        f"observed: {{value: {cells:.6g}}}\n"
        "tolerance_fold: 30\n"
        "tolerance_reason: a synthetic value set at ten times the central prediction, to test the warning\n"
        f"scenario:\n{scenario}\n"
    )


def test_a_plugin_brings_validation_cases_for_its_platform(tmp_path: Path, bag_scenario: Path) -> None:
    """Cases in the evidence folder's validation/ join `exoforge validate`, and runs on the platform warn when
    they say the model runs high or low there (the plug-in's cases are run in the process, not committed)."""
    install(PLUGIN, tmp_path)
    out = exoforge("run", str(bag_scenario), "--json", site=tmp_path)
    assert out.returncode == 0, out.stderr
    plain = json.loads(out.stdout)
    # without cases of its own, the bag (microcarriers) hears only from the packaged microcarrier cases
    before = [w for w in plain["warnings"] if w.startswith("validation:")]
    assert all("grown on microcarriers (" in w and "example_rocking_bag" not in w for w in before)
    folder = tmp_path / "exoforge_dialysis" / "evidence" / "validation"
    folder.mkdir()
    (folder / "bag_case.yaml").write_text(
        _bag_case("bag_synthetic", 10 * plain["cells"]["harvested"]), encoding="utf-8"
    )
    out = exoforge("run", str(bag_scenario), "--json", site=tmp_path)
    assert out.returncode == 0, out.stderr
    warned = [w for w in json.loads(out.stdout)["warnings"] if w.startswith("validation:")]
    # its own case now speaks for its cells, in place of the surface's
    assert (
        len(warned) == 1 and "cells on example_rocking_bag at x0.1 " in warned[0] and "bag_synthetic x0.1" in warned[0]
    )
    out = exoforge("validate", "--case", "bag_synthetic", "--samples", "16", "--json", site=tmp_path)
    assert out.returncode == 0, out.stderr
    (case,) = json.loads(out.stdout)["cases"]
    assert case["predicted"] == pytest.approx(plain["cells"]["harvested"], rel=1e-9)
    (folder / "bag_case.yaml").write_text(_bag_case("colter2000_planar_bm", 1.0e8), encoding="utf-8")
    out = exoforge("run", str(bag_scenario), site=tmp_path)
    assert out.returncode == 1 and "validation case 'colter2000_planar_bm' is defined twice" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_plugin_record_must_not_reuse_an_id(tmp_path: Path, bag_scenario: Path) -> None:
    install(PLUGIN, tmp_path)
    record = tmp_path / "exoforge_dialysis" / "evidence" / "records" / "yuan2022_wave_motion.yaml"
    record.write_text(
        record.read_text(encoding="utf-8").replace("yuan2022-wave-motion-bag-2x", "yuan2022-aggregate-wave-2x"),
        encoding="utf-8",
    )
    out = exoforge("run", str(bag_scenario), site=tmp_path)
    assert out.returncode == 1
    assert (
        "plug-in dialysis: yuan2022_wave_motion.yaml record yuan2022-aggregate-wave-2x: "
        "id already used in yuan2022_aggregates_wave.yaml" in out.stderr
    )
    assert "Traceback" not in out.stderr


def test_the_plugin_platform_takes_the_keys_of_the_platform_it_is_like(site: Path, tmp_path: Path) -> None:
    path = tmp_path / "bag_flask_keys.yaml"
    path.write_text(BAG_SCENARIO.replace("  working_volume_l: 2\n", "  area_cm2: 175\n"), encoding="utf-8")
    out = exoforge("run", str(path), site=site)
    assert out.returncode == 2
    assert "platform 'example_rocking_bag' needs working_volume_l" in out.stderr
    assert "area_cm2 applies to planar and multilayer platforms, not 'example_rocking_bag'" in out.stderr
    too_big = tmp_path / "bag_too_big.yaml"
    too_big.write_text(BAG_SCENARIO.replace("working_volume_l: 2", "working_volume_l: 50"), encoding="utf-8")
    out = exoforge("run", str(too_big), site=site)
    assert out.returncode == 2 and "outside 0.1-25 L for 'example_rocking_bag'" in out.stderr


def test_a_plugin_platform_without_its_parameters_is_refused(tmp_path: Path, bag_scenario: Path) -> None:
    install(PLUGIN, tmp_path)
    data = tmp_path / "exoforge_dialysis" / "parameters" / "rocking_bag.yaml"
    kept = [line for line in data.read_text(encoding="utf-8").splitlines() if "name: harvest_efficiency" not in line]
    data.write_text("\n".join(kept) + "\n", encoding="utf-8")
    out = exoforge("run", str(bag_scenario), site=tmp_path)
    assert out.returncode == 1
    assert "platform 'example_rocking_bag' (like spinner) has no harvest_efficiency" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_plugin_microcarrier_without_its_parameters_is_refused(tmp_path: Path, bag_scenario: Path) -> None:
    install(PLUGIN, tmp_path)
    data = tmp_path / "exoforge_dialysis" / "parameters" / "rocking_bag.yaml"
    text = data.read_text(encoding="utf-8")
    kept = [line for line in text.splitlines() if "microcarrier_density.example_beads" not in line]
    data.write_text("\n".join(kept) + "\n", encoding="utf-8")
    out = exoforge("run", str(bag_scenario), site=tmp_path)
    assert out.returncode == 1
    assert "microcarrier 'example_beads' has no microcarrier_density.example_beads" in out.stderr


def test_without_the_plugin_the_platform_is_refused(bag_scenario: Path) -> None:
    out = exoforge("run", str(bag_scenario), site=None)
    assert out.returncode == 2
    assert "expansion.platform" in out.stderr and "example_rocking_bag" in out.stderr
