"""A Dockerfile of the user's own (image.generate: false; issue 15): the published stage is
image.target when given, else the stage named runner, else the last stage, named or not; every
message names the Dockerfile and its line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cigen.model import Project
from cigen.yamlio import load_plain
from tests import oracles
from tests.conftest import Result
from tests.helpers import load_project, texts

DESCRIPTOR = 'version: 1\nname: shop\nregistry: ghcr.io/acme\nerlang:\n  otp: "26.2.5"\n' \
             "image:\n  generate: false\n"
SINGLE = """\
FROM erlang:26.2.5-alpine
WORKDIR /app
COPY . .
RUN rebar3 as prod release
CMD ["/app/_build/prod/rel/shop/bin/shop", "foreground"]
"""
TWO_STAGES = """\
FROM erlang:26.2.5-alpine AS build
WORKDIR /app
COPY . .
RUN rebar3 as prod tar

FROM alpine:3.19 AS final
COPY --from=build /app/_build/prod/rel/shop /opt/shop
CMD ["/opt/shop/bin/shop", "foreground"]
"""
WITH_RUNNER = TWO_STAGES.replace("AS final", "AS runner") + "\nFROM runner AS debug\n"


def _project(tmp_path: Path, dockerfile: str, extra: str = "") -> Project:
    (tmp_path / "Dockerfile").write_text(dockerfile, "utf-8")
    (tmp_path / "cigen.yaml").write_text(DESCRIPTOR + extra, "utf-8")
    return load_project(tmp_path / "cigen.yaml")


def _write(tmp_path: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, "utf-8")


@pytest.mark.parametrize(("dockerfile", "extra", "stage"), [
    (SINGLE, "", ""),  # one stage without a name: built with no --target
    (TWO_STAGES, "", "final"),  # no runner: the last stage
    (WITH_RUNNER, "", "runner"),  # runner, though a stage follows it
    (WITH_RUNNER, "  target: debug\n", "debug"),
    (TWO_STAGES.replace("AS final", "AS Runner"), "", "Runner"),  # names match any case
])
def test_the_published_stage(tmp_path: Path, dockerfile: str, extra: str, stage: str) -> None:
    assert _project(tmp_path, dockerfile, extra).image.target == stage


def test_a_single_stage_dockerfile_renders_for_every_ci(tmp_path: Path) -> None:
    project = _project(tmp_path, SINGLE)
    files = texts(project)
    _write(tmp_path, files)
    step = next(s for s in load_plain(files[".github/workflows/ci.yml"])["jobs"]["image"]["steps"]
                if s.get("uses", "").startswith("docker/build-push-action"))
    assert "target" not in step["with"]
    assert step["with"]["file"] == "Dockerfile"
    circleci = files[".circleci/config.yml"]
    assert "command: ci/build_images.sh -p -r ghcr.io/acme\n" in circleci
    assert "default_target=''\n" in files["ci/build_images.sh"]
    kaniko = load_plain(files["cloudbuild.yaml"])["steps"][-1]["args"]
    assert not [a for a in kaniko if a.startswith("--target")]
    assert "--dockerfile=./ci/Dockerfile.cb" in kaniko
    # the variant of the one stage: its base image became the ARG the step passes
    assert files["ci/Dockerfile.cb"].splitlines()[1:4] == [
        "ARG BASE_IMAGE=erlang:26.2.5-alpine", "", "FROM $BASE_IMAGE"]
    oracles.shellcheck(tmp_path / "ci/build_images.sh")
    oracles.hadolint(tmp_path / "ci/Dockerfile.cb", ignore=("DL3045",))  # COPY . . is theirs
    oracles.check_jsonschema("vendor.cloudbuild", tmp_path / "cloudbuild.yaml")
    oracles.check_jsonschema("vendor.circle-ci", tmp_path / ".circleci/config.yml")
    oracles.actionlint(tmp_path / ".github/workflows/ci.yml")


def test_the_last_stage_is_published_by_name(tmp_path: Path) -> None:
    files = texts(_project(tmp_path, TWO_STAGES))
    assert "command: ci/build_images.sh -p -t final -r ghcr.io/acme\n" in files[
        ".circleci/config.yml"]
    assert "--target=final" in load_plain(files["cloudbuild.yaml"])["steps"][-1]["args"]
    # Kaniko's runner ARG is the published stage's base
    assert "ARG RUNNER_IMAGE=alpine:3.19" in files["ci/Dockerfile.cb"]


def _render(tmp_path: Path, run_line: Callable[..., Result]) -> Result:
    result = run_line("cigen render", cwd=tmp_path)
    assert result.code == 2, result
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Dockerfile", "cigen.yaml"]
    return result


def test_a_target_the_dockerfile_lacks_names_it_and_its_stages(
        tmp_path: Path, run_line: Callable[..., Result]) -> None:
    (tmp_path / "Dockerfile").write_text(TWO_STAGES, "utf-8")
    (tmp_path / "cigen.yaml").write_text(DESCRIPTOR + "  target: prod\n", "utf-8")
    assert _render(tmp_path, run_line).stderr == (
        'cigen.yaml:8:11: image.target: "prod" is not a stage of Dockerfile: its stages are '
        "build (line 1), final (line 6)\n")


def test_a_target_in_an_unnamed_dockerfile(tmp_path: Path,
                                           run_line: Callable[..., Result]) -> None:
    (tmp_path / "Dockerfile").write_text(SINGLE, "utf-8")
    (tmp_path / "cigen.yaml").write_text(DESCRIPTOR + "  target: runner\n", "utf-8")
    assert _render(tmp_path, run_line).stderr == (
        'cigen.yaml:8:11: image.target: "runner" is not a stage of Dockerfile: its stages have '
        "no names; name one: FROM erlang:26.2.5-alpine AS <name>\n")


def test_a_dockerfile_elsewhere_is_named_where_it_is(
        tmp_path: Path, run_line: Callable[..., Result]) -> None:
    # -c from another folder: the message names the file as the user would open it
    (tmp_path / "svc" / "docker").mkdir(parents=True)
    dockerfile = tmp_path / "svc" / "docker" / "Dockerfile"
    dockerfile.write_text("FROM alpine:3.19\nRUN <<EOF\necho hi\n", "utf-8")
    (tmp_path / "svc" / "cigen.yaml").write_text(
        DESCRIPTOR + "  dockerfile: docker/Dockerfile\n", "utf-8")
    result = run_line("cigen check -c svc/cigen.yaml", cwd=tmp_path)
    assert result.code == 2, result
    assert result.stderr.startswith(
        "svc/cigen.yaml:8:15: image.dockerfile: svc/docker/Dockerfile:2: unterminated heredoc")
    dockerfile.write_text("# nothing to build\nARG X=1\n", "utf-8")
    result = run_line("cigen check -c svc/cigen.yaml", cwd=tmp_path)
    assert result.stderr == ("svc/cigen.yaml:8:15: image.dockerfile: svc/docker/Dockerfile: has "
                             "no FROM, so no stage to publish\n")
