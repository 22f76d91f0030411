"""Reading YAML and TOML: safe and bounded for users' files, fast for the packaged data files.

Users' files (scenarios, design and selection spaces) go through :func:`read_user_file`, which
turns every way a file can be unreadable into one :class:`FileProblem` line instead of an
exception from deep inside a parser:

* not text: a binary file (NUL bytes), another encoding than UTF-8 (Latin-1, UTF-16), an empty
  file, a file larger than :data:`MAX_FILE_BYTES`;
* YAML that expands beyond reason: nesting deeper than :data:`MAX_DEPTH` levels, aliases that
  expand to more than :data:`MAX_NODES` values ("billion laughs") or refer to themselves;
* a key given twice in one mapping (YAML keeps the last one silently; TOML refuses it too);
* TOML nested deeper than the parser's recursion allows.

YAML numbers are read as users write them: ``1.0e11`` (no sign in the exponent) is a float,
although YAML 1.1 would read it as a string.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, cast

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Largest user file read [bytes]. A scenario is about 1 kB and a design space a few kB; a space
#: that inlines dozens of scenarios stays under 100 kB.
MAX_FILE_BYTES = 256_000
#: Deepest nesting of mappings and lists in a user file (a scenario needs 4, a design space 7).
MAX_DEPTH = 32
#: Most values (mapping entries, list items, scalars) a user file may expand to, aliases expanded.
MAX_NODES = 100_000


def load_yaml(text: str) -> Any:
    """Parse trusted YAML text (the packaged data files) with a safe loader."""
    return yaml.load(text, Loader=_SafeLoader)


class FileProblem(ValueError):
    """A user file cannot be read. ``problem`` is one line: where in the file (or ``(file)``) and what."""

    def __init__(self, problem: str):
        self.problem = problem
        super().__init__(problem)


# --------------------------------------------------------------------------- bytes -> text


def _decode(raw: bytes) -> str:
    """UTF-8 text of a user file (an optional byte-order mark is dropped), or a :class:`FileProblem`."""
    if not raw.strip():
        raise FileProblem("(file): the file is empty")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileProblem("(file): the file is UTF-16 text; save it as UTF-8")
    if b"\x00" in raw:
        raise FileProblem("(file): a binary file (it holds NUL bytes), not YAML or TOML text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise FileProblem(
            f"line {line}, column {column}: byte 0x{raw[exc.start]:02x} is not UTF-8 text "
            "(Latin-1 or another encoding?); save the file as UTF-8"
        ) from None
    controls = re.search(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]", text)
    if controls:
        line = text.count("\n", 0, controls.start()) + 1
        raise FileProblem(
            f"line {line}: control character 0x{ord(controls.group()):02x} in the text; "
            "this looks like a binary file, not YAML or TOML"
        )
    return text


def read_text(path: Path) -> str:
    """The UTF-8 text of a user file, bounded in size; :class:`FileProblem` when it cannot be read."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise FileProblem(
                f"(file): {size:,} bytes is larger than a scenario or space file may be ({MAX_FILE_BYTES:,} bytes)"
            )
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError:
        raise FileProblem("(file): is a folder, not a file") from None
    except OSError as exc:
        raise FileProblem(f"(file): cannot be read ({exc.strerror or exc})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise FileProblem(f"(file): larger than a scenario or space file may be ({MAX_FILE_BYTES:,} bytes)")
    return _decode(raw)


# --------------------------------------------------------------------------- YAML


_FLOAT_RE = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


#: libyaml's parser when PyYAML was built with it (about ten times faster; it caps nesting itself).
_UserBase: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UserLoader(_UserBase):
    """Safe YAML loader for users' files: no duplicate keys, ``1.0e11`` read as a float.

    Size, depth and alias expansion are checked on the composed node graph (:func:`_check_expansion`)
    before anything is constructed.
    """

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: set[tuple[str, str]] = set()
            for key_node, _ in node.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise ConstructorError(
                        None, None, f"key '{key_node.value}' appears twice in the same mapping", key_node.start_mark
                    )
                seen.add(key)
        return cast("dict[Any, Any]", super().construct_mapping(node, deep=deep))


UserLoader.yaml_implicit_resolvers = {
    k: [r for r in v if r[0] != "tag:yaml.org,2002:float"] for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
UserLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_RE, list("-+0123456789."))


def _check_expansion(root: Node) -> None:
    """Refuse node graphs that expand to too many values, too deep, or into a cycle (aliases)."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: Node, level: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        line = node.start_mark.line + 1
        if key in open_nodes:
            raise FileProblem(f"line {line}: an alias refers to a mapping or list that contains it")
        if level > MAX_DEPTH:
            raise FileProblem(f"line {line}: values nest deeper than {MAX_DEPTH} levels")
        total = 1
        if isinstance(node, SequenceNode | MappingNode):
            open_nodes.add(key)
            children: list[Node] = (
                list(node.value) if isinstance(node, SequenceNode) else [n for pair in node.value for n in pair]
            )
            for child in children:
                total += size(child, level + 1)
                if total > MAX_NODES:
                    raise FileProblem(
                        f"line {line}: the file holds, or its aliases expand to, more than {MAX_NODES:,} values"
                    )
            open_nodes.discard(key)
        sizes[key] = total
        return total

    size(root, 0)


def load_user_yaml(text: str) -> Any:
    """Parse a user's YAML text; :class:`FileProblem` for syntax errors and unreasonable structure."""
    loader = UserLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise FileProblem("(file): the file holds no YAML document (only comments or blank lines)")
        _check_expansion(node)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "(file)"
        what = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise FileProblem(f"{where}: not valid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise FileProblem(f"(file): not valid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise FileProblem(f"(file): nesting deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()


# --------------------------------------------------------------------------- TOML


def _check_plain(data: Any) -> None:
    """Refuse plain data nested deeper than :data:`MAX_DEPTH` or holding more than :data:`MAX_NODES` values."""
    count = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, level = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise FileProblem(f"(file): more than {MAX_NODES:,} values in one file")
        if level > MAX_DEPTH:
            raise FileProblem(f"(file): nesting deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, level + 1) for v in node)


def load_user_toml(text: str) -> Any:
    """Parse a user's TOML text; :class:`FileProblem` for syntax errors and unreasonable structure."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FileProblem(f"(file): not valid TOML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise FileProblem(f"(file): nesting deeper than {MAX_DEPTH} levels") from None
    _check_plain(data)
    return data


def read_user_file(path: str | Path) -> Any:
    """Read a user's YAML (``.yaml``, ``.yml``, anything else) or TOML (``.toml``) file into plain data.

    Raises :class:`FileProblem` (one line, naming the line where it can) when the file is missing,
    unreadable, not UTF-8 text, or not valid and reasonable YAML or TOML.
    """
    p = Path(path)
    if not p.exists():
        raise FileProblem("(file): file not found")
    text = read_text(p)
    if p.suffix.lower() == ".toml":
        return load_user_toml(text)
    return load_user_yaml(text)
