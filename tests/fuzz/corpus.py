"""A seeded fuzz corpus: every shipped example mutated the ways a user's file goes wrong.

``case(seed, i)`` is deterministic: case ``i`` of corpus ``seed`` is the same file on every machine.
Mutations of the document: deleted and renamed keys, wrong types, NaN, +-inf, 0, negatives,
1e+-308 and subnormals, huge lists, deep nesting. Mutations of the text: duplicate keys, YAML alias
bombs, binary bytes, empty and comment-only files, other encodings, truncation. A share of the cases
is written as TOML.
"""

from __future__ import annotations

import copy
import json
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
#: Scenario examples (design-space files are other contracts).
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.yaml") if not p.name.startswith(("select_", "space_")))
SPECIAL_NUMBERS: tuple[Any, ...] = (
    math.nan,
    math.inf,
    -math.inf,
    0,
    0.0,
    -1,
    -1e-9,
    1e308,
    -1e308,
    1e-308,
    5e-324,
    2**63,
    -(2**63),
    1e9,
)
WRONG_TYPES: tuple[Any, ...] = ("text", "", [], {}, True, False, None, [1, 2], {"value": 1})


@dataclass(frozen=True)
class Case:
    name: str
    suffix: str  # ".yaml" or ".toml"
    content: bytes
    mutations: tuple[str, ...]


def _documents() -> list[tuple[str, dict[str, Any], str]]:
    out = []
    for p in EXAMPLES:
        text = p.read_text(encoding="utf-8")
        out.append((p.stem, yaml.safe_load(text), text))
    return out


_DOCS = _documents()


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append((*prefix, i))
            out.extend(_paths(v, (*prefix, i)))
    return out


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    node = doc
    for k in path[:-1]:
        node = node[k]
    return node


def _mutate(doc: dict[str, Any], rng: random.Random) -> str:
    paths = _paths(doc)
    if not paths:
        return "none"
    path = rng.choice(paths)
    parent, key = _parent(doc, path), path[-1]
    numeric = isinstance(parent[key], int | float) and not isinstance(parent[key], bool)
    kinds = ("delete", "rename", "type", "number", "number", "huge", "deep")
    kind = rng.choice((*kinds, "scale", "scale", "scale", "scale") if numeric else kinds)
    if kind == "scale":  # a plausible number pushed towards the edges of its range
        parent[key] = parent[key] * rng.choice((1e-3, 0.01, 0.1, 0.5, 2, 10, 100, 1e3))
    elif kind == "delete":
        del parent[key]
    elif kind == "rename" and isinstance(parent, dict):
        parent[f"{key}{rng.choice(('x', '_', 's', 'X'))}"] = parent.pop(key)
    elif kind == "type":
        parent[key] = copy.deepcopy(rng.choice(WRONG_TYPES))
    elif kind == "number":
        parent[key] = rng.choice(SPECIAL_NUMBERS)
    elif kind == "huge":
        size = rng.choice((500, 5000))
        parent[key] = [parent[key]] * size if rng.random() < 0.5 else list(range(size))
    else:  # deep: written into the text as a nested flow sequence (serialisers recurse)
        parent[key] = f"__DEEP_{rng.choice((50, 300, 2000))}__"
    return f"{kind}:{'.'.join(map(str, path))}"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return '""'  # None has no TOML form: an empty string stands for it


def to_toml(doc: dict[str, Any]) -> str:
    """A minimal TOML writer: top-level keys, one table per mapping, inline values below it."""
    lines = [f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for k, v in doc.items():
        if isinstance(v, dict):
            lines.append(f"\n[{json.dumps(str(k))}]")
            lines.extend(f"{json.dumps(str(kk))} = {_toml_value(vv)}" for kk, vv in v.items())
    return "\n".join(lines) + "\n"


BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(9)
)


def case(seed: int, i: int) -> Case:
    """Case ``i`` of the corpus with ``seed``."""
    rng = random.Random(seed * 1_000_003 + i)
    stem, original, text = _DOCS[rng.randrange(len(_DOCS))]
    roll = rng.random()
    name = f"{seed}-{i}-{stem}"
    if roll < 0.12:  # the text itself is broken
        kind = rng.choice(("duplicate", "bomb", "binary", "empty", "comments", "latin1", "utf16", "truncate", "tabs"))
        lines = text.splitlines()
        if kind == "duplicate":
            j = rng.randrange(len(lines))
            lines.insert(j, lines[j])
            data = "\n".join(lines).encode()
        elif kind == "bomb":
            data = (BILLION_LAUGHS + text).encode()
        elif kind == "binary":
            data = bytes(rng.randrange(256) for _ in range(rng.choice((1, 64, 4096))))
        elif kind == "empty":
            data = b""
        elif kind == "comments":
            data = b"# nothing but a comment\n\n"
        elif kind == "latin1":
            data = text.replace("name: ", "name: caf\u00e9 ", 1).encode("latin-1", errors="replace")
        elif kind == "utf16":
            data = text.encode("utf-16")
        elif kind == "truncate":
            data = text.encode()[: rng.randrange(1, len(text))]
        else:
            data = text.replace("  ", "\t", 3).encode()
        return Case(name, ".yaml", data, (f"text:{kind}",))
    doc = copy.deepcopy(original)
    mutations = tuple(_mutate(doc, rng) for _ in range(rng.choice((1, 1, 2, 3))))
    if rng.random() < 0.15:
        text_toml = re.sub(
            r'"__DEEP_(\d+)__"', lambda m: "[" * int(m.group(1)) + "1" + "]" * int(m.group(1)), to_toml(doc)
        )
        return Case(name, ".toml", text_toml.encode(), (*mutations, "toml"))
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    body = yaml.dump(doc, Dumper=dumper, sort_keys=False, allow_unicode=True, width=10**6)
    body = re.sub(r"'?__DEEP_(\d+)__'?", lambda m: "[" * int(m.group(1)) + "1" + "]" * int(m.group(1)), body)
    return Case(name, ".yaml", body.encode(), mutations)
