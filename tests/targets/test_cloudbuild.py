from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dockerfile
import pytest

from cigen import yamlio
from cigen.model import Project
from cigen.targets import cloudbuild
from cigen.targets.base import MARKER
from tests import oracles
from tests.conftest import CLOUDBUILD_PROJECTS, FIXTURES, Result
from tests.helpers import load_project, texts

VARIANT = "ci/Dockerfile.cb"
# hadolint rules the Kaniko variant inherits from the generated Dockerfile (see test_dockerfile).
HADOLINT_IGNORES = ("DL3018", "DL3008", "DL3059")
# The chapter's cloudbuild.yaml (reference/service-discovery.md §3), flag for flag.
CHAPTER_ARGS = [
    "--target=runner",
    "--dockerfile=./ci/Dockerfile.cb",
    "--build-arg=BASE_IMAGE=$_BASE_IMAGE",
    "--build-arg=RUNNER_IMAGE=$_RUNNER_IMAGE",
    "--destination=us.gcr.io/$PROJECT_ID/service_discovery:$COMMIT_SHA",
    "--cache=true",
    "--cache-ttl=8h",
]
CHAPTER_SUBSTITUTIONS = {
    "_BASE_IMAGE": "us.gcr.io/$PROJECT_ID/erlang:22.1.1-alpine",
    "_RUNNER_IMAGE": "us.gcr.io/$PROJECT_ID/alpine:3.10.2",
}
BASE = {"version": 1, "name": "hello", "registry": "us-docker.pkg.dev/acme/apps",
        "targets": ["cloudbuild"], "erlang": {"otp": "26.2.5"}}
USER_DOCKERFILE = """\
# syntax=docker/dockerfile:1
FROM erlang:26.2.5-alpine AS build
WORKDIR /src
RUN --mount=type=cache,target=/root/.cache/rebar3 --mount=target=. rebar3 as prod tar
FROM alpine:3.20 AS app
COPY --from=build /src/_build/prod/rel /opt/rel
"""
# Descriptor variants beyond the fixture projects, each rendered and checked like them.
VARIANTS: dict[str, dict[str, Any]] = {
    "buildx": {"cloudbuild": {"builder": "buildx"}},
    "buildx-checks": {"cloudbuild": {"builder": "buildx", "run_checks": True}},
    "run-checks": {"erlang": {"otp": "26.2.5",
                              "checks": ["xref", "dialyzer", "eunit", "ct", "cover"],
                              "env": {"ERL_FLAGS": "+S 2 $HOME"},
                              "setup": {"ct": [{"name": "prep", "run": 'echo "$HOME"'}]}},
                   "publish": {"after": ["ct", "xref"]}, "cloudbuild": {"run_checks": True}},
    "tags": {"cloudbuild": {"tags": ["$BRANCH_NAME", "v-${SHORT_SHA}"],
                            "cache_repo": "us-docker.pkg.dev/$PROJECT_ID/cache/hello"}},
    "secrets": {"cloudbuild": {"run_checks": True, "secrets": {
        "HEX_API_KEY": "projects/$PROJECT_ID/secrets/hex/versions/latest"}}},
    "cache-off": {"cloudbuild": {"cache": False}},
    "account": {"cloudbuild": {"service_account": "projects/acme/serviceAccounts/cb@acme.iam"
                               ".gserviceaccount.com", "timeout": "1h30m",
                               "machine_type": "E2_HIGHCPU_8"}},
    "user-dockerfile": {"image": {"generate": False, "dockerfile": "docker/Dockerfile",
                                  "target": "app", "keep_git": False}},
    # Registries the build's service account cannot push to: a docker login from Secret Manager.
    "ghcr-login": {"registry": "ghcr.io/acme", "erlang": {"otp": "26.2.5", "checks": ["ct"]},
                   "cloudbuild": {"run_checks": True, "secrets": {
                       "HEX_API_KEY": "projects/$PROJECT_ID/secrets/hex/versions/latest"},
                       "registry_username_secret": "projects/acme/secrets/ghcr-user/versions/2",
                       "registry_password_secret": "projects/acme/secrets/ghcr-token/versions/3"}},
    "docker-hub-buildx": {"registry": "docker.io/acme", "cloudbuild": {"builder": "buildx"}},
    "docker-hub-buildx-checks": {"registry": "docker.io/acme",
                                 "cloudbuild": {"builder": "buildx", "run_checks": True}},
    "auth-none": {"registry": "registry.example.com:5443/team",
                  "cloudbuild": {"registry_auth": "none"}},
    "upstream-kaniko": {"cloudbuild": {"kaniko_image": "gcr.io/kaniko-project/executor:v1.24.0"}},
    "release-tags": {"publish": {"tags": ["v*", "release-*", "1.0"]}},
    "no-release": {"publish": {"tags": []}},
    # Private dependencies: buildx by default, the keys from Secret Manager.
    "private": {"private": {"hex_organizations": ["acme"], "git_hosts": ["github.com"]},
                "erlang": {"otp": "26.2.5", "checks": ["xref", "ct"]},
                "cloudbuild": {"run_checks": True}},
    "private-hex-ghcr": {"registry": "ghcr.io/acme", "private": {"hex_organizations": ["acme"]},
                         "cloudbuild": {"hex_config_secret":
                                        "projects/acme/secrets/hex/versions/2"}},
}


