from __future__ import annotations

import pytest

from cigen.targets import checks


@pytest.mark.parametrize(("listed", "groups"), [
    (("xref", "dialyzer", "ct"), {"xref": ("xref",), "dialyzer": ("dialyzer",), "ct": ("ct",)}),
    # cover runs last in the job it shares with what it reports on, whatever the listed order
    (("cover", "eunit", "ct", "xref"), {"ct": ("eunit", "ct", "cover"), "xref": ("xref",)}),
    (("cover", "eunit"), {"eunit": ("eunit", "cover")}),
    (("cover",), {"cover": ("cover",)}),
])
def test_groups(listed: tuple[str, ...], groups: dict[str, tuple[str, ...]]) -> None:
    assert checks.groups(listed) == groups


@pytest.mark.parametrize(("check", "group", "command"), [
    ("ct", ("ct",), "rebar3 ct"),
    ("ct", ("eunit", "ct", "cover"), "rebar3 ct --cover"),
    ("cover", ("ct", "cover"), "rebar3 cover --verbose"),
    ("xref", ("xref",), "rebar3 xref"),
])
def test_command(check: str, group: tuple[str, ...], command: str) -> None:
    assert checks.command(check, group) == command
