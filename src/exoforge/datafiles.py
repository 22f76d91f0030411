"""Schemas of the packaged data files, checked at load with the file and line of every problem.

* parameter files (``exoforge/data/parameters/*.yaml``, price tables included): one
  :class:`ParameterEntry` per item of ``parameters``;
* the catalogue of media, microcarriers and basal media (``exoforge/data/catalogue.yaml``):
  :class:`CatalogueFile`.

An unknown key (a typo such as ``valeu`` or ``distributon``), a distribution kind or combination
rule outside the closed sets, or a value of the wrong type is refused: a misspelt key would
otherwise be ignored and the number silently fall back to something else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from exoforge.distributions import KINDS

DistributionKind = Literal[KINDS]  # type: ignore[valid-type]


class DataFileError(ValueError):
    """A packaged or plug-in data file does not follow its schema; ``problems`` name file and line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EstimateEntry(_Strict):
    """One cited estimate of a parameter."""

    value: float
    ref: str = Field(description="DOI (10.x/...) or PMID of the source")
    location: str = Field(description="where in the source: table, figure, page or section")
    derivation: str | None = None
    records: list[str] = Field(default_factory=list, description="evidence records the estimate rests on")
    note: str | None = None


class DistributionEntry(_Strict):
    """An uncertainty distribution (see :mod:`exoforge.distributions` for what each kind needs)."""

    kind: DistributionKind
    gsd: float | None = Field(default=None, gt=1.0)
    sigma: float | None = Field(default=None, ge=0.0)
    sd: float | None = Field(default=None, ge=0.0)
    low: float | None = None
    high: float | None = None
    lower: float | None = None
    upper: float | None = None


class FallbackEntry(_Strict):
    value: float
    reason: str


class ParameterEntry(_Strict):
    """One parameter of a data file: cited estimates, or a value with the assumption it stands on."""

    name: str = Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
    unit: str
    description: str = ""
    value: float | None = None
    estimates: list[EstimateEntry] = Field(default_factory=list)
    combine: Literal["first", "mean", "geometric_mean"] = "first"
    assumption: str | None = None
    distribution: DistributionEntry | None = None
    fallback: FallbackEntry | None = None
    inert: str | None = None
    when: dict[str, str] | None = None

    @model_validator(mode="after")
    def _cited_or_assumed(self) -> ParameterEntry:
        if not self.estimates and not (self.assumption and self.value is not None):
            raise ValueError("give cited estimates, or a value with an assumption reason")
        return self


class ParameterFile(_Strict):
    parameters: list[dict[str, Any]]  # validated item by item, for a line number each
    price_year: int | None = None


class MediumEntry(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str
    use: list[Literal["expansion", "conditioning"]] = Field(min_length=1)


class CatalogueItem(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str


class CatalogueFile(_Strict):
    """The media, microcarriers and basal media a scenario may name."""

    media: list[MediumEntry]
    microcarriers: list[CatalogueItem]
    basal_media: list[CatalogueItem]

    @model_validator(mode="after")
    def _unique_ids(self) -> CatalogueFile:
        for what, items in (("media", self.media), ("microcarriers", self.microcarriers)):
            ids = [i.id for i in items]
            twice = sorted({i for i in ids if ids.count(i) > 1})
            if twice:
                raise ValueError(f"{what}: id given twice: {', '.join(twice)}")
        return self


def item_lines(text: str, key: str) -> list[int]:
    """1-based line of each item of the top-level list ``key`` of a YAML document (empty if none)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return []
    if not isinstance(node, yaml.MappingNode):
        return []
    for k, value in node.value:
        if k.value == key and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def item_location(file: str, text: str, key: str, index: int) -> str:
    """``<file> line N`` of item ``index`` of the top-level list ``key``.

    The YAML is composed again to find the line, so this is for messages only: a valid file is
    parsed once.
    """
    lines = item_lines(text, key)
    return f"{file} line {lines[index]}" if index < len(lines) else file


def validation_messages(exc: ValidationError, where: str) -> list[str]:
    out = []
    for e in exc.errors():
        path = ".".join(str(x) for x in e["loc"]) or "(entry)"
        out.append(f"{where}: {path}: {e['msg']}")
    return out


def validate_parameter_file(path: Path, text: str, raw: Any) -> list[ParameterEntry]:
    """The entries of one parameter file; :class:`DataFileError` names file, line and key of each problem."""
    try:
        document = ParameterFile.model_validate(raw)
    except ValidationError as exc:
        raise DataFileError(validation_messages(exc, path.name)) from None
    problems: list[str] = []
    entries: list[ParameterEntry] = []
    for i, item in enumerate(document.parameters):
        try:
            entries.append(ParameterEntry.model_validate(item))
        except ValidationError as exc:
            where = item_location(path.name, text, "parameters", i)
            problems += validation_messages(exc, f"{where}: parameter {item.get('name', f'#{i + 1}')}")
    if problems:
        raise DataFileError(problems)
    return entries


def validate_catalogue(path: Path, text: str, raw: Any) -> CatalogueFile:
    """The catalogue; :class:`DataFileError` names the line of each entry with a problem."""
    try:
        return CatalogueFile.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            loc = e["loc"]
            line = ""
            if len(loc) >= 2 and isinstance(loc[1], int):
                lines = item_lines(text, str(loc[0]))
                if loc[1] < len(lines):
                    line = f" line {lines[loc[1]]}"
            path_text = ".".join(str(x) for x in loc) or "(file)"
            problems.append(f"{path.name}{line}: {path_text}: {e['msg']}")
        raise DataFileError(problems) from None


def check_packaged_data(parameter_dir: Path, catalogue: Path) -> tuple[int, list[str]]:
    """(parameters read, problems) of every parameter file in ``parameter_dir`` and of ``catalogue``."""
    from exoforge.yamlio import load_yaml

    problems: list[str] = []
    count = 0
    for path in [*sorted(parameter_dir.glob("*.yaml")), catalogue]:
        text = path.read_text(encoding="utf-8")
        try:
            raw = load_yaml(text)
        except yaml.YAMLError as exc:
            problems.append(f"{path.name}: not valid YAML: {exc}")
            continue
        try:
            if path == catalogue:
                validate_catalogue(path, text, raw)
            else:
                count += len(validate_parameter_file(path, text, raw))
        except DataFileError as exc:
            problems += exc.problems
    return count, problems
