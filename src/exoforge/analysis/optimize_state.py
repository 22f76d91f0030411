"""The optimiser's resumable state: a JSON file (it cannot run code when read), saved each generation.

It holds the optimiser's settings and seed, the generations done and every design evaluated so far
with its metrics; :func:`load_state` refuses a file of another format, version or design space.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exoforge.analysis.design_evaluation import DesignMetrics, _fnum, _jnum
from exoforge.analysis.space import (
    DesignSpace,
)

#: Version of the JSON state file (1 was a Python pickle, no longer read).
STATE_VERSION = 2
STATE_FORMAT = "exoforge optimiser state"


# --------------------------------------------------------------------------- the run


@dataclass
class OptimizerState:
    """What a resumed run needs (all plain JSON): settings, generations done and every design evaluated."""

    version: int
    digest: str
    algorithm: str  # 'ga' | 'nsga2'
    population: int
    seed: int
    generations_done: int
    history: list[tuple[int, float]]
    seconds: float
    archive: list[DesignMetrics]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "version": self.version,
            "digest": self.digest,
            "algorithm": self.algorithm,
            "population": self.population,
            "seed": self.seed,
            "generations_done": self.generations_done,
            "history": [[n, _jnum(b)] for n, b in self.history],
            "seconds": self.seconds,
            "archive": [m.to_json() for m in self.archive],
        }


def state_digest(space: DesignSpace, exclude_refs: Sequence[str] = ()) -> str:
    """What a saved state must match to be resumed: the space's digest and, when evidence references are
    left out, those references (so a run without a study is never continued as one with it)."""
    if not exclude_refs:
        return space.digest
    import hashlib

    return hashlib.sha256(json.dumps([space.digest, sorted(exclude_refs)]).encode()).hexdigest()


def save_state(state: OptimizerState, path: Path) -> None:
    """Write the state as JSON, atomically (a temporary file renamed over the old one)."""
    from exoforge.fileio import write_atomic

    write_atomic(path, json.dumps(state.to_json(), separators=(",", ":")))


def load_state(path: Path, space: DesignSpace, exclude_refs: Sequence[str] = ()) -> OptimizerState:
    """Read a JSON state file saved for ``space`` (with ``exclude_refs`` left out of the evidence); refuse
    pickles and anything else with a clear reason."""
    raw = path.read_bytes()
    if raw[:1] == b"\x80":
        raise ValueError(
            f"{path}: an optimiser state saved as a Python pickle by an earlier exoforge version; pickles can run "
            "code when loaded, so they are no longer read. Start afresh without --resume (the state is now JSON)"
        )
    try:
        d = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(f"{path}: not an exoforge optimiser state (expected a JSON file)") from None
    if not isinstance(d, dict) or d.get("format") != STATE_FORMAT:
        raise ValueError(f"{path}: not an exoforge optimiser state (no '{STATE_FORMAT}' format key)")
    if d.get("version") != STATE_VERSION:
        raise ValueError(f"{path}: optimiser state version {d.get('version')}; this exoforge reads {STATE_VERSION}")
    if d.get("digest") != state_digest(space, exclude_refs):
        raise ValueError(
            f"{path}: saved for a different design space (or a changed base scenario, or other references left "
            "out with --exclude-ref); start afresh"
        )
    try:
        return OptimizerState(
            version=int(d["version"]),
            digest=str(d["digest"]),
            algorithm=str(d["algorithm"]),
            population=int(d["population"]),
            seed=int(d["seed"]),
            generations_done=int(d["generations_done"]),
            history=[(int(n), _fnum(b)) for n, b in d["history"]],
            seconds=float(d["seconds"]),
            archive=[DesignMetrics.from_json(m) for m in d["archive"]],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: a damaged optimiser state ({type(exc).__name__}: {exc})") from None
