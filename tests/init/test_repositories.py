"""`cigen init` on what real repositories hold (issue #15): their default branch, a rebar.config
that does not parse, several releases or none, a rebar.lock git ignores. Each layout is a few
hand-written files in a temporary folder."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from cigen import commands, schema
from cigen.errors import CigenError
from cigen.init import init
from cigen.init.infer import BRANCH, infer
from cigen.yamlio import load_rt
from tests.conftest import Result
from tests.helpers import load_project

RELEASE = '{relx, [{release, {app, "1.0.0"}, [app]}]}.\n'


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com",
                    *args], check=True, capture_output=True)


def project(root: Path, rebar_config: str = RELEASE) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "rebar.config").write_text(rebar_config, "utf-8")
    (root / ".tool-versions").write_text("erlang 26.2.5\n", "utf-8")
    (root / "test").mkdir(exist_ok=True)
    (root / "test" / "app_SUITE.erl").write_text("-module(app_SUITE).\n", "utf-8")  # ct runs
    return root


def clone(tmp_path: Path, default: str) -> Path:
    """A clone of a repository whose default branch is `default`: git sets origin/HEAD."""
    upstream = tmp_path / "upstream"
    subprocess.run(["git", "init", "-q", "-b", default, str(upstream)], check=True)
    git(upstream, "commit", "-q", "--allow-empty", "-m", "start")
    subprocess.run(["git", "clone", "-q", str(upstream), str(tmp_path / "repo")], check=True)
    return project(tmp_path / "repo")


def written(root: Path) -> str:
    return (root / "cigen.yaml").read_text("utf-8")


# The default branch ---------------------------------------------------------------------------


def test_a_master_repository_publishes_from_master(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = clone(tmp_path, "master")
    git(root, "checkout", "-q", "-b", "feature")  # what is checked out does not matter
    assert init(root) == 0
    assert "publish:\n  branches:  # git: origin/HEAD\n    - master\n" in written(root)
    assert load_project(root / "cigen.yaml").publish.branches == ("master",)
    out = capsys.readouterr().out
    assert "publish.branches: master".ljust(40) + "git: origin/HEAD" in out
    assert "make sure it is the default branch" not in out


def test_a_main_repository_keeps_the_default(tmp_path: Path) -> None:
    root = clone(tmp_path, "main")
    assert init(root) == 0
    assert "publish" not in load_rt(written(root))


def test_without_origin_head_the_branch_checked_out_is_used_and_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path)
    subprocess.run(["git", "init", "-q", "-b", "trunk", str(root)], check=True)
    git(root, "remote", "add", "origin", "git@github.com:acme/app.git")  # no fetch: no origin/HEAD
    assert init(root) == 0
    assert load_project(root / "cigen.yaml").publish.branches == ("trunk",)
    assert "# git: the branch checked out (no origin/HEAD)" in written(root)
    assert ("publish.branches: trunk is the branch checked out, as git has no origin/HEAD; make "
            "sure it is the default branch") in capsys.readouterr().out


@pytest.mark.parametrize("state", ["no-repository", "detached"])
def test_no_branch_known_leaves_the_default(tmp_path: Path, state: str) -> None:
    root = project(tmp_path / "repo")
    if state == "detached":
        subprocess.run(["git", "init", "-q", "-b", "master", str(root)], check=True)
        git(root, "commit", "-q", "--allow-empty", "-m", "start")
        git(root, "checkout", "-q", "--detach")
    assert infer(root).branch.value is None
    assert init(root) == 0
    assert "publish" not in load_rt(written(root))


def test_a_branch_name_the_schema_refuses_is_not_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path)
    subprocess.run(["git", "init", "-q", "-b", "dev+ops", str(root)], check=True)  # git takes +
    assert init(root) == 0
    assert "publish" not in load_rt(written(root))
    assert ("publish.branches: git's default branch dev+ops is not a branch name cigen takes"
            in capsys.readouterr().out)


def test_the_branch_pattern_is_the_schemas() -> None:
    branch = json.loads(schema.text())["$defs"]["branch"]["pattern"]
    assert BRANCH.pattern == branch


GITHUB = "on:\n  push:\n    branches: {}\n  pull_request: {{}}\njobs: {{}}\n"
CIRCLECI = ("version: 2.1\nworkflows:\n  ci:\n    jobs:\n      - test\n      - deploy:\n"
            "          filters: {{branches: {{only: {}}}}}\n")


@pytest.mark.parametrize(
    ("path", "text", "conflict"),
    [
        (".github/workflows/ci.yml", GITHUB.format("[master, develop]"), "master, develop"),
        (".github/workflows/ci.yaml", GITHUB.format("[main]"), None),
        (".github/workflows/ci.yml", GITHUB.format("['release/**']"), None),  # a glob: not judged
        (".circleci/config.yml", CIRCLECI.format("master"), "master"),
        (".circleci/config.yml", CIRCLECI.format("[main, release]"), None),
        (".circleci/config.yml", CIRCLECI.format("/rel-.*/"), None),  # a regex: not judged
    ],
)
def test_ci_branch_filters_that_disagree_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], path: str, text: str, conflict: str | None
) -> None:
    root = clone(tmp_path, "main")
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(text, "utf-8")
    assert init(root) == 0
    out = capsys.readouterr().out
    if conflict is None:
        assert "make the two agree" not in out
    else:
        assert f"publish.branches: main, but {path} runs on pushes to {conflict}: make the two " \
               "agree" in out


# A rebar.config that does not parse -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{deps, [\n  {a, "1"}\n  {b, "2"}]}.\n', "3: expected , or ], found '{'"),
        ("{erl_opts, [debug_info]}.\n{deps, []}\n", "2: no '.' after the last term"),
        ('{erl_opts, [debug_info]}.\n{relx, [{release, {app, "1"}, [app]}.\n',
         "2: '[' from line 2 is not closed"),
        ('{deps, [{a, "1}]}.\n', "1: a string that is never closed"),
        ("{erl_opts, [debug_info]}.\n\n{deps, Deps}.\n", "3: Deps is a variable; only values can "
         "be read"),
        ("{erl_opts, [debug_info]}.\ndebug_info.\n", "2: not a {Key, Value} pair, which rebar3 "
         "requires of each term in rebar.config"),
        ("%% one\n{a, #{b}}.\n", "2: a map entry needs '=>'"),
        ("{a, " + "[" * 5000 + "]" * 5000 + "}.\n", "1: nested too deeply to read"),
    ],
)
def test_a_rebar_config_that_does_not_parse_stops_init_at_its_line(
    tmp_path: Path, run_line: Callable[..., Result], text: str, error: str
) -> None:
    root = project(tmp_path, text)
    before = sorted(p.name for p in root.iterdir())
    result = run_line(["cigen", "init"], cwd=root)
    assert result.code == 2, result
    assert result.stderr == f"rebar.config:{error}\n"
    assert result.stdout == ""
    assert sorted(p.name for p in root.iterdir()) == before  # nothing written


def test_the_error_names_the_file_as_given(tmp_path: Path) -> None:
    root = project(tmp_path / "svc", "{deps, []}\n")
    with pytest.raises(CigenError) as info:
        init(root)
    assert str(info.value) == f"{root / 'rebar.config'}:1: no '.' after the last term"


# Several releases, or none --------------------------------------------------------------------


SEVERAL = """\
{relx, [{release, {api, "1.0.0"}, [api]},
        {release, {worker, "1.0.0"}, [worker]}]}.
{profiles, [{prod, [{relx, [{release, {admin, "1.0.0"}, [admin]}]}]}]}.
"""


def test_of_several_releases_the_first_top_level_one_is_named_and_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, SEVERAL)
    assert init(root) == 0
    assert ("name: api  # rebar.config:1 relx release api, the first in the top-level relx "
            "section; also: worker, admin\n") in written(root)
    out = capsys.readouterr().out
    assert ("name: api of the relx releases api, worker, admin (the first in the top-level relx "
            "section, else in a profile's); to ship another, set name: to it.") in out
    assert "--relname" in out


def test_a_release_only_in_a_profile_is_named(tmp_path: Path) -> None:
    root = project(tmp_path, "{profiles, [{prod, [{relx, [{release, {svc, \"1\"}, [svc]}]}]}]}.\n")
    found = infer(root)
    assert (found.name.value, found.releases) == ("svc", ("svc",))


def test_two_versions_of_one_release_are_one_release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, '{relx, [{release, {app, "1"}, [app]}, {release, {app, "2"}, [app]}]}.'
                             "\n")
    assert init(root) == 0
    assert "of the relx releases" not in capsys.readouterr().out
    assert "name: app  # rebar.config:1 relx release app\n" in written(root)


def test_a_release_name_cigen_cannot_take_stops_init_at_its_line(
    tmp_path: Path, run_line: Callable[..., Result]
) -> None:
    root = project(tmp_path, "{erl_opts, []}.\n{relx, [{release, {'My-Service', \"1\"}, "
                             "[my_service]}]}.\n")
    result = run_line(["cigen", "init"], cwd=root)
    assert result.code == 2, result
    assert result.stderr == ("rebar.config:2: the relx release 'My-Service' is no name cigen "
                             "takes (lowercase letters, digits and _, starting with a letter: "
                             "the image runs /opt/<name>/bin/<name>); rename it\n")
    assert not (root / "cigen.yaml").exists()


def test_a_library_gets_the_form_without_an_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, "{erl_opts, [debug_info]}.\n{deps, []}.\n")
    (root / "src").mkdir()
    (root / "src" / "mylib.app.src").write_text('{application, mylib, [{vsn, "0.1.0"}]}.\n')
    assert init(root) == 0
    text = written(root)
    assert text.index("# NO RELEASE: rebar.config has no relx release") < text.index(
        "\nimage: false\n")
    assert "\nregistry:" not in text
    assert "\npublish:" not in text
    assert "no relx release: a library (image: false)" in capsys.readouterr().out
    # the library form: the checks only, nothing of an image written
    assert load_project(root / "cigen.yaml").library
    assert commands.render(root / "cigen.yaml", []) == 0
    assert not (root / "Dockerfile").exists()
    assert not (root / "ci").exists()


# Files git or rebar3 treat specially --------------------------------------------------------


def test_a_rebar_lock_git_ignores_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = clone(tmp_path, "main")
    (root / ".gitignore").write_text("_build/\nrebar.lock\n", "utf-8")
    assert init(root) == 0
    assert "rebar.lock is ignored by git, so CI's checkout will not have it" \
        in capsys.readouterr().out


def test_a_tracked_rebar_lock_is_not_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = clone(tmp_path, "main")
    (root / "rebar.lock").write_text("[].\n", "utf-8")
    git(root, "add", "rebar.lock")
    (root / ".gitignore").write_text("rebar.lock\n", "utf-8")  # ignore rules skip tracked files
    assert init(root) == 0
    assert "rebar.lock is ignored" not in capsys.readouterr().out


def test_a_rebar_config_script_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path)
    (root / "rebar.config.script").write_text("CONFIG.\n", "utf-8")
    assert init(root) == 0
    assert "rebar.config.script exists: rebar3 runs it over rebar.config" \
        in capsys.readouterr().out


def test_ci_branch_names_reach_the_report_as_printable_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = clone(tmp_path, "main")
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "ci.yml").write_text(
        'on: {push: {branches: ["ma\\ester"]}}\njobs: {}\n', "utf-8")
    assert init(root) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "runs on pushes to ma\\x1bster" in out
