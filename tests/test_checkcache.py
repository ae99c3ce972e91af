from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cigen import checkcache
from tests.conftest import REPO, Result


@pytest.fixture
def sd(project_copy: Callable[[str], Path]) -> Path:
    return project_copy("service_discovery")


def _check(run_line: Callable[..., Result], root: Path) -> Result:
    return run_line(["cigen", "check", "-c", str(root / "cigen.yaml")])


def test_clean_check_is_remembered_and_reused(run_line: Callable[..., Result], sd: Path) -> None:
    config = sd / "cigen.yaml"
    assert not checkcache.current(config, [])
    assert _check(run_line, sd).code == 0
    assert checkcache.current(config, [])
    assert not checkcache.current(config, ["circleci"])  # other targets: another entry


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / ".circleci" / "config.yml").write_text("# hand edit\n"),
        lambda root: (root / "Dockerfile").unlink(),
        lambda root: os.chmod(root / "ci" / "build_images.sh", 0o644),
        lambda root: os.chmod(root / "ci" / "build_images.sh", 0o655),  # others may, owner not
        lambda root: _replace_bytes(root / "Dockerfile", b"cigen", b"c\xffgen"),
        lambda root: (root / "cigen.yaml").write_text(
            (root / "cigen.yaml").read_text().replace("LOGGER_LEVEL: debug", "LOGGER_LEVEL: info")
        ),
    ],
    ids=["hand-edit", "deleted-output", "lost-exec-bit", "owner-exec-bit", "invalid-utf8",
         "descriptor-change"],
)
def test_any_change_after_a_clean_check_is_still_found(
    run_line: Callable[..., Result], sd: Path, change: Callable[[Path], object],
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    assert _check(run_line, sd).code == 0
    change(sd)
    assert _check(run_line, sd).code == 1
    monkeypatch.setenv("CIGEN_CACHE_DIR", str(tmp_path_factory.mktemp("empty")))
    assert _check(run_line, sd).code == 1  # the uncached answer is the same


def _replace_bytes(path: Path, old: bytes, new: bytes) -> None:
    path.write_bytes(path.read_bytes().replace(old, new, 1))


def test_a_byte_that_decodes_to_the_replacement_character_is_still_a_change(
    run_line: Callable[..., Result], tmp_path: Path
) -> None:
    (tmp_path / "cigen.yaml").write_text(
        'version: 1\nname: app\nerlang: {otp: "26.2.5"}\nregistry: ghcr.io/acme\n'
        "targets: []\nimage: {env: {NOTE: \"\ufffd\"}}\n", "utf-8")
    assert run_line(["cigen", "render"], cwd=tmp_path).code == 0
    _replace_bytes(tmp_path / "Dockerfile", "\ufffd".encode(), b"\xff")
    assert run_line(["cigen", "check"], cwd=tmp_path).code == 1
    assert run_line(["cigen", "render"], cwd=tmp_path).stdout == "wrote Dockerfile\n"


def test_new_cigen_code_invalidates(
    sd: Path, run_line: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _check(run_line, sd).code == 0
    monkeypatch.setattr(checkcache, "_code_digest", lambda: "another version")
    assert not checkcache.current(sd / "cigen.yaml", [])


def test_a_users_dockerfile_is_an_input(run_line: Callable[..., Result], tmp_path: Path) -> None:
    (tmp_path / "cigen.yaml").write_text(
        'version: 1\nname: app\nerlang: {otp: "26.2.5"}\nregistry: ghcr.io/acme\n'
        "targets: [cloudbuild]\nimage: {generate: false}\n"
    )
    (tmp_path / "Dockerfile").write_text("FROM erlang:26.2.5 AS runner\nRUN true\n")
    assert run_line(["cigen", "render", "-c", str(tmp_path / "cigen.yaml")]).code == 0
    assert _check(run_line, tmp_path).code == 0
    (tmp_path / "Dockerfile").write_text("FROM erlang:26.2.5 AS runner\nRUN false\n")
    assert _check(run_line, tmp_path).code == 1


def test_an_unwritable_cache_only_costs_speed(
    run_line: Callable[..., Result], sd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIGEN_CACHE_DIR", "/proc/no/such/dir")
    assert _check(run_line, sd).code == 0
    assert _check(run_line, sd).code == 0


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cigen installed from a wheel, as a user has it (code, schema and data in one folder)."""
    target = tmp_path_factory.mktemp("installed")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(REPO)],
                   check=True, capture_output=True)
    return target


EDITS = {
    "code": ("cigen/targets/circleci/__init__.py", '"docker-build-and-push"', '"build-push"'),
    "schema": ("cigen/schemas/cigen.schema.json", '"build-test-maybe-publish"', '"workflow"'),
    "data": ("cigen/data/action-pins.json", '"sha": "', '"sha": "0'),
}


@pytest.mark.parametrize("kind", EDITS)
def test_check_answers_for_the_installed_package_as_it_is_now(
    kind: str, installed: Path, tmp_path: Path
) -> None:
    package = tmp_path / "site"
    shutil.copytree(installed, package)
    project = tmp_path / "project"
    project.mkdir()
    (project / "cigen.yaml").write_text(
        'version: 1\nname: app\nerlang: {otp: "26.2.5"}\nregistry: ghcr.io/acme\n'
        "targets: [circleci, github]\n", "utf-8")
    env = {**os.environ, "PYTHONPATH": str(package), "CIGEN_CACHE_DIR": str(tmp_path / "cache")}

    def cigen(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cigen", *args], cwd=project, env=env,
                              capture_output=True, text=True, check=False)

    where = cigen("schema")  # any command: which copy runs?
    assert where.returncode == 0
    assert cigen("render").returncode == 0
    assert cigen("check").returncode == 0
    assert list((tmp_path / "cache").iterdir()), "the clean check was not remembered"
    path, old, new = EDITS[kind]
    edited = package / path
    text = edited.read_text("utf-8")
    assert old in text
    edited.write_text(text.replace(old, new), "utf-8")
    cached = cigen("check")
    assert cached.returncode == 1, cached.stderr
    env["CIGEN_CACHE_DIR"] = str(tmp_path / "no-cache")
    assert cigen("check").returncode == 1
