from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from cigen import checkcache
from tests.conftest import Result


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
        lambda root: (root / "cigen.yaml").write_text(
            (root / "cigen.yaml").read_text().replace("LOGGER_LEVEL: debug", "LOGGER_LEVEL: info")
        ),
    ],
    ids=["hand-edit", "deleted-output", "lost-exec-bit", "descriptor-change"],
)
def test_any_change_after_a_clean_check_is_still_found(
    run_line: Callable[..., Result], sd: Path, change: Callable[[Path], object]
) -> None:
    assert _check(run_line, sd).code == 0
    change(sd)
    assert _check(run_line, sd).code == 1


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
