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
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "app_SUITE.erl").write_text("-module(app_SUITE).\n", "utf-8")  # ct
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


LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8))


def test_what_ci_files_say_reaches_the_descriptor_and_the_terminal_safely(
    tmp_path: Path, run_line: Callable[..., Result]
) -> None:
    """Alias bombs, control characters, expressions GitHub would evaluate, a Makefile chain
    deeper than Python's stack: init reads on, writes nothing unsafe, prints escapes."""
    (tmp_path / "rebar.config").write_text('{relx, [{release, {app, "1"}, [app]}]}.\n', "utf-8")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "bomb.yml").write_text(
        LAUGHS + "jobs:\n  t:\n    strategy: {matrix: {otp: *i, x: *i, y: *i}}\n    steps:\n"
        "      - uses: erlef/setup-beam@v1\n        with: {otp-version: '${{ matrix.otp }}'}\n"
        "      - run: make t0\n", "utf-8")
    (tmp_path / "Makefile").write_text("".join(f"t{i}: t{i + 1}\n\techo {i}\n"
                                               for i in range(3000)) + "t3000:\n\trebar3 ct\n")
    (tmp_path / ".circleci").mkdir()
    (tmp_path / ".circleci" / "config.yml").write_text("""\
orbs: {rebar3: tsloughter/rebar3@0.7.0}
executors:
  e:
    docker:
      - image: "cimg/erlang:26.2.5"
        environment: {ERL_FLAGS: "+S 2\\x1b[2J", "bad key": x}
      - image: "postgres:16.3\\x1b[2J"
workflows:
  w:
    jobs:
      - rebar3/ct:
          pre-steps:
            - run: {name: "a ${{ github.event.issue.title }}", command: "echo hi"}
            - run: {name: "b\\x1b]0;title\\x07", command: "echo \\"$X\\"\\r\\nmore"}
""", "utf-8")
    result = run_line(["cigen", "init", str(tmp_path)])
    assert result.code == 0, result
    text = (tmp_path / "cigen.yaml").read_text("utf-8")
    assert "${{" not in "".join(line.split("#")[0] for line in text.splitlines())
    for shown in (text, result.stdout):
        assert not any(c in shown for c in "\r\x1b\x07"), repr(shown)
    data = load_rt(text)
    assert data["erlang"]["otp"] == "26.2.5"
    assert data["erlang"]["checks"] == ["ct"]  # at the end of the Makefile's chain
    assert [s["name"] for s in data["erlang"]["setup"]["ct"]] == ["b\x1b]0;title\x07"]
