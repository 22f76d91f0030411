"""The scenario contract describes itself: every field has a description (with its unit), every
number a documented finite range, choices come from the packaged catalogues, and a value outside
its range gets one line naming the key path, the value and the range."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from exoforge.cli import app
from exoforge.parameters import load_default_entries
from exoforge.scenario import (
    Scenario,
    ScenarioError,
    basal_media,
    media_for,
    medium_parameter_names,
    microcarrier_types,
    parse_scenario,
)
from tests.conftest import ROOT, example_data

runner = CliRunner()
BASE = ROOT / "examples" / "stirred_tank_tff_sec.yaml"


def _schema() -> dict[str, Any]:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _properties(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(model.field, property schema) of every field of every model of the schema."""
    models = {"Scenario": schema, **schema.get("$defs", {})}
    for model, body in models.items():
        for field, prop in body.get("properties", {}).items():
            yield f"{model}.{field}", prop


def _numeric_parts(prop: dict[str, Any]) -> list[dict[str, Any]]:
    """The number- or integer-typed sub-schemas of a property (through anyOf and mapping values)."""
    out = []
    for part in [prop, *prop.get("anyOf", [])]:
        if part.get("type") in ("number", "integer"):
            out.append(part)
        for inner in (part.get("additionalProperties"), part.get("items")):
            if isinstance(inner, dict) and inner.get("type") in ("number", "integer"):
                out.append(inner)
    return out


def test_every_field_has_a_description() -> None:
    missing = [name for name, prop in _properties(_schema()) if not prop.get("description", "").strip()]
    assert not missing, f"fields without a description in `exoforge schema`: {missing}"


def test_every_numeric_field_has_a_finite_documented_range_and_unit() -> None:
    problems = []
    for name, prop in _properties(_schema()):
        for part in _numeric_parts(prop):
            if "enum" in part or "const" in part:
                continue
            low = part.get("minimum", part.get("exclusiveMinimum"))
            high = part.get("maximum", part.get("exclusiveMaximum"))
            if low is None or high is None:
                problems.append(f"{name}: no {'lower' if low is None else 'upper'} bound")
            elif not -1e300 < low < high < 1e300:
                problems.append(f"{name}: range {low}..{high} is not a finite interval")
        if any("enum" not in p and "const" not in p for p in _numeric_parts(prop)):
            text = prop.get("description", "")
            if "Allowed:" not in text:
                problems.append(f"{name}: the description does not state the allowed range")
            if "unit" not in prop and not any("unit" in p for p in _numeric_parts(prop)):
                problems.append(f"{name}: no unit")
    assert not problems, "\n".join(problems)


def test_ranges_that_are_judgements_say_so() -> None:
    """A range either cites where it comes from or says it is a judgement."""
    for name, prop in _properties(_schema()):
        if not _numeric_parts(prop) or "Range:" not in prop.get("description", ""):
            continue
        basis = prop["description"].split("Range:", 1)[1]
        assert any(w in basis for w in ("judgement", "doi:", "RRID", "no DOI", "years", "definition", "any finite")), (
            name,
            basis,
        )


def test_choices_come_from_the_packaged_catalogues() -> None:
    from exoforge.evidence.store import load_strategies

    schema = _schema()
    defs = schema["$defs"]
    assert defs["Expansion"]["properties"]["medium"]["enum"] == list(media_for("expansion"))
    assert defs["Conditioning"]["properties"]["medium"]["enum"] == [*media_for("conditioning"), "same"]
    assert defs["Microcarrier"]["properties"]["type"]["enum"] == list(microcarrier_types())
    assert defs["Expansion"]["properties"]["basal_medium"]["anyOf"][0]["enum"] == list(basal_media())
    strategies = defs["Conditioning"]["properties"]["strategies"]["items"]["enum"]
    assert strategies == sorted(s.id for s in load_strategies() if s.scenario)


def test_the_catalogue_and_the_parameter_data_agree() -> None:
    """Every medium and microcarrier of the catalogue has the parameters the model reads, and every
    medium or microcarrier the parameter data describe is in the catalogue."""
    names = {p.name for p in load_default_entries()}
    media = set(media_for("expansion")) | set(media_for("conditioning"))
    for m in media:
        uses = [u for u in ("expansion", "conditioning") if m in media_for(u)]
        for name in medium_parameter_names(m, uses):
            assert name in names, (m, name)
    described = {n.split(".", 1)[1] for n in names if n.startswith("medium_glucose.")}
    assert described == media
    carriers = {n.split(".", 1)[1] for n in names if n.startswith("microcarrier_area_per_mass.")}
    assert carriers == set(microcarrier_types())
    for c in carriers:
        assert f"microcarrier_diameter.{c}" in names and f"microcarrier_density.{c}" in names, c
    basal = {n.split(".", 1)[1] for n in names if n.startswith("basal_glucose.")}
    assert basal == set(basal_media())
    assert all(f"basal_glutamine.{b}" in names for b in basal)