def _project(tmp_path: Path, extra: dict[str, Any]) -> Project:
    (tmp_path / "docker").mkdir(exist_ok=True)
    (tmp_path / "docker" / "Dockerfile").write_text(USER_DOCKERFILE)
    (tmp_path / "cigen.yaml").write_text(yamlio.dump({**BASE, **extra}))
    return load_project(tmp_path / "cigen.yaml")


def _render(project: Project, root: Path) -> dict[str, str]:
    """The render `cigen validate` checks: this target, plus the BuildKit Dockerfile it may use."""
    names = ("cloudbuild", "dockerfile") if project.image.generate and not project.library \
        else ("cloudbuild",)
    files = texts(project, *names)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return files


def _config(files: dict[str, str], project: Project) -> dict[str, Any]:
    data: dict[str, Any] = yamlio.load_plain(files[project.cloudbuild.file])
    return data


def _check_all(project: Project, files: dict[str, str], root: Path) -> None:
    """Every independent oracle on every output of the cloudbuild target."""
    for path in (project.cloudbuild.file, project.cloudbuild.release_file):
        if path in files:
            oracles.check_jsonschema("vendor.cloudbuild", root / path)
            oracles.yamllint(root / path)
    assert (project.cloudbuild.release_file in files) is bool(project.publish.tags)
    assert cloudbuild.lint(project, files) == []
    for text in texts(project, "cloudbuild").values():
        assert MARKER in text.splitlines()[0]
    if project.cloudbuild.builder == "kaniko" and not project.library:
        oracles.hadolint(root / project.image.kaniko_dockerfile, ignore=HADOLINT_IGNORES)
        _kaniko_ready(files[project.image.kaniko_dockerfile], _config(files, project), project)


