"""Input that once ended in a traceback (exit 3): each now gets a message, exit 2 or a skip."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cigen import erlterms
from cigen.errors import CigenError
from cigen.pin.registry import docker_auths
from tests.conftest import Result

HEAD = 'version: 1\nname: u\nregistry: ghcr.io/acme\n'


@pytest.mark.parametrize(("text", "error"), [
    (HEAD + "erlang:\n  otp: " + "1" * 4400 + "\n", "5:8: a number of 4400 digits"),
    (HEAD + "x: " + "9" * 5000 + '\nerlang: {otp: "26.2.5"}\n', "4:4: a number of 5000 digits"),
    (HEAD + 'erlang: !!omap\n  - otp: "26.2.5"\n  - otp: "26.2.5"\n',
     "4:9: an ordered mapping (!!omap) names a key twice"),
    # a mapping key whose own key is a tagged scalar (found by the fuzz run)
    (HEAD + 'erlang:\n  otp: "26.2.5"\n  env:\n    ? !!str     : two\n',
     '7:7: erlang.env.{"": "two"}: a key must be a plain name'),
    (HEAD + 'erlang:\n  otp: "26.2.5"\n  env:\n    ? {a: b}\n    : c\n',
     '7:7: erlang.env.{"a": "b"}: a key must be a plain name'),
    # a mapping merged into itself: the YAML reader crashed (found by the slow fuzz run)
    (HEAD + 'shared: &shared\n  <<: *shared\n  rebar3: "3.24.0"\nerlang: {otp: "26"}\n',
     "5:7: <<: *shared merges the mapping it is inside; merge another mapping"),
])
def test_descriptors_that_broke_the_reader(
    tmp_path: Path, run_line: Callable[..., Result], text: str, error: str
) -> None:
    (tmp_path / "cigen.yaml").write_text(text, "utf-8")
    result = run_line("cigen check", cwd=tmp_path)
    assert result.code == 2, result
    assert result.stderr.startswith(f"cigen.yaml:{error}")


@pytest.mark.parametrize("term", ["99#1", "2#9", "1#0", "1" * 5000, "[" * 50_000 + "]" * 50_000])
def test_rebar_config_terms_that_broke_the_reader_are_skipped(term: str) -> None:
    assert erlterms.consult(f"{{a, {term}}}.\n{{b, 1}}.\n") == [("b", 1)]


def test_a_deeply_nested_docker_config_is_a_message(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("[" * 100_000 + "]" * 100_000, "utf-8")
    with pytest.raises(CigenError, match="config.json: not valid JSON"):
        docker_auths({"DOCKER_CONFIG": str(tmp_path)})


def test_a_huge_flow_list_is_refused_before_parsing(
    tmp_path: Path, run_line: Callable[..., Result]
) -> None:
    # 500,000 items took the YAML reader 70 s and was then blamed on aliases
    items = ",".join(["0"] * 500_000)
    (tmp_path / "cigen.yaml").write_text(HEAD + f"x: [{items}]\n", "utf-8")
    result = run_line("cigen check", cwd=tmp_path)
    assert result.code == 2
    assert result.stderr == ("cigen.yaml: 500003 lines and list items; a descriptor has a few "
                             "hundred (at most 20000)\n")
