"""Scenario text and mappings as the workspace receives them: parsed, validated, problems by key path."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ScenarioProblem:
    """One problem of a scenario: the key path (``(file)`` for syntax) and the message."""

    path: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class InvalidScenario(ValueError):
    """A scenario that breaks the contract; ``problems`` lists each one with its key path."""

    def __init__(self, problems: list[ScenarioProblem]):
        self.problems = problems
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems))


def split_problem(line: str) -> ScenarioProblem:
    """``"expansion.platform: 'x' is not allowed"`` -> (``expansion.platform``, ``'x' is not allowed``)."""
    path, sep, message = line.partition(": ")
    if not sep or " " in path.strip():
        return ScenarioProblem("(top level)", line)
    return ScenarioProblem(path.strip(), message.strip())


def mapping_from_text(text: str, fmt: str = "yaml") -> dict[str, Any]:
    """Read scenario text exactly as a scenario file is read (``yaml`` or ``toml``)."""
    from exoforge.scenario import ScenarioError, read_mapping

    with tempfile.TemporaryDirectory(prefix="exoforge-scenario-") as tmp:
        path = Path(tmp) / f"scenario.{fmt}"
        path.write_text(text, encoding="utf-8")
        try:
            return read_mapping(path)
        except ScenarioError as exc:
            raise InvalidScenario([split_problem(p) for p in exc.problems]) from None


def validate(content: dict[str, Any]) -> Any:
    """The :class:`~exoforge.scenario.Scenario` of a mapping, or :class:`InvalidScenario` listing every problem."""
    from exoforge.scenario import ScenarioError, parse_scenario

    try:
        return parse_scenario(content)
    except ScenarioError as exc:
        raise InvalidScenario([split_problem(p) for p in exc.problems]) from None


def content_and_text(content: dict[str, Any] | None, text: str | None) -> tuple[dict[str, Any], str | None]:
    """The scenario mapping (and the text it came from) of a request that gives one of the two."""
    if (content is None) == (text is None):
        raise InvalidScenario([ScenarioProblem("(body)", "give the scenario as `content` (a mapping) or `yaml`")])
    if text is not None:
        return mapping_from_text(text), text
    assert content is not None
    return content, None


def to_yaml(content: dict[str, Any]) -> str:
    """A mapping as YAML text for the editor (keys in their stored order)."""
    import yaml

    return yaml.safe_dump(content, sort_keys=False, allow_unicode=True)
