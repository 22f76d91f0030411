"""`exoforge run --save`, `exoforge runs list|show|export|rerun` and `exoforge db` on a temporary database."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from exoforge.cli import app
from tests.conftest import ROOT, matched

EXAMPLE = ROOT / "examples" / "stirred_tank_tff_sec.yaml"


@pytest.fixture
def cli(sqlite_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EXOFORGE_DATABASE_URL", sqlite_url)
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(app, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def saved(cli, tmp_path: Path) -> dict[str, Any]:
    """Two saved runs of one scenario file: the file as it is, then edited."""
    out = cli("run", str(EXAMPLE), "--save", "--json", "--seed", "7", "--project", "lab")
    assert out.exit_code == 0, out.output
    first = json.loads(out.stdout)
    run1 = matched(r"saved run ([0-9a-f]{12})", out.stderr)
    edited = tmp_path / "edited.yaml"
    edited.write_text(EXAMPLE.read_text().replace("days: 7", "days: 6", 1))
    out = cli("run", str(edited), "--save", "--project", "lab")
    assert out.exit_code == 0, out.output
    run2 = matched(r"saved run ([0-9a-f]{12}) \(lab / .* revision 2\)", out.stderr)
    return {"run1": run1, "run2": run2, "first": first}


def test_run_save_records_the_run_and_runs_show_returns_the_same_result(cli, saved) -> None:
    out = cli("runs", "show", saved["run1"], "--json")
    assert out.exit_code == 0
    record = json.loads(out.stdout)
    assert record["seed"] == 7 and record["revision"] == 1 and record["status"] == "succeeded"
    stored = {k: v for k, v in record["result"].items() if k != "series"}
    assert stored == saved["first"]
    assert len(record["evidence_hash"]) == 64 and len(record["parameters_hash"]) == 64
    text = cli("runs", "show", saved["run1"]).stdout
    assert "scenario revision 1" in text and "cost per dose" in text


def test_a_run_with_measured_size_files_is_stored_self_contained_and_reruns(cli) -> None:
    out = cli("run", str(ROOT / "examples" / "pilot_3l_measured_size.yaml"), "--save", "--json")
    assert out.exit_code == 0, out.output
    run_id = matched(r"saved run ([0-9a-f]{12})", out.stderr)
    record = json.loads(cli("runs", "show", run_id, "--json").stdout)
    assert record["result"]["ev_size"] == json.loads(out.stdout)["ev_size"]
    rerun = json.loads(cli("runs", "rerun", run_id, "--json").stdout)
    assert rerun["identical"] is True


def test_runs_list_shows_newest_first_and_filters_by_project(cli, saved) -> None:
    rows = json.loads(cli("runs", "list", "--json").stdout)
    assert [r["id"][:12] for r in rows] == [saved["run2"], saved["run1"]]
    assert [r["revision"] for r in rows] == [2, 1]
    assert json.loads(cli("runs", "list", "--project", "lab", "--json").stdout) == rows
    missing = cli("runs", "list", "--project", "nope")
    assert missing.exit_code == 2 and "no project named 'nope'" in missing.stderr


def test_a_stored_run_reruns_to_the_identical_result(cli, saved) -> None:
    out = cli("runs", "rerun", saved["run1"], "--json")
    assert out.exit_code == 0, out.output
    outcome = json.loads(out.stdout)
    assert outcome["identical"] is True and outcome["differences"] == [] and outcome["changed_inputs"] == []
    repeat = json.loads(cli("runs", "show", outcome["repeat"], "--json").stdout)
    original = json.loads(cli("runs", "show", saved["run1"], "--json").stdout)
    assert repeat["rerun_of"] == original["id"]
    assert repeat["result"] == original["result"] and repeat["result_hash"] == original["result_hash"]
    # the second run was made from the edited file: re-running it uses its own revision, not the newest
    text = cli("runs", "rerun", saved["run2"]).stdout
    assert text.startswith("identical:")


def test_runs_export_writes_json_csv_html_and_xlsx(cli, saved, tmp_path: Path) -> None:
    for fmt in ("json", "csv", "html", "xlsx"):
        target = tmp_path / f"run.{fmt}"
        out = cli("runs", "export", saved["run1"], "--format", fmt, "-o", str(target))
        assert out.exit_code == 0, out.output
        assert target.stat().st_size > 100
    assert json.loads((tmp_path / "run.json").read_text())["seed"] == 7
    assert "cost.per_dose," in (tmp_path / "run.csv").read_text()
    assert "<html" in (tmp_path / "run.html").read_text().lower()
    assert (tmp_path / "run.xlsx").read_bytes()[:2] == b"PK"
    bad = cli("runs", "export", saved["run1"], "--format", "pdf")
    assert bad.exit_code == 2 and "choose one of json, csv, html, xlsx" in bad.stderr
    assert cli("runs", "export", saved["run1"], "--format", "xlsx").exit_code == 2


def test_unknown_run_ids_exit_2_with_one_line(cli, saved) -> None:
    out = cli("runs", "show", "ffffffffffff")
    assert out.exit_code == 2 and out.stderr.count("\n") == 1 and "no run with id" in out.stderr


def test_db_upgrade_current_and_verify(cli, sqlite_url: str) -> None:
    out = cli("db", "upgrade")
    assert out.exit_code == 0 and "migrated empty ->" in out.stdout
    assert "already at" in cli("db", "upgrade").stdout
    assert "(newest:" in cli("db", "current").stdout
    assert cli("run", str(EXAMPLE), "--save").exit_code == 0
    verify = cli("db", "verify")
    assert verify.exit_code == 0 and re.search(r"audit log intact: \d+ entries", verify.stdout)


def test_db_upgrade_names_a_database_it_cannot_open(tmp_path: Path) -> None:
    runner = CliRunner()
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = runner.invoke(app, ["db", "upgrade", "--url", f"sqlite:///{blocker}/sub/x.db"])
    assert out.exit_code == 2 and "Traceback" not in out.output
