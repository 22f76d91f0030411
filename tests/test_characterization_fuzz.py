"""The importers never crash on arbitrary input: a file is read, or refused with located problems."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exoforge.characterization.nta import read_nta
from exoforge.characterization.textfile import DataFileError
from exoforge.measurements.table import read_batch_data
from tests.conftest import ROOT

SEED = (ROOT / "tests" / "data" / "nta" / "nanosight_nta34_one_video.csv").read_text(encoding="cp1252")
CELLS = st.sampled_from(
    [
        "",
        "x",
        "1",
        "-2",
        "1,5",
        "2.1e8",
        "Not recorded",
        "[Results]",
        "[Size Data]",
        "Weighting",
        "Number",
        "Bin centre (nm)",
        "Concentration (Particles / ml)",
        "nan",
        ";",
    ]
)


def _read(text: str, suffix: str, reader) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"f{suffix}"
        path.write_text(text, encoding="utf-8")
        try:
            reader(path)
        except DataFileError as exc:
            assert exc.problems and all(str(path) in p for p in exc.problems)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(CELLS, max_size=6), max_size=25))
def test_nta_reader_on_arbitrary_tables(rows) -> None:
    _read("\n".join(",".join(r) for r in rows), ".csv", read_nta)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=len(SEED) - 1), st.text(max_size=20))
def test_nta_reader_on_damaged_exports(cut, junk) -> None:
    _read(SEED[:cut] + junk + SEED[cut + len(junk) :], ".csv", read_nta)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(CELLS, max_size=8), max_size=10))
def test_batch_data_reader_on_arbitrary_tables(rows) -> None:
    header = "batch,time,variable,value,unit,replicate,assay\n"
    _read(header + "\n".join(",".join(r) for r in rows), ".csv", lambda p: read_batch_data([p]))
