"""Citations: bibliographic entries for exactly the references a run used.

Metadata comes from the evidence records (one ``reference`` block per file)
and, for references cited only by parameter data files, from
``evidence/data/references.yaml``. A reference known by its DOI or PMID alone
is still cited, with what is known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from exoforge.evidence.store import load_records
from exoforge.yamlio import load_yaml

if TYPE_CHECKING:
    from exoforge.result import Result

Format = Literal["text", "bibtex", "ris"]


@dataclass(frozen=True)
class BibEntry:
    key: str  # DOI, pmid:N, or another stable reference key
    first_author: str | None = None
    year: int | None = None
    journal: str | None = None
    title: str | None = None
    doi: str | None = None
    pmid: int | None = None


def _normalise(ref: str) -> str:
    from exoforge.parameters import normalise_ref

    return normalise_ref(ref)


def reference_registry(root: Path | None = None) -> dict[str, BibEntry]:
    """Every reference with metadata known to the package, by normalised key."""
    out: dict[str, BibEntry] = {}
    base = root if root is not None else Path(str(resources.files("exoforge.evidence.data")))
    extra = base / "references.yaml"
    if extra.exists():
        for item in (load_yaml(extra.read_text(encoding="utf-8")) or {}).get("references", []):
            key = _normalise(str(item.get("doi") or f"pmid:{item.get('pmid')}"))
            out[key] = BibEntry(
                key,
                item.get("first_author"),
                item.get("year"),
                item.get("journal"),
                item.get("title"),
                item.get("doi"),
                item.get("pmid"),
            )
    for r in load_records():
        ref = r.reference
        key = _normalise(ref.key)
        out[key] = BibEntry(key, ref.first_author, ref.year, ref.journal, ref.title, ref.doi, ref.pmid)
    return out


def entries_for(result: Result) -> list[BibEntry]:
    """Bibliographic entries of the references a run cited, in citation order."""
    registry = reference_registry()
    out = []
    for c in result.citations:
        key = _normalise(c["ref"])
        entry = registry.get(key)
        if entry is None:
            doi = c.get("doi")
            pmid = c.get("pmid")
            entry = BibEntry(key, doi=doi, pmid=int(pmid) if pmid and str(pmid).isdigit() else None)
        out.append(entry)
    return out


def _bibkey(e: BibEntry) -> str:
    author = re.sub(r"[^A-Za-z]", "", (e.first_author or "ref").split()[0]) or "ref"
    tail = re.sub(r"[^A-Za-z0-9]", "", (e.doi or str(e.pmid or e.key)).split("/")[-1])[-8:]
    return f"{author}{e.year or ''}_{tail}"


def format_entries(entries: list[BibEntry], fmt: Format = "text") -> str:
    """Render entries as plain text, BibTeX or RIS."""
    blocks: list[str] = []
    for e in entries:
        if fmt == "bibtex":
            fields: list[tuple[str, Any]] = [
                ("author", e.first_author and f"{e.first_author} and others"),
                ("year", e.year),
                ("journal", e.journal),
                ("title", e.title),
                ("doi", e.doi),
                ("pmid", e.pmid),
            ]
            if not (e.doi or e.pmid):
                fields.append(("note", e.key))
            body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields if v)
            blocks.append(f"@article{{{_bibkey(e)},\n{body}\n}}")
        elif fmt == "ris":
            lines = ["TY  - JOUR"]
            if e.first_author:
                lines.append(f"AU  - {e.first_author}")
            for tag, v in (("PY", e.year), ("JO", e.journal), ("TI", e.title), ("DO", e.doi)):
                if v:
                    lines.append(f"{tag}  - {v}")
            if e.pmid:
                lines.append(f"AN  - PMID:{e.pmid}")
            if not (e.doi or e.pmid):
                lines.append(f"N1  - {e.key}")
            lines.append("ER  - ")
            blocks.append("\n".join(lines))
        else:
            who = f"{e.first_author} et al. ({e.year})" if e.first_author else "(metadata not in the evidence base)"
            where = f" {e.journal}." if e.journal else ""
            title = f" {e.title}." if e.title else ""
            ident = f" doi:{e.doi}" if e.doi else (f" PMID {e.pmid}" if e.pmid else f" {e.key}")
            blocks.append(f"{who}{title}{where}{ident}")
    return ("\n\n" if fmt != "text" else "\n").join(blocks) + "\n"
