"""The library form, `image: false` (issue 15): CI runs the checks only. fixtures/library is
rendered by every fixture test and checked by every oracle (schemas, actionlint, zizmor, GitHub's
parser, yamllint); these tests say what its outputs hold and what the form refuses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cigen.errors import DescriptorError
from cigen.yamlio import load_plain
from tests import oracles
from tests.conftest import FIXTURES, Result
from tests.helpers import built, load_project, texts

LIBRARY = FIXTURES / "library"
HEAD = 'version: 1\nname: textkit\nerlang:\n  otp: "27.3.4"\n'


def _errors(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "cigen.yaml").write_text(text, "utf-8")
    with pytest.raises(DescriptorError) as caught:
        load_project(tmp_path / "cigen.yaml")
    return [p.removeprefix(f"{tmp_path}/") for p in caught.value.problems]


def test_the_library_fixture_writes_ci_files_and_nothing_of_an_image() -> None:
    project = load_project(LIBRARY / "cigen.yaml")
    assert project.library
    assert sorted(texts(project)) == [".cigen/files.json", ".circleci/config.yml", ".gcloudignore",
                                      ".github/workflows/ci.yml", "cloudbuild.yaml"]


def test_github_runs_the_checks_on_every_branch_and_builds_nothing() -> None:
    workflow = load_plain((LIBRARY / ".github/workflows/ci.yml").read_text("utf-8"))
    # nothing is published, so no branch is special and tag pushes start nothing
    assert workflow["on"] == {"push": {"branches": ["**"]}, "pull_request": None}
    assert sorted(workflow["jobs"]) == ["ct", "dialyzer", "eunit", "xref"]
    uses = [s.get("uses", "") for job in workflow["jobs"].values() for s in job["steps"]]
    assert not [u for u in uses if u.startswith(("docker/", "google-github-actions/"))]
    for job in workflow["jobs"].values():
        assert job["permissions"] == {"contents": "read"}


def test_circleci_has_the_orb_jobs_only() -> None:
    config = load_plain((LIBRARY / ".circleci/config.yml").read_text("utf-8"))
    assert "jobs" not in config  # every workflow job is the orb's
    assert config["orbs"] == {"rebar3": "tsloughter/rebar3@0.8.1"}  # no gcp-gcr
    [workflow] = config["workflows"].values()
    names = [next(iter(job)) for job in workflow["jobs"]]
    assert names == ["rebar3/compile", "rebar3/xref", "rebar3/dialyzer", "rebar3/eunit",
                     "rebar3/ct"]
    assert not (LIBRARY / "ci").exists()


def test_cloud_build_runs_the_checks_and_pushes_nothing() -> None:
    config = load_plain((LIBRARY / "cloudbuild.yaml").read_text("utf-8"))
    assert [s["id"] for s in config["steps"]] == ["compile", "xref", "dialyzer", "eunit", "ct"]
    assert {s["name"] for s in config["steps"]} == {"erlang:27.3.4"}
    assert set(config) == {"steps"}  # no substitutions, secrets or options of an image step
    assert "Kaniko" not in (LIBRARY / ".gcloudignore").read_text("utf-8")


def test_the_dockerfile_target_is_refused_at_image(tmp_path: Path,
                                                   run_line: Callable[..., Result]) -> None:
    (tmp_path / "cigen.yaml").write_text(HEAD + "image: false\n", "utf-8")
    result = run_line("cigen render dockerfile", cwd=tmp_path)
    assert result.code == 2, result
    assert result.stderr == ("cigen.yaml:5:8: image: is false: a library has no Dockerfile, so "
                             "there is no dockerfile target to render\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cigen.yaml"]


def test_every_image_key_is_refused_at_once(tmp_path: Path) -> None:
    text = HEAD + (
        "image: false\nregistry: ghcr.io/acme\nimage_name: kit\npublish:\n  branches: [main]\n"
        "circleci:\n  context: images\ngithub:\n  auth: ghcr\ncloudbuild:\n  run_checks: false\n"
        "  destination: ghcr.io/acme/kit:$COMMIT_SHA\n"
    )
    assert _errors(tmp_path, text) == [
        "cigen.yaml:6:1: registry: is where images are pushed, and a library (image: false) has "
        "no image; remove it",
        "cigen.yaml:7:1: image_name: is the image's repository name, and a library (image: false)"
        " has no image; remove it",
        "cigen.yaml:8:1: publish: is when images are published, and a library (image: false) has "
        "no image; remove it",
        "cigen.yaml:11:3: circleci.context: is the image job's context, and a library (image: "
        "false) has no image; remove it",
        "cigen.yaml:13:3: github.auth: is the image job's registry login, and a library (image: "
        "false) has no image; remove it",
        "cigen.yaml:15:15: cloudbuild.run_checks: is false, but a library's Cloud Build config "
        "runs nothing else; remove it, or cloudbuild from targets",
        "cigen.yaml:16:3: cloudbuild.destination: is where the image step pushes, and a library "
        "(image: false) has no image; remove it",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cigen.yaml"]


def test_the_arm64_runner_keys_are_refused(tmp_path: Path) -> None:
    text = HEAD + ("image: false\ncircleci:\n  arm_resource_class: arm.large\n"
                   "github:\n  arm_runs_on: ubuntu-22.04-arm\n")
    assert _errors(tmp_path, text) == [
        "cigen.yaml:7:3: circleci.arm_resource_class: is the arm64 machine of the image jobs, and"
        " a library (image: false) has no image; remove it",
        "cigen.yaml:9:3: github.arm_runs_on: is the runner of the arm64 image job, and a library "
        "(image: false) has no image; remove it",
    ]


def test_a_dockerfile_insertion_is_refused(tmp_path: Path) -> None:
    text = HEAD + "image: false\noverrides:\n  Dockerfile:\n    runner: LABEL a=b\n"
    assert _errors(tmp_path, text) == [
        "cigen.yaml:7:3: overrides.Dockerfile: inserts into the Dockerfile, and a library "
        "(image: false) has none; remove it",
    ]


@pytest.mark.parametrize(("image", "message"), [
    ("true", "image: true is not an image; write the image's keys as a mapping, or false for a "
             "library with no image"),
    ('"no"', 'image: "no" is not a mapping of the image\'s keys, or false for a library with no '
             "image"),
])
def test_image_takes_a_mapping_or_false(tmp_path: Path, image: str, message: str) -> None:
    found = _errors(tmp_path, HEAD + f"registry: ghcr.io/acme\nimage: {image}\n")
    assert found == [f"cigen.yaml:6:8: {message}"]


def test_registry_stays_required_with_an_image(tmp_path: Path) -> None:
    assert _errors(tmp_path, HEAD + "image: {os: debian}\n") == [
        "cigen.yaml:1:1: registry: required key is missing; add it, e.g. registry: ghcr.io/acme",
    ]


def test_a_library_with_services_and_private_dependencies_checks_with_them(
        tmp_path: Path) -> None:
    text = HEAD + (
        "  checks: [ct]\n  services:\n    - {name: postgres, image: 'postgres:16.4-alpine', "
        "ports: [5432], env: {POSTGRES_PASSWORD: test}}\n"
        "image: false\nprivate:\n  git_hosts: [git.example.com]\n"
    )
    (tmp_path / "cigen.yaml").write_text(text, "utf-8")
    project = load_project(tmp_path / "cigen.yaml")
    files = built(project).texts()
    for path in files:
        if path.endswith(".yml") or path.endswith(".yaml"):
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).write_text(files[path], "utf-8")
    workflow = tmp_path / ".github/workflows/ci.yml"
    oracles.check_jsonschema("vendor.github-workflows", workflow)
    oracles.actionlint(workflow)
    oracles.check_jsonschema("vendor.circle-ci", tmp_path / ".circleci/config.yml")
    oracles.check_jsonschema("vendor.cloudbuild", tmp_path / "cloudbuild.yaml")
    cloudbuild: dict[str, Any] = load_plain(files["cloudbuild.yaml"])
    assert any("postgres" in " ".join(s.get("args", [])) for s in cloudbuild["steps"])
    jobs = load_plain(files[".github/workflows/ci.yml"])["jobs"]
    assert "services" in jobs["ct"]
    assert "image" not in jobs