def _kaniko_ready(text: str, config: dict[str, Any], project: Project) -> None:
    """No BuildKit-only syntax but what the executor builds, and the ARGs before FROM are
    exactly the build-args passed."""
    from cigen.kaniko.executor import choose
    from cigen.kaniko.mounts import parse_mount

    executor = choose(project.cloudbuild.kaniko_image, project.cloudbuild.kaniko_features)
    commands = dockerfile.parse_string(text)
    mounts = [parse_mount(f.partition("=")[2]) for c in commands for f in c.flags
              if f.startswith("--mount")]
    kinds = {"cache"} if executor.cache_mounts else set()
    kinds |= {"bind"} if executor.bind_mounts else set()
    assert {m.type for m in mounts} <= kinds
    assert not [m for m in mounts if m.from_ is not None]
    # the generated Dockerfile's cache mounts stay for an executor that has them
    assert bool(mounts) is executor.cache_mounts or not project.image.generate
    assert not any(c.heredocs for c in commands)  # cigen's Dockerfile has none
    assert not text.startswith("# syntax")
    first = next(i for i, c in enumerate(commands) if c.cmd.upper() == "FROM")
    declared = {c.value[0].split("=")[0] for c in commands[:first] if c.cmd.upper() == "ARG"}
    [kaniko] = [s for s in config["steps"] if "--dockerfile" in " ".join(s["args"])]
    passed = {a.split("=")[1] for a in kaniko["args"] if a.startswith("--build-arg=")}
    assert declared == passed
    assert declared


@pytest.mark.parametrize("name", CLOUDBUILD_PROJECTS)
def test_fixture_outputs_pass_every_oracle(name: str, tmp_path: Path) -> None:
    project = load_project(FIXTURES / name / "cigen.yaml")
    _check_all(project, _render(project, tmp_path), tmp_path)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_outputs_pass_every_oracle(name: str, tmp_path: Path) -> None:
    project = _project(tmp_path, VARIANTS[name])
    _check_all(project, _render(project, tmp_path / "out"), tmp_path / "out")


def test_service_discovery_is_the_chapters_config() -> None:
    project = load_project(FIXTURES / "service_discovery" / "cigen.yaml")
    config = _config(texts(project, "cloudbuild"), project)
    [step] = config["steps"]  # us.gcr.io: the build's service account pushes, no login
    # The chapter's executor, gcr.io/kaniko-project/executor, is archived: the maintained fork.
    assert step == {"name": "ghcr.io/osscontainertools/kaniko:v1.28.3", "args": CHAPTER_ARGS}
    assert config["substitutions"] == CHAPTER_SUBSTITUTIONS
    # The one addition: the substitutions name $PROJECT_ID, which manual builds expand only so.
    assert config["options"] == {"dynamicSubstitutions": True}
    assert set(config) == {"steps", "substitutions", "options"}


def test_minimal_defaults_need_no_dynamic_substitutions() -> None:
    project = load_project(FIXTURES / "minimal" / "cigen.yaml")
    config = _config(texts(project, "cloudbuild"), project)
    assert config["substitutions"] == {"_BASE_IMAGE": "erlang:26.2.5-alpine",
                                       "_RUNNER_IMAGE": "alpine:3.24"}
    assert "options" not in config
    assert "--destination=ghcr.io/acme/hello:$COMMIT_SHA" in config["steps"][-1]["args"]


def test_buildx_builds_the_buildkit_dockerfile_with_a_registry_cache(tmp_path: Path) -> None:
    project = _project(tmp_path, VARIANTS["buildx"])
    files = texts(project, "cloudbuild")
    # no Kaniko variant
    assert set(files) == {"cloudbuild.yaml", "cloudbuild.release.yaml", ".gcloudignore"}
    create, build = _config(files, project)["steps"]
    assert create["args"][:2] == ["buildx", "create"]
    assert "--use" in create["args"]
    cache = "type=registry,ref=us-docker.pkg.dev/acme/apps/hello:buildcache"
    assert build["args"] == [
        "buildx", "build", "--file=./Dockerfile", "--target=runner",
        "--tag=us-docker.pkg.dev/acme/apps/hello:$COMMIT_SHA",
        f"--cache-from={cache}", f"--cache-to={cache},mode=max",
        "--sbom=true", "--provenance=mode=max", "--push", ".",
    ]
    assert "substitutions" not in _config(files, project)  # nothing feeds build-args


