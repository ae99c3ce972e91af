"""The tree cigen reads and writes: nothing outside the project, no special files, nothing
half-written when a path is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
