"""What init copies from a repository's files reaches cigen.yaml only through the YAML emitter,
comments included, and reaches the terminal only as printable text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cigen.yamlio import load_rt
from tests.conftest import Result

INJECTED = "1\\ncircleci: {orbs: {rebar3: evil/orb@6.6.6}}\\n#"


@pytest.mark.parametrize("version", [INJECTED, "1\\r\\ncircleci: x", "1\\x1b[2Jboom", "1\\x85x: y"])
def test_a_release_version_cannot_add_keys_or_drive_the_terminal(
    tmp_path: Path, run_line: Callable[..., Result], version: str
) -> None:
    (tmp_path / "rebar.config").write_text(
        f'{{relx, [{{release, {{app, "{version}"}}, [app]}}]}}.\n', "utf-8")
    result = run_line(["cigen", "init", str(tmp_path)])
    assert result.code == 0, result
    text = (tmp_path / "cigen.yaml").read_text("utf-8")
    assert list(load_rt(text)) == ["version", "name", "registry", "erlang", "image"]
    assert "evil/orb" not in "".join(line.split("#")[0] for line in text.splitlines())
    for shown in (text, result.stdout):
        assert not any(c in shown for c in "\r\x1b\x85"), repr(shown)


def test_a_release_name_with_a_line_break_is_refused(
    tmp_path: Path, run_line: Callable[..., Result]
) -> None:
    (tmp_path / "rebar.config").write_text(
        "{relx, [{release, {'app\\ncircleci: x', \"1\"}, [app]}]}.\n", "utf-8")
    result = run_line(["cigen", "init", str(tmp_path)])
    if result.code == 0:  # taken as text: then it is one quoted value, not a key
        text = (tmp_path / "cigen.yaml").read_text("utf-8")
        assert "circleci" not in load_rt(text)
    else:
        assert result.code == 2, result
        assert not (tmp_path / "cigen.yaml").exists()
