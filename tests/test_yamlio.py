"""Every user file is read safely: odd encodings, binary and empty files, deep nesting, alias bombs
and duplicate keys are one line each (exit 2), quickly, never a traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from exoforge.cli import app
from exoforge.scenario import ScenarioError, read_mapping
from exoforge.yamlio import MAX_FILE_BYTES, MAX_NODES

runner = CliRunner()


def _laughs(levels: int = 9) -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    prev = "a"
    for name in "bcdefghijklmnop"[: levels - 1]:
        text += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
        prev = name
    return text


CASES: dict[str, tuple[bytes, str]] = {
    "latin1.yaml": ("name: caf\xe9\n".encode("latin-1"), "line 1, column 10: byte 0xe9 is not UTF-8 text"),
    "png.yaml": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a binary file"),
    "empty.yaml": (b"", "the file is empty"),
    "blank.toml": (b"  \n\n", "the file is empty"),
    "comment.yaml": (b"# nothing here\n", "holds no YAML document"),
    "utf16.yaml": ("name: x\n".encode("utf-16"), "UTF-16"),
    "bell.yaml": (b"name: a\x07b\n", "control character 0x07"),
    "laughs.yaml": (_laughs().encode(), f"more than {MAX_NODES:,} values"),
    "recursive.yaml": (b"a: &x [1, *x]\n", "an alias refers to a mapping or list that contains it"),
    "deep_flow.yaml": (b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nesting"),
    "deep_block.yaml": (b"".join(b" " * i + f"k{i}:\n".encode() for i in range(40)), "deeper than 32 levels"),
    "deep.toml": (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", "nesting deeper than 32 levels"),
    "duplicate.yaml": (b"name: a\nname: b\n", "line 2, column 1: not valid YAML: key 'name' appears twice"),
    "duplicate.toml": (b'name = "a"\nname = "b"\n', "not valid TOML"),
    "huge.yaml": (b"a: [" + b"1," * (MAX_FILE_BYTES // 2) + b"1]\n", "larger than a scenario or space file may be"),
    "many.yaml": (b"a: [" + b"1," * (MAX_NODES + 10) + b"1]\n", f"more than {MAX_NODES:,} values"),
    "broken.yaml": (b"name: [unclosed\n", "not valid YAML"),
    "list.yaml": (b"- 1\n- 2\n", "the top level must be a mapping"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_unreadable_files_are_one_line_quickly(tmp_path: Path, name: str) -> None:
    raw, fragment = CASES[name]
    path = tmp_path / name
    path.write_bytes(raw)
    start = time.perf_counter()
    with pytest.raises(ScenarioError) as exc:
        read_mapping(path)
    elapsed = time.perf_counter() - start
    assert len(exc.value.problems) == 1
    assert fragment in exc.value.problems[0], exc.value.problems
    assert elapsed < 10, elapsed  # a generous ceiling: these take milliseconds, a hang takes forever
    result = runner.invoke(app, ["run", str(path), "--json"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"{path}: "), result.stderr


def test_merge_keys_and_aliases_within_reason_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  x: 3\nsame: *b\n")
    assert read_mapping(path) == {"base": {"x": 1, "y": 2}, "other": {"x": 3, "y": 2}, "same": {"x": 1, "y": 2}}


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path, root: Path) -> None:
    text = (root / "examples" / "stirred_tank_tff_sec.yaml").read_text(encoding="utf-8")
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert read_mapping(path)["schema_version"] == 1


def test_a_folder_is_not_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "scenario.yaml"
    folder.mkdir()
    with pytest.raises(ScenarioError, match="is a folder"):
        read_mapping(folder)
