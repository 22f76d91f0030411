"""Run one fuzz case through the command line's own path and classify what happened."""

from __future__ import annotations

import json
import math
import signal
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from exoforge.cli import app
from tests.fuzz.corpus import Case

#: Seconds one case may take (a normal run takes well under one).
CASE_TIME_LIMIT = 30
#: Sections of a run's JSON whose numbers the contract promises finite and non-negative.
NON_NEGATIVE_SECTIONS = ("cells", "ev")


class CaseTimeout(Exception):
    pass


@dataclass(frozen=True)
class Outcome:
    kind: str  # refused | ran | traceback | over_time | non_finite | bad_exit
    detail: str = ""


def _numbers(node: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [x for k, v in node.items() for x in _numbers(v, f"{path}.{k}" if path else str(k))]
    if isinstance(node, bool) or node is None or isinstance(node, str | list):
        return [(path, node)] if node is None else []
    return [(path, node)]


def _on_alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout


def run_case(case: Case, folder: Path) -> Outcome:
    path = folder / f"{case.name}{case.suffix}"
    path.write_bytes(case.content)
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(CASE_TIME_LIMIT)
    try:
        result = CliRunner().invoke(app, ["run", str(path), "--json"])
    except CaseTimeout:
        return Outcome("over_time", f"{case.name}: {case.mutations}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        path.unlink(missing_ok=True)
    if isinstance(result.exception, CaseTimeout):
        return Outcome("over_time", f"{case.name}: {case.mutations}")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return Outcome(
            "traceback", f"{case.name}: {case.mutations}: {type(result.exception).__name__}: {result.exception}"
        )
    if result.exit_code == 2:
        text = result.output.strip()
        if not text or "Traceback" in text:
            return Outcome("bad_exit", f"{case.name}: refusal without a message")
        return Outcome("refused")
    if result.exit_code != 0:
        return Outcome("bad_exit", f"{case.name}: exit {result.exit_code}: {result.output[-300:]}")
    doc = json.loads(result.output)
    for section in NON_NEGATIVE_SECTIONS:
        for where, value in _numbers(doc.get(section, {}), section):
            if value is None or not math.isfinite(value) or value < 0:
                return Outcome("non_finite", f"{case.name}: {case.mutations}: {where} = {value}")
    per_batch = doc.get("cost", {}).get("per_batch")
    if per_batch is None or not math.isfinite(per_batch) or per_batch < 0:
        return Outcome("non_finite", f"{case.name}: {case.mutations}: cost.per_batch = {per_batch}")
    return Outcome("ran")


def tally(outcomes: list[Outcome]) -> Counter[str]:
    return Counter(o.kind for o in outcomes)
