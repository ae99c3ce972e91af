"""Several relx release names (issue 15): `rebar3 tar` then needs --relname, which the generated
Dockerfile passes only then (one release, as every fixture has, keeps its command)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import dockerfile
import pytest

from cigen.descriptor.rebar_config import release_names
from cigen.model import Project
from tests.conftest import FIXTURES, IMAGE_PROJECTS
from tests.helpers import load_project, texts

TWO = """\
{relx, [{release, {api, "0.1.0"}, [api, sasl]},
        {release, {worker, "0.1.0"}, [worker, sasl]}]}.
"""
# relx's own rule, as a fake rebar3: several release names and no --relname is an error
# (erlang/rebar3 vendor/relx/src/relx.erl: release_sort raises multiple_release_names), else
# the named (or only) release's tarball is made where `tar` puts it.
FAKE_REBAR3 = """\
#!/bin/sh
set -eu
[ "$1 $2 $3" = "as prod tar" ] || { echo "unexpected: $*" >&2; exit 3; }
name=${RELEASES%% *}
if [ "$RELEASES" != "$name" ]; then
  [ "${4:-}" = "--relname" ] || {
    echo "Must specify the name of the release to build when there are multiple releases" >&2
    exit 1; }
  name=$5
fi
dir="$REBAR_BASE_DIR/prod/rel/$name"
mkdir -p "$dir/bin" && echo "$name" > "$dir/bin/$name"
tar -czf "$dir/$name-0.1.0.tar.gz" -C "$dir" bin
"""


def _project(tmp_path: Path, config: str, name: str = "worker") -> Project:
    (tmp_path / "rebar.config").write_text(config, "utf-8")
    (tmp_path / "cigen.yaml").write_text(
        f'version: 1\nname: {name}\nregistry: ghcr.io/acme\nerlang:\n  otp: "26.2.5"\n', "utf-8")
    return load_project(tmp_path / "cigen.yaml", ("dockerfile",))


def _release_run(text: str) -> str:
    """The RUN of the releaser stage, as BuildKit's parser reads it (the oracle)."""
    commands = dockerfile.parse_string(text)
    stage = [i for i, c in enumerate(commands) if c.cmd.upper() == "FROM"][2]
    runs = [c for c in commands[stage:] if c.cmd.upper() == "RUN" and "tar" in c.value[0]]
    return str(runs[-1].value[0])


@pytest.mark.parametrize(("config", "names"), [
    (TWO, ("api", "worker")),
    # the release profile's relx section adds to the top-level one; another profile's does not
    ('{relx, [{release, {api, "1"}, [api]}]}.\n{profiles, [{prod, [{relx, [{release, '
     '{worker, "1"}, [worker]}]}]}, {test, [{relx, [{release, {t, "1"}, [t]}]}]}]}.\n',
     ("api", "worker")),
    # one name in several versions is one release to relx
    ('{relx, [{release, {api, "1"}, [api]}, {release, {api, "2"}, [api]}]}.\n', ("api",)),
    ("{erl_opts, [debug_info]}.\n", ()),
    ("{relx, [{release, {api, 1", ()),  # unreadable: rebar3 reports it when the build runs
])
def test_release_names(config: str, names: tuple[str, ...]) -> None:
    assert release_names(config, "prod") == names


def test_several_names_pass_the_release_name(tmp_path: Path) -> None:
    files = texts(_project(tmp_path, TWO), "dockerfile", "cloudbuild")
    assert _release_run(files["Dockerfile"]).startswith("rebar3 as prod tar --relname worker && ")
    assert _release_run(files["ci/Dockerfile.cb"]).startswith(  # the Kaniko variant too
        "rebar3 as prod tar --relname worker && ")


def test_relx_config_is_read_when_rebar_config_names_no_release(tmp_path: Path) -> None:
    (tmp_path / "relx.config").write_text('{release, {api, "0.1.0"}, [api, sasl]}.\n'
                                          '{release, {worker, "0.1.0"}, [worker, sasl]}.\n',
                                          "utf-8")
    project = _project(tmp_path, "{erl_opts, []}.\n")
    assert project.release_names == ("api", "worker")


@pytest.mark.parametrize("name", IMAGE_PROJECTS)
def test_one_release_keeps_the_command(name: str) -> None:
    project = load_project(FIXTURES / name / "cigen.yaml", ("dockerfile",))
    assert len(project.release_names) <= 1
    run = _release_run(texts(project, "dockerfile")[project.image.dockerfile])
    assert run.startswith(f"rebar3 as {project.erlang.release_profile} tar && ")


@pytest.mark.parametrize(("config", "releases"), [
    (TWO, "api worker"),
    ('{relx, [{release, {worker, "0.1.0"}, [worker]}]}.\n', "worker"),
])
def test_the_command_builds_with_a_fake_rebar3(tmp_path: Path, config: str,
                                               releases: str) -> None:
    run = _release_run(texts(_project(tmp_path, config), "dockerfile")["Dockerfile"])
    assert _run_fake(tmp_path, run, releases).returncode == 0
    assert (tmp_path / "rel" / "bin" / "worker").read_text() == "worker\n"
    # the oracle can fail: relx refuses the command without the name
    without = run.replace(" --relname worker", "")
    assert _run_fake(tmp_path, without, "api worker").returncode == 1


def _run_fake(tmp_path: Path, run: str, releases: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "rebar3").write_text(FAKE_REBAR3, "utf-8")
    (bin_dir / "rebar3").chmod(0o755)
    (tmp_path / "rel").mkdir(exist_ok=True)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "RELEASES": releases,
           "REBAR_BASE_DIR": str(tmp_path / "_build")}
    command = run.replace("/opt/rel", str(tmp_path / "rel"))  # the image's path, here
    return subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True,
                          check=False, timeout=60)
