"""Ctrl-C ends a command at once with exit 130 and no traceback; files are written whole or not at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from exoforge.fileio import atomic_target, write_atomic

ROOT = Path(__file__).resolve().parents[1]
EXOFORGE = str(Path(sys.executable).parent / "exoforge")
#: Seconds a command may take to stop after Ctrl-C (the requirement is about one; the margin is for a busy machine).
STOP_WITHIN = 3.0


@pytest.mark.slow
@pytest.mark.parametrize("wait", [2.0, 6.0])
def test_interrupted_monte_carlo_leaves_no_report_and_exits_130(tmp_path: Path, wait: float) -> None:
    """Interrupted while the worker processes start (2 s) and while they compute (6 s)."""
    report = tmp_path / "r.html"
    proc = subprocess.Popen(
        [
            EXOFORGE,
            "mc",
            str(ROOT / "examples" / "stirred_tank_tff_sec.yaml"),
            "-n",
            "1000000",
            "--report",
            str(report),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    time.sleep(wait)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    stopped = time.monotonic() - start
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert stopped < STOP_WITHIN, f"took {stopped:.1f} s to stop"
    assert not report.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_previous_file_survives_a_failed_write(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    write_atomic(target, "old")
    with pytest.raises(RuntimeError), atomic_target(target) as tmp:
        tmp.write_text("half a fi", encoding="utf-8")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_write_atomic_writes_text_and_bytes(tmp_path: Path) -> None:
    assert write_atomic(tmp_path / "a" / "t.txt", "é").read_text(encoding="utf-8") == "é"
    assert write_atomic(tmp_path / "b.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    assert os.listdir(tmp_path / "a") == ["t.txt"]
