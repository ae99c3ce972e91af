from __future__ import annotations

import re
import shutil
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from cigen.errors import DescriptorError
from tests.conftest import FIXTURES, Result
from tests.helpers import load_project

INVALID = FIXTURES / "invalid"
CASES = sorted(p.name for p in INVALID.iterdir() if (p / "cigen.yaml").is_file())
_LOCATED = re.compile(r"^cigen\.yaml:(\d+):(\d+): ")

Snapshot = dict[str, tuple[int, bytes | None]]


def snapshot(root: Path) -> Snapshot:
    """Every path under root with its mode and bytes: any write, chmod or new file shows."""
    return {
        p.relative_to(root).as_posix(): (p.stat().st_mode, p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 20, CASES


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", ["check", "render", "render --force", "check circleci"])
def test_invalid_descriptor_exits_2_with_exact_message_and_writes_nothing(
    case: str, command: str, tmp_path: Path, run_line: Callable[..., Result], update_goldens: bool,
) -> None:
    work = tmp_path / case
    shutil.copytree(INVALID / case, work)
    expected_file = work / "expected-error.txt"
    before = snapshot(work)
    result = run_line(f"cigen {command}", cwd=work)
    if update_goldens and command == "check":
        (INVALID / case / "expected-error.txt").write_text(result.stderr, encoding="utf-8")
    assert result.code == 2, result
    assert result.stderr == expected_file.read_text(encoding="utf-8"), result
    assert result.stdout == "", result
    assert snapshot(work) == before


@pytest.mark.parametrize("case", CASES)
def test_messages_name_the_file_and_come_in_file_order(case: str) -> None:
    lines = (INVALID / case / "expected-error.txt").read_text(encoding="utf-8").splitlines()
    assert lines, "an error must say something"
    assert all(line.startswith("cigen.yaml:") for line in lines), lines
    assert not any("Traceback" in line for line in lines)
    spots = [tuple(map(int, m.groups())) for m in map(_LOCATED.match, lines) if m]
    assert spots == sorted(spots)


def test_spec_example_is_word_for_word() -> None:
    expected = 'cigen.yaml:4:8: erlang.otp: 26.2 is not a string; quote versions: "26.2"\n'
    assert (INVALID / "unquoted_version" / "expected-error.txt").read_text() == expected


def test_versions_are_shown_as_written() -> None:
    text = (INVALID / "version_trailing_zero" / "expected-error.txt").read_text()
    assert "26.10 is not a string" in text
    assert '"26.10"' in text
    assert "26.1 " not in text
    assert "3.2 " not in text


def test_many_errors_reports_every_kind_at_once() -> None:
    lines = (INVALID / "many_errors" / "expected-error.txt").read_text().splitlines()
    assert len(lines) >= 8
    keys = {line.split(": ")[1] for line in lines}
    assert {"name", "erlang.otp", "image.os", "image.generate", "github.cahce"} <= keys


def test_missing_file(tmp_path: Path, run_line: Callable[..., Result]) -> None:
    result = run_line("cigen check -c nope.yaml", cwd=tmp_path)
    assert result.code == 2, result
    assert result.stderr == (
        "nope.yaml: no such file; run cigen where cigen.yaml is, or pass -c PATH\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_missing_default_descriptor(tmp_path: Path, run_line: Callable[..., Result]) -> None:
    result = run_line("cigen render", cwd=tmp_path)
    assert result.code == 2, result
    assert result.stderr.startswith("cigen.yaml: no such file")
    assert list(tmp_path.iterdir()) == []


def test_alias_bomb_is_refused_fast_and_small() -> None:
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(DescriptorError) as raised:
        load_project(INVALID / "alias_bomb" / "cigen.yaml")
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "aliases" in str(raised.value)
    assert elapsed < 1.0
    assert peak < 20 * 2**20


def test_wider_alias_bomb_is_refused_too(tmp_path: Path) -> None:
    rows = ["a0: &a0 [" + ", ".join(["x"] * 50) + "]"]
    rows += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 50) + "]" for i in range(1, 12)]
    path = tmp_path / "cigen.yaml"
    path.write_text("version: 1\n" + "\n".join(rows) + "\n")
    start = time.perf_counter()
    with pytest.raises(DescriptorError, match="aliases"):
        load_project(path)
    assert time.perf_counter() - start < 1.0
