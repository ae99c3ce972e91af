"""The tree cigen reads and writes: nothing outside the project, no special files, nothing
half-written when a path is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import Result

BASE = 'version: 1\nname: hello\nregistry: ghcr.io/acme\nerlang: {otp: "26.2.5"}\n'


def cigen(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A real process with a deadline: a read that blocks fails the test instead of hanging."""
    env = {**os.environ, "CIGEN_CACHE_DIR": str(root / ".cache")}
    return subprocess.run([sys.executable, "-m", "cigen", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if ".cache" not in p.parts}


def test_a_symlinked_folder_is_never_written_through(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (tmp_path / "cigen.yaml").write_text(BASE + "targets: [circleci]\n", "utf-8")
    (tmp_path / "ci").symlink_to(elsewhere, target_is_directory=True)
    result = cigen(tmp_path, "render")
    assert result.returncode == 2, result.stderr
    assert result.stderr == ("cigen.yaml:5:10: targets: ci/build_images.sh: ci is a symbolic "
                             "link; cigen writes only inside the project\n")
    assert list(elsewhere.iterdir()) == []
    assert listing(tmp_path) == {"cigen.yaml", "ci"}  # nothing else was written either


@pytest.mark.parametrize("command", ["render", "check"])
def test_a_fifo_at_an_output_path_is_refused_without_blocking(tmp_path: Path, command: str) -> None:
    (tmp_path / "cigen.yaml").write_text(BASE + "targets: []\n", "utf-8")
    os.mkfifo(tmp_path / "Dockerfile")
    result = cigen(tmp_path, command)
    assert result.returncode == 2, result.stderr
    assert "Dockerfile: is not a regular file" in result.stderr


def test_an_input_dockerfile_that_never_ends_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cigen.yaml").write_text(
        BASE + "targets: [cloudbuild]\nimage: {generate: false}\n", "utf-8")
    (tmp_path / "Dockerfile").symlink_to("/dev/zero")
    result = cigen(tmp_path, "check")
    assert result.returncode == 2, result.stderr
    assert result.stderr == ("cigen.yaml:6:1: image.dockerfile: Dockerfile: is not a regular "
                             "file; cigen reads and writes only those\n")


@pytest.mark.parametrize(("setting", "message"), [
    ("image: {kaniko_dockerfile: Dockerfile/cb}",
     "cigen.yaml:6:1: image.dockerfile: Dockerfile is a file, and cloudbuild writes "
     "Dockerfile/cb inside it as a folder; choose another path"),
    ("image: {dockerfile: ci/}",
     "cigen.yaml:6:21: image.dockerfile: ci/ is a file, and cloudbuild writes "
     "ci/Dockerfile.cb inside it as a folder; choose another path"),
    ("cloudbuild: {file: .git/hooks/pre-commit}",
     "cigen.yaml:6:20: cloudbuild.file: .git/hooks/pre-commit is inside .git, which git manages"),
    ("cloudbuild: {file: ../cloudbuild.yaml}",
     'cigen.yaml:6:20: cloudbuild.file: "../cloudbuild.yaml" is not a relative path inside the '
     "project (no leading /, no .., plain characters)"),
])
def test_a_refused_path_writes_nothing(tmp_path: Path, setting: str, message: str) -> None:
    (tmp_path / "cigen.yaml").write_text(BASE + "targets: [circleci, cloudbuild]\n" + setting
                                         + "\n", "utf-8")
    result = cigen(tmp_path, "render")
    assert result.returncode == 2, result.stderr
    assert message + "\n" in result.stderr
    assert listing(tmp_path) == {"cigen.yaml"}


# --- the class, not only the examples: generated output paths, some under a symlinked folder ---

SEGMENTS = st.sampled_from(["ci", "a", ".", "..", "", "x.yml", "Dockerfile", ".git", "CI", "out"])
PATHS = st.tuples(st.sampled_from(["", "/", "./"]), st.lists(SEGMENTS, min_size=1, max_size=4),
                  st.sampled_from(["", "/"])).map(lambda t: t[0] + "/".join(t[1]) + t[2])
# Each key: its default (None), a path a user might write, or one built from hostile segments.
CHOICES = st.one_of(st.none(), st.sampled_from(["ci/x.yml", "out/cloudbuild.yaml", "ci/./y.yml",
                                                 "a//b.yml", "Dockerfile.cb", "CI/x.yml"]), PATHS)
KEYS = (("cloudbuild", "file"), ("github", "workflow_file"), ("image", "kaniko_dockerfile"))


def tree(root: Path) -> dict[str, bytes | str | None]:
    """Every path under root: a file's bytes, a link's target, None for a folder."""
    out: dict[str, bytes | str | None] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = os.readlink(path)
        else:
            out[rel] = path.read_bytes() if path.is_file() else None
    return out


@settings(max_examples=100, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(paths=st.lists(CHOICES, min_size=3, max_size=3),
       linked=st.sampled_from(["", "", "ci", "a"]))
def test_generated_output_paths_stay_inside_the_project_or_are_refused(
    paths: list[str | None], linked: str, run_line: Callable[..., Result],
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root, elsewhere = Path(scratch, "project"), Path(scratch, "elsewhere")
        root.mkdir()
        elsewhere.mkdir()
        settings_yaml = "".join(f"{section}:\n  {key}: {json.dumps(path)}\n"
                                for (section, key), path in zip(KEYS, paths, strict=True)
                                if path is not None)
        (root / "cigen.yaml").write_text(
            BASE + "targets: [circleci, github, cloudbuild]\n" + settings_yaml, "utf-8")
        if linked:
            (root / linked).symlink_to(elsewhere, target_is_directory=True)
        before = tree(root)
        result = run_line(["cigen", "render"], cwd=root)
        event(f"exit {result.code}")
        assert list(elsewhere.iterdir()) == [], result  # never through the link
        if result.code != 0:
            assert result.code == 2, result
            assert result.stderr.startswith("cigen.yaml:"), result  # located
            assert tree(root) == before, result  # nothing written
            return
        after = tree(root)
        written = set(after) - set(before)
        assert not [p for p in written if p.split("/")[0] in (".git", linked)], result
        assert all(os.path.realpath(root / p).startswith(str(root.resolve())) for p in written)
        assert run_line(["cigen", "check"], cwd=root).code == 0  # what render wrote is current


# --- special files at every input: refused or skipped, never read (a FIFO blocks, /dev/zero
# never ends); the subprocess deadline turns a hang into a failure ---

def special(path: Path, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
def test_a_descriptor_that_is_no_file_is_refused(tmp_path: Path, kind: str) -> None:
    special(tmp_path / "cigen.yaml", kind)
    result = cigen(tmp_path, "check")
    assert (result.returncode, result.stderr) == (
        2, "cigen.yaml: cannot read: is not a regular file\n")


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
def test_an_output_replaced_by_a_special_file_after_a_clean_check(tmp_path: Path,
                                                                  kind: str) -> None:
    (tmp_path / "cigen.yaml").write_text(BASE + "targets: [circleci]\n", "utf-8")
    assert cigen(tmp_path, "render").returncode == 0
    assert cigen(tmp_path, "check").returncode == 0  # the check cache now holds a clean result
    (tmp_path / "ci" / "build_images.sh").unlink()
    special(tmp_path / "ci" / "build_images.sh", kind)
    result = cigen(tmp_path, "check")
    assert result.returncode == 2
    assert "ci/build_images.sh: is not a regular file" in result.stderr


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
def test_init_refuses_a_rebar_config_that_is_no_file(tmp_path: Path, kind: str) -> None:
    special(tmp_path / "rebar.config", kind)
    result = cigen(tmp_path, "init")
    assert (result.returncode, result.stderr) == (
        2, "rebar.config: cannot read: is not a regular file\n")


@pytest.mark.parametrize(("hint", "refused"), [
    (".tool-versions", ""),  # a hint only: skipped
    # also a file the new descriptor reads or writes: init writes cigen.yaml, then says why
    # rendering cannot use the special file
    ("Dockerfile", "Dockerfile: is not a regular file"),
    (".circleci/config.yml", ".circleci/config.yml: is not a regular file"),
])
def test_init_never_reads_a_hint_that_is_no_file(tmp_path: Path, hint: str, refused: str) -> None:
    (tmp_path / "rebar.config").write_text('{relx, [{release, {app, "1"}, [app]}]}.\n', "utf-8")
    (tmp_path / hint).parent.mkdir(exist_ok=True)
    special(tmp_path / hint, "fifo")
    result = cigen(tmp_path, "init")
    assert (tmp_path / "cigen.yaml").is_file()
    assert result.returncode == (2 if refused else 0), result.stderr
    assert refused in result.stderr


def test_a_docker_config_that_is_no_file_is_refused(tmp_path: Path) -> None:
    from cigen.errors import CigenError
    from cigen.pin.registry import docker_auths

    special(tmp_path / "config.json", "fifo")
    with pytest.raises(CigenError, match="config.json: cannot read: is not a regular file"):
        docker_auths({"DOCKER_CONFIG": str(tmp_path)})
