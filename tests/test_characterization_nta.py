"""NTA import: the two real NanoSight NTA 3.3 exports, synthetic layout variations, ZetaView, and bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from exoforge.characterization.nta import read_nta
from exoforge.characterization.textfile import DataFileError
from exoforge.cli import app
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data" / "nta"
#: The real exports live in the shared reference folder next to the repository (not redistributed here).
REFERENCE = next(
    (p for p in (ROOT.parent / "shared/reference/nta", ROOT.parents[1] / "shared/reference/nta") if p.is_dir()), None
)
runner = CliRunner()


def real(name: str) -> Path:
    if REFERENCE is None:
        pytest.skip("the real NanoSight exports (shared/reference/nta) are not next to this checkout")
    return REFERENCE / f"nanosight_nta33_ExperimentSummary_{name}.csv"


@pytest.mark.parametrize(
    ("name", "conc", "se", "mode", "d50"),
    [("a", 2.16e8, 1.01e7, 61.7, 72.5), ("b", 1.78e8, 8.24e6, 71.8, 81.3)],
)
def test_real_nanosight_exports_give_the_stated_concentration_and_d50(name, conc, se, mode, d50) -> None:
    m = read_nta(real(name))
    assert m.instrument == "NanoSight" and m.software.startswith("NTA 3.3")
    assert len(m.videos) == 5 and len(m.concentration.per_video) == 5
    assert m.concentration.average == pytest.approx(conc) and m.concentration.standard_error == pytest.approx(se)
    assert m.size["d50"].average == pytest.approx(d50) and m.size["mode"].average == pytest.approx(mode)
    assert m.dilution_factor is None and m.dilution_line == 44
    assert m.settings["camera_level"] == 16 and m.settings["detection_threshold"] == 5
    dist = m.distribution
    assert dist is not None and dist.centres_nm[0] == 0.5 and np.all(np.diff(dist.centres_nm) == 1.0)
    # the number distribution of the average sums to the average concentration (integer bins rounded)
    assert dist.total == pytest.approx(conc, rel=0.01)
    # D50 of the averaged distribution is near the average of the per-video D50s
    assert dist.percentile(0.5) == pytest.approx(d50, abs=1.5)
    # a video's concentrations agree with the mean of the five
    assert None not in m.concentration.per_video
    assert np.mean([float(v or 0.0) for v in m.concentration.per_video]) == pytest.approx(conc, rel=0.01)


def test_not_recorded_dilution_must_be_supplied_never_assumed() -> None:
    m = read_nta(real("a"))
    with pytest.raises(DataFileError, match=r"line 44.*never assumes"):
        m.sample_concentration()
    assert m.sample_concentration(200) == pytest.approx(2.16e8 * 200)
    out = runner.invoke(app, ["nta", "import", str(real("b")), "--json"])
    assert out.exit_code == 0, out.output
    d = json.loads(out.output)
    assert d["sample_concentration_per_ml"] is None and "not recorded" in d["sample_concentration_missing"]
    assert d["size_nm"]["d50"]["average"] == 81.3
    assert any("Be cautious" in w for w in d["warnings"])  # the file's validity flags are passed on


def test_seven_videos_with_a_recorded_dilution() -> None:
    m = read_nta(DATA / "nanosight_seven_videos_dilution_500.csv")
    assert len(m.videos) == 7 and m.dilution_factor == 500
    # NanoSight adjusts recorded dilutions itself: the sample concentration is the reported one
    assert m.sample_concentration() == pytest.approx(m.concentration.average)
    with pytest.raises(ValueError, match="contradicts"):
        m.sample_concentration(200)
    assert m.size["d50"].average == pytest.approx(90.0, abs=1.5)
    assert m.distribution is not None and m.distribution.per_video is not None
    assert m.distribution.per_video.shape[1] == 7


def test_another_version_one_video_labels_and_order_changed() -> None:
    m = read_nta(DATA / "nanosight_nta34_one_video.csv")
    assert m.software == "NTA 3.4 Build 3.4.4" and len(m.videos) == 1
    assert m.concentration.average == pytest.approx(4.4e8)
    assert m.concentration.standard_error is None  # one video: no spread to report
    assert m.settings["camera_level"] == 14  # 'CAMERA LEVEL' found by its label in another case


def test_decimal_commas_and_semicolons() -> None:
    m = read_nta(DATA / "nanosight_decimal_comma.csv")
    assert m.concentration.per_video == (1.2e9, 1.1e9, 1.3e9)
    assert m.size["d50"].average == pytest.approx(90.0, abs=1.5)
    assert m.settings["temperature_c"] == 25.0


def test_missing_sections_are_warned_not_invented() -> None:
    m = read_nta(DATA / "nanosight_no_settings_no_size.csv")
    assert m.concentration.average == pytest.approx(5.1e8)
    assert m.distribution is None and m.size == {}
    assert m.settings["camera_level"] is None and m.settings["detection_threshold"] is None
    text = " ".join(m.warnings)
    assert "[Conditions]" in text and "[Settings]" in text and "[Size Data]" in text


def test_zetaview_export() -> None:
    m = read_nta(DATA / "zetaview_8_06.txt")
    assert m.instrument == "ZetaView" and m.dilution_factor == 1000
    assert m.size["d50"].average == pytest.approx(110.0, abs=2.5)  # 5 nm bins of a lognormal with median 110
    assert m.concentration.average is not None
    assert m.sample_concentration() == pytest.approx(m.concentration.average * 1000)
    assert m.settings["sensitivity"] == 80 and m.settings["laser_wavelength_nm"] == 488
    bare = read_nta(DATA / "zetaview_no_dilution.txt")
    with pytest.raises(DataFileError, match="not recorded"):
        bare.sample_concentration()


@pytest.mark.parametrize(
    ("name", "line", "text", "token"),
    [
        ("bad_concentration_not_a_number.csv", 21, "'2.1O+08' is not a number", "2.1O+08"),
        ("bad_negative_bin.csv", 95, "is negative", "60.5,-3"),
        ("bad_dilution_zero.csv", 20, "is not a dilution factor", "Dilution factor"),
        ("bad_truncated_table.csv", 116, "is not a bin centre", "8#"),
        ("bad_no_results.csv", 1, "no [Results] section", "NTA Experiment Summary"),
        ("bad_not_nta.csv", 1, "not an NTA export", "batch"),
        ("bad_zetaview_value.txt", 63, "'n/a' is not a number", "n/a"),
    ],
)
def test_bad_files_are_answered_with_their_line(name, line, text, token) -> None:
    path = DATA / name
    with pytest.raises(DataFileError) as err:
        read_nta(path)
    assert any(f"line {line}" in p and text in p for p in err.value.problems), err.value.problems
    assert token in path.read_text(encoding="cp1252").splitlines()[line - 1]  # the named line holds the fault
    out = runner.invoke(app, ["nta", "import", str(path)])
    assert out.exit_code == 2 and f"line {line}" in out.output and "Traceback" not in out.output


def test_command_line_summary_and_bad_dilution() -> None:
    path = DATA / "nanosight_seven_videos_dilution_500.csv"
    out = runner.invoke(app, ["nta", "import", str(path)])
    assert out.exit_code == 0 and "videos        7" in out.output and "D50" in out.output
    out = runner.invoke(app, ["nta", "import", str(path), "--dilution", "0.5"])
    assert out.exit_code == 2 and "not a dilution factor" in out.output
    out = runner.invoke(app, ["nta", "import", str(DATA / "missing.csv")])
    assert out.exit_code == 2 and "file not found" in out.output
