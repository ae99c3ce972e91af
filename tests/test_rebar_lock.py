"""The generated Dockerfile copies rebar.lock only when the project has one, and `cigen check`
notices when it appears or disappears (issue #15)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from cigen import checkcache
from tests import oracles
from tests.conftest import Result
from tests.helpers import load_project, texts

DESCRIPTOR = ('version: 1\nname: app\nerlang: {otp: "26.2.5"}\nregistry: ghcr.io/acme\n'
              "targets: [cloudbuild]\n")
WITH_LOCK = "COPY rebar.config rebar.lock ./\n"
WITHOUT_LOCK = "COPY rebar.config ./\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "cigen.yaml").write_text(DESCRIPTOR, "utf-8")
    (tmp_path / "rebar.config").write_text("{deps, []}.\n", "utf-8")
    return tmp_path


def _cigen(run_line: Callable[..., Result], root: Path, command: str) -> Result:
    return run_line(["cigen", command, "-c", str(root / "cigen.yaml")])


def test_the_lock_is_copied_only_when_it_exists(root: Path) -> None:
    assert not load_project(root / "cigen.yaml").rebar_lock
    dockerfile = _rendered(root)
    assert WITHOUT_LOCK in dockerfile
    assert "rebar.lock" not in dockerfile
    (root / "rebar.lock").write_text("[].\n", "utf-8")
    assert WITH_LOCK in _rendered(root)


def _rendered(root: Path) -> str:
    return texts(load_project(root / "cigen.yaml"))["Dockerfile"]


@pytest.mark.parametrize("lock", ["absent", "present"])
def test_both_forms_pass_hadolint_and_convert_to_kaniko(
    root: Path, run_line: Callable[..., Result], lock: str
) -> None:
    if lock == "present":
        (root / "rebar.lock").write_text("[].\n", "utf-8")
    assert _cigen(run_line, root, "render").code == 0
    kaniko = root / load_project(root / "cigen.yaml").image.kaniko_dockerfile
    # broken on purpose, as tests/targets/test_cloudbuild.py says: DL3018 (apk add without
    # versions) and DL3059 (the Kaniko variant's consecutive RUNs)
    oracles.hadolint(root / "Dockerfile", kaniko, ignore=("DL3018", "DL3059"))
    assert ("COPY rebar.config rebar.lock ./" in kaniko.read_text()) is (lock == "present")


@pytest.mark.parametrize("change", ["appears", "disappears"])
def test_check_reports_the_dockerfile_stale_when_the_lock_changes(
    root: Path, run_line: Callable[..., Result], change: str,
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    lock = root / "rebar.lock"
    if change == "disappears":
        lock.write_text("[].\n", "utf-8")
    assert _cigen(run_line, root, "render").code == 0
    assert _cigen(run_line, root, "check").code == 0
    assert checkcache.current(root / "cigen.yaml", [])  # the clean answer is remembered
    if change == "appears":
        lock.write_text("[].\n", "utf-8")
    else:
        lock.unlink()
    assert not checkcache.current(root / "cigen.yaml", [])
    result = _cigen(run_line, root, "check")
    assert result.code == 1, result
    assert "Dockerfile: stale or hand-edited" in result.stderr
    monkeypatch.setenv("CIGEN_CACHE_DIR", str(tmp_path_factory.mktemp("empty")))
    assert _cigen(run_line, root, "check").code == 1  # the uncached answer is the same
    assert _cigen(run_line, root, "render").code == 0
    assert _cigen(run_line, root, "check").code == 0


@pytest.mark.parametrize("change", ["new-locks", "a-folder"])
def test_a_lock_change_that_keeps_the_dockerfile_is_checked_again_and_current(
    root: Path, run_line: Callable[..., Result], change: str
) -> None:
    if change == "new-locks":
        (root / "rebar.lock").write_text("[].\n", "utf-8")
    assert _cigen(run_line, root, "render").code == 0
    assert _cigen(run_line, root, "check").code == 0
    if change == "new-locks":
        (root / "rebar.lock").write_text('[{<<"a">>,{pkg,<<"a">>,<<"1.0.0">>},0}].\n', "utf-8")
    else:
        os.mkdir(root / "rebar.lock")  # no file to copy: still the form without it
    assert not checkcache.current(root / "cigen.yaml", [])
    assert _cigen(run_line, root, "check").code == 0