def test_run_checks_wiring(tmp_path: Path) -> None:
    project = _project(tmp_path, VARIANTS["run-checks"])
    steps = _config(texts(project, "cloudbuild"), project)["steps"]
    waits = {s["id"]: s.get("waitFor") for s in steps}
    assert list(waits) == ["compile", "xref", "dialyzer", "eunit", "ct-setup-1", "ct", "cover",
                           "image"]
    assert waits == {"compile": None, "xref": ["compile"], "dialyzer": ["compile"],
                     "eunit": ["compile"], "ct-setup-1": ["eunit"], "ct": ["ct-setup-1"],
                     "cover": ["eunit", "ct"], "image": ["xref", "ct"]}
    by_id = {s["id"]: s for s in steps}
    assert by_id["ct"]["args"] == ["ct", "--cover"]
    assert by_id["cover"]["args"] == ["cover"]
    assert by_id["xref"]["name"] == f"erlang:{project.erlang.otp}"  # Debian: git and curl
    assert by_id["xref"]["entrypoint"] == "rebar3"
    # Literal $ in the user's text reaches the step as $; Cloud Build would substitute a bare $.
    assert by_id["xref"]["env"] == ["ERL_FLAGS=+S 2 $$HOME"]
    assert by_id["ct-setup-1"]["args"] == ["-c", 'echo "$$HOME"']


def test_buildx_image_step_also_waits_for_its_builder(tmp_path: Path) -> None:
    project = _project(tmp_path, VARIANTS["buildx-checks"])
    steps = _config(texts(project, "cloudbuild"), project)["steps"]
    by_id = {s["id"]: s for s in steps}
    assert by_id["buildx-builder"]["waitFor"] == ["-"]
    assert by_id["image"]["waitFor"] == ["ct", "buildx-builder"]


def test_branch_tags_become_tag_safe(tmp_path: Path) -> None:
    project = _project(tmp_path, VARIANTS["tags"])
    config = _config(texts(project, "cloudbuild"), project)
    args = config["steps"][0]["args"]
    assert "--destination=us-docker.pkg.dev/acme/apps/hello:$_SAFE_BRANCH_NAME" in args
    assert "--destination=us-docker.pkg.dev/acme/apps/hello:v-${SHORT_SHA}" in args
    assert "--cache-repo=us-docker.pkg.dev/$PROJECT_ID/cache/hello" in args
    assert config["options"]["dynamicSubstitutions"] is True
    value = config["substitutions"]["_SAFE_BRANCH_NAME"]
    # Cloud Build documents bash-style expansion for dynamic substitutions: let bash evaluate it.
    for branch, tag in [("release/2.x", "release-2.x"), ("feat/a/b", "feat-a-b"), ("main", "main")]:
        out = subprocess.run(["bash", "-c", f"BRANCH_NAME='{branch}'; printf %s \"{value}\""],
                             capture_output=True, text=True, check=True).stdout
        assert out == tag


def test_secrets_are_referenced_by_name_only(tmp_path: Path) -> None:
    project = _project(tmp_path, VARIANTS["secrets"])
    config = _config(texts(project, "cloudbuild"), project)
    assert config["availableSecrets"] == {"secretManager": [
        {"versionName": "projects/$PROJECT_ID/secrets/hex/versions/latest", "env": "HEX_API_KEY"}]}
    checks = [s for s in config["steps"] if s.get("entrypoint") == "rebar3"]
    assert checks
    assert all(s["secretEnv"] == ["HEX_API_KEY"] for s in checks)
    assert "secretEnv" not in config["steps"][-1]  # never the Kaniko step


def test_cache_off_drops_every_cache_flag(tmp_path: Path) -> None:
    project = _project(tmp_path, VARIANTS["cache-off"])
    args = _config(texts(project, "cloudbuild"), project)["steps"][0]["args"]
    assert not [a for a in args if a.startswith("--cache")]


def test_service_account_gets_its_own_logging(tmp_path: Path) -> None:
    project = _project(tmp_path, VARIANTS["account"])
    config = _config(texts(project, "cloudbuild"), project)
    assert config["options"] == {"machineType": "E2_HIGHCPU_8", "logging": "CLOUD_LOGGING_ONLY"}
    assert config["timeout"] == "5400s"
    assert config["serviceAccount"].startswith("projects/acme/serviceAccounts/")