def test_conditioning_days_are_documented_per_collection() -> None:
    cond = _schema()["$defs"]["Conditioning"]
    assert "per collection" in cond["description"] or "ONE collection" in cond["description"]
    assert "days x collections" in cond["properties"]["days"]["description"]
    assert "ONE collection" in (Scenario.model_fields["conditioning"].annotation.__doc__ or "")


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        ({"conditioning.days": float("inf")}, ["conditioning.days: inf is not a finite number", "365 day"]),
        ({"expansion.days": 1e308}, ["expansion.days: 1e+308 is outside the allowed range", "at most 365 day"]),
        ({"expansion.feeding.every_days": 5e-324}, ["expansion.feeding.every_days:", "from 0.0417 to 365 day"]),
        ({"expansion.working_volume_l": 500}, ["working_volume_l: 500", "from 0.1 to 200 L", "stirred_tank"]),
        ({"expansion.vessels": 0}, ["expansion.vessels: 0 is outside the allowed range: from 1 to 1,000"]),
        ({"isolation": [{"op": "tff", "mwco_kda": -3}]}, ["isolation[0].mwco_kda: -3", "from 1 to 5,000 kDa"]),
        ({"dose": {"particles": float("nan")}}, ["dose.particles: nan is not a finite number"]),
        ({"demand": {"doses_per_year": 1e12}}, ["demand.doses_per_year: 1e+12", "from 1 to 1e+09 dose/year"]),
        ({"demand": {"doses_per_year": 5e-324}}, ["demand.doses_per_year", "from 1 to 1e+09 dose/year"]),
        ({"economics": {"prices": {"serum_free_medium_per_l": -5}}}, ["economics.prices.serum_free_medium_per_l: -5"]),
        ({"conditioning.days": True}, ["conditioning.days: True is a yes/no value, not a number"]),
        (
            {"expansion.days": 300, "conditioning.days": 30, "conditioning.collections": 4},
            ["expansion.days + conditioning.days x conditioning.collections", "at most 365 days"],
        ),
    ],
)
def test_a_value_out_of_range_names_key_value_and_range(changes: dict[str, Any], fragments: list[str]) -> None:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(example_data(BASE, **changes))
    text = "\n".join(exc.value.problems)
    for fragment in fragments:
        assert fragment in text, (fragment, text)
    assert len(exc.value.problems) == 1, exc.value.problems


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        ({"expansion.feeding.evry_days": 2}, ["expansion.feeding.evry_days: unknown key", "did you mean 'every_days'"]),
        (
            {"expansion.microcarrier.gperl": 2},
            ["expansion.microcarrier.gperl: unknown key", "allowed here: type, g_per_l"],
        ),
        ({"isolation": [{"op": "tff", "mwco": 300}]}, ["isolation[0].mwco: unknown key", "did you mean 'mwco_kda'"]),
        (
            {"parameters": {"ev_secretion_rate": {"valeu": 1, "unit": "1/day"}}},
            ["parameters.ev_secretion_rate.valeu: unknown key", "did you mean 'value'", "allowed here: value, unit"],
        ),
        ({"economics.labour_rate": 50}, ["economics.labour_rate: unknown key", "did you mean 'labour_rate_per_h'"]),
        ({"dose.particle": 1e9}, ["dose.particle: unknown key", "did you mean 'particles'"]),
    ],
)
def test_unknown_nested_keys_get_a_suggestion_and_the_allowed_keys(
    changes: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(example_data(BASE, **changes))
    text = "\n".join(exc.value.problems)
    for fragment in fragments:
        assert fragment in text, (fragment, text)


def test_a_parameter_override_stays_in_the_parameters_own_range(tmp_path: Path) -> None:
    data = example_data(BASE, parameters={"ev_secretion_rate": {"value": 1e12, "unit": "particle/cell/day"}})
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(data))
    result = runner.invoke(app, ["run", str(path), "--json"])
    assert result.exit_code == 2
    assert "parameters.ev_secretion_rate.value: 1e+12" in result.stderr
    assert "outside the range of ev_secretion_rate" in result.stderr
    fraction = example_data(BASE, parameters={"medium_carryover_fraction": {"value": 1.5, "unit": ""}})
    path.write_text(json.dumps(fraction))
    result = runner.invoke(app, ["run", str(path), "--json"])
    assert result.exit_code == 2
    assert "from 0 to 1" in result.stderr and "a fraction" in result.stderr
    price = example_data(BASE, economics={"prices": {"serum_free_medium_per_l": 0}})
    path.write_text(json.dumps(price))
    assert runner.invoke(app, ["run", str(path), "--json"]).exit_code == 0  # an item already paid for


@pytest.mark.parametrize(
    "unit", ["((((", "m/", "1/0", "__import__('os')", "m**1e308", "x" * 500, "cell/", "m; rm", "particle/cell/day)"]
)
def test_odd_unit_strings_are_not_units(unit: str) -> None:
    """pint's parser fails on odd strings in many ways (AssertionError, TokenError, ZeroDivisionError,
    RecursionError); every one of them is 'not a unit' on one line."""
    import exoforge as xf

    data = example_data(BASE, parameters={"ev_secretion_rate": {"value": 3000, "unit": unit}})
    try:
        scn = parse_scenario(data)
    except ScenarioError as exc:  # too long for the contract
        assert exc.problems == [
            "parameters.ev_secretion_rate.unit: '" + unit[:57] + "...' is invalid: "
            "string should have at most 60 characters"
        ]
        return
    with pytest.raises(ValueError, match=r"parameters\.ev_secretion_rate\.unit: .*not a unit"):
        xf.simulate(scn)
