"""Cloud Build and #17's publishing keys: attestations from the buildx builder, and located
errors for what no Cloud Build builder cigen writes can do (a second platform, signing, Kaniko
attestations); nothing is dropped in silence."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cigen import yamlio
from tests import oracles
from tests.conftest import Result
from tests.helpers import load_project, texts

BASE = {"version": 1, "name": "hello", "registry": "europe-docker.pkg.dev/acme/images",
        "targets": ["cloudbuild"], "erlang": {"otp": "26.2.5"}}
ATTESTATIONS = ["--sbom=true", "--provenance=mode=max"]


def _write(tmp_path: Path, **extra: Any) -> Path:
    config = tmp_path / "cigen.yaml"
    config.write_text(yamlio.dump({**BASE, **extra}))
    return config


def _image_args(tmp_path: Path, **extra: Any) -> list[str]:
    project = load_project(_write(tmp_path, **extra))
    build = yamlio.load_plain(texts(project, "cloudbuild")[project.cloudbuild.file])
    [step] = [s for s in build["steps"] if s["args"][:2] == ["buildx", "build"]
              or "kaniko" in s["name"]]
    args: list[str] = step["args"]
    return args


@pytest.mark.parametrize(("publish", "builder", "attests"), [
    ({}, "buildx", True),  # the default: where the builder makes them
    ({"sbom": True}, "buildx", True),
    ({"sbom": False}, "buildx", False),
    ({}, "kaniko", False),  # Kaniko makes none, and nobody asked
])
def test_buildx_attests_unless_told_not_to(tmp_path: Path, publish: dict[str, Any],
                                           builder: str, attests: bool) -> None:
    args = _image_args(tmp_path, publish=publish, cloudbuild={"builder": builder})
    assert all((flag in args) == attests for flag in ATTESTATIONS), args
    if attests:  # on the pushing build
        assert args.index("--push") > max(args.index(f) for f in ATTESTATIONS)


def test_the_attesting_config_is_one_cloud_build_takes(tmp_path: Path) -> None:
    project = load_project(_write(tmp_path, cloudbuild={"builder": "buildx"}))
    path = tmp_path / "cloudbuild.yaml"
    path.write_text(texts(project, "cloudbuild")["cloudbuild.yaml"])
    oracles.check_jsonschema("cloudbuild", path)


def _errors(tmp_path: Path, run_line: Callable[..., Result], **extra: Any) -> list[str]:
    config = _write(tmp_path, **extra)
    result = run_line(["cigen", "render", "-c", str(config)])
    assert result.code == 2, result
    assert not (tmp_path / "cloudbuild.yaml").exists()
    return [line.removeprefix(f"{config}:") for line in result.stderr.splitlines()
            if line.startswith(f"{config}:")]


def test_what_cloud_build_cannot_do_is_refused_at_its_keys_all_at_once(
        tmp_path: Path, run_line: Callable[..., Result]) -> None:
    lines = _errors(tmp_path, run_line, image={"platforms": ["linux/amd64", "linux/arm64"]},
                    publish={"sign": True, "sbom": True})
    text = (tmp_path / "cigen.yaml").read_text().splitlines()

    def row(needle: str) -> int:  # 1-based line of the value
        return next(i for i, line in enumerate(text, 1) if needle in line)

    assert len(lines) == 3, lines
    platforms, sbom, sign = sorted(lines, key=lambda line: ("platforms" not in line,
                                                            "sbom" not in line))
    assert platforms.startswith(f"{row('- linux/amd64')}:")
    assert "image.platforms: lists linux/arm64, and Cloud Build has no workers of that " \
        "architecture; cigen does not emulate one" in platforms
    assert sbom.startswith(f"{row('sbom: true')}:")
    assert "publish.sbom: is true, and Kaniko makes no SBOM" in sbom
    assert "cloudbuild.builder: buildx" in sbom
    assert sign.startswith(f"{row('sign: true')}:")
    assert "publish.sign: is true, and cigen does not sign images on Cloud Build" in sign


def test_an_arm64_only_image_is_refused_too(tmp_path: Path,
                                            run_line: Callable[..., Result]) -> None:
    [line] = _errors(tmp_path, run_line, image={"platforms": ["linux/arm64"]})
    assert "image.platforms: lists linux/arm64" in line


def test_the_same_keys_pass_when_cloud_build_is_not_rendered(
        tmp_path: Path, run_line: Callable[..., Result]) -> None:
    config = _write(tmp_path, publish={"sbom": True})
    assert run_line(["cigen", "render", "-c", str(config), "dockerfile"]).code == 0
