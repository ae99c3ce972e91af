from __future__ import annotations

from pathlib import Path

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


def test_timeouts_reach_github_jobs_and_circleci_coverage_commands(tmp_path: Path) -> None:
    from cigen.yamlio import load_plain
    from tests.helpers import load_project, texts

    (tmp_path / "cigen.yaml").write_text(
        'version: 1\nname: hello\nregistry: ghcr.io/acme\nerlang:\n  otp: "26.2.5"\n'
        "  checks: [xref, dialyzer, eunit, ct, cover]\n  timeouts: {dialyzer: 90, eunit: 45}\n")
    out = texts(load_project(tmp_path / "cigen.yaml", ("github", "circleci")), "github",
                "circleci")
    jobs = load_plain(out[".github/workflows/ci.yml"])["jobs"]
    assert {job: jobs[job]["timeout-minutes"] for job in ("xref", "dialyzer", "ct")} == {
        "xref": 30, "dialyzer": 90, "ct": 45}  # ct runs eunit too: the larger limit
    steps = load_plain(out[".circleci/config.yml"])["jobs"]["ct"]["steps"]
    [cached] = [s["rebar3/with_deps_cache"]["steps"] for s in steps
                if isinstance(s, dict) and "rebar3/with_deps_cache" in s]
    assert [s["run"].get("no_output_timeout") for s in cached] == ["45m", None, None]