def test_user_dockerfile_variant(tmp_path: Path) -> None:
    project = _project(tmp_path, VARIANTS["user-dockerfile"])
    files = texts(project, "cloudbuild")
    variant = files[VARIANT]
    assert variant.splitlines()[0].startswith(f"# {MARKER}")
    assert "ARG BASE_IMAGE=erlang:26.2.5-alpine" in variant
    # the default executor (the fork) binds the context: the relative target written resolved,
    # as the executor would mount it under / (cigen/kaniko/keep.py)
    assert "RUN --mount=type=cache,target=/root/.cache/rebar3 --mount=target=/src rebar3" in variant
    assert "COPY . " not in variant
    args = _config(files, project)["steps"][0]["args"]
    assert args[:2] == ["--target=app", "--dockerfile=./ci/Dockerfile.cb"]
    assert ".git\n" in files[".gcloudignore"]  # keep_git: false


@pytest.mark.parametrize("name", CLOUDBUILD_PROJECTS)
def test_gcloudignore_keeps_what_the_build_reads(name: str) -> None:
    project = load_project(FIXTURES / name / "cigen.yaml")
    text = texts(project, "cloudbuild")[".gcloudignore"]
    patterns = {line for line in text.splitlines() if line and not line.startswith("#")}
    assert {"_build", "_checkouts"} <= patterns
    # Every pattern is a bare name, so it matches a path component anywhere (gitignore rules).
    assert all("/" not in p and "*" not in p for p in patterns)
    needed = ["rebar.config", "rebar.lock", "src/a.erl", "apps/a/src/a.erl", "config/sys.config",
              project.image.kaniko_dockerfile, project.image.dockerfile]
    if project.image.keep_git:  # the release version comes from git
        needed.append(".git/HEAD")
    assert not [path for path in needed if patterns & set(path.split("/"))]
    assert (".git" in patterns) is not project.image.keep_git


@pytest.mark.parametrize("name", CLOUDBUILD_PROJECTS)
def test_rendering_is_deterministic(name: str) -> None:
    config = FIXTURES / name / "cigen.yaml"
    assert texts(load_project(config), "cloudbuild") == texts(load_project(config), "cloudbuild")


def test_unconvertible_user_dockerfile_names_its_line(tmp_path: Path,
                                                       run_line: Callable[..., Result]) -> None:
    _project(tmp_path, VARIANTS["user-dockerfile"])
    secret = USER_DOCKERFILE.replace("--mount=target=.", "--mount=type=secret,id=hex")
    (tmp_path / "docker" / "Dockerfile").write_text(secret)
    result = run_line(f"cigen render -c {tmp_path / 'cigen.yaml'}")
    assert result.code == 2, result
    assert "image.dockerfile: docker/Dockerfile:4: RUN --mount=type=secret" in result.stderr, result


def test_check_steps_come_in_dependency_order(tmp_path: Path) -> None:
    erlang = {"otp": "26.2.5", "checks": ["cover", "ct", "xref", "eunit"]}
    project = _project(tmp_path, {"erlang": erlang, "cloudbuild": {"run_checks": True}})
    steps = _config(texts(project, "cloudbuild"), project)["steps"]
    assert [s["id"] for s in steps] == ["compile", "xref", "eunit", "ct", "cover", "image"]


@pytest.mark.parametrize("name", ["buildx", "run-checks", "user-dockerfile"])
def test_cigen_validate_runs_the_stricter_check(name: str, tmp_path: Path,
                                                run_line: Callable[..., Result]) -> None:
    _project(tmp_path, VARIANTS[name])
    result = run_line(f"cigen validate -c {tmp_path / 'cigen.yaml'}")
    assert result.code == 0, result
    assert "valid" in result.stdout
