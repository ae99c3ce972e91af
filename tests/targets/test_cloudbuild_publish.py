"""Cloud Build publishing: registry login, the executor, the upload, release builds."""
from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cigen import schema, yamlio
from cigen.model import Project
from cigen.targets import cloudbuild
from tests.conftest import CLOUDBUILD_PROJECTS, FIXTURES, Result
from tests.helpers import load_project, texts

RELEASE = "cloudbuild.release.yaml"
GHCR = {"version": 1, "name": "hello", "registry": "ghcr.io/acme", "targets": ["cloudbuild"],
        "erlang": {"otp": "26.2.5"}}
# What a tag-triggered build substitutes (Cloud Build's built-ins).
TAG_BUILD = {"TAG_NAME": "v1.4.2", "COMMIT_SHA": "c0ffee", "PROJECT_ID": "acme"}
_PARAM = re.compile(r"\$\$|\$\{([A-Z_][A-Z0-9_]*)\}|\$([A-Z_][A-Z0-9_]*)")


def _project(tmp_path: Path, **extra: Any) -> Project:
    (tmp_path / "cigen.yaml").write_text(yamlio.dump({**GHCR, **extra}))
    return load_project(tmp_path / "cigen.yaml")


def _configs(project: Project) -> tuple[dict[str, Any], dict[str, Any] | None]:
    files = texts(project, "cloudbuild")
    release = files.get(project.cloudbuild.release_file)
    main = yamlio.load_plain(files[project.cloudbuild.file])
    return main, None if release is None else yamlio.load_plain(release)


def _substitute(text: str, values: dict[str, str]) -> str:
    """What Cloud Build hands the step: substitutions filled in, `$$` read as `$`."""
    return _PARAM.sub(lambda m: "$" if m.group(0) == "$$" else
                      values.get(m.group(1) or m.group(2), ""), text)


def _run(step: dict[str, Any], tmp_path: Path, values: dict[str, str],
         secrets: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run a bash step as Cloud Build would, with a `docker` that logs its calls and stdin."""
    assert step["entrypoint"] == "bash"
    assert step["args"][0] == "-c"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "docker.log"
    docker = bin_dir / "docker"
    docker.write_text('#!/bin/sh\necho "docker $*" >> "$LOG"\n[ "$1" != login ] || '
                      '{ printf "stdin:" >> "$LOG"; cat >> "$LOG"; echo >> "$LOG"; }\n')
    docker.chmod(0o755)
    env = dict(item.split("=", 1) for item in (_substitute(e, values) for e in step.get("env", [])))
    env.update({name: (secrets or {})[name] for name in step.get("secretEnv", [])})
    env.update({"PATH": f"{bin_dir}:{os.environ['PATH']}", "LOG": str(log)})
    done = subprocess.run(["bash", "-c", _substitute(step["args"][1], values)], env=env,
                          capture_output=True, text=True, check=False)
    return done.returncode, log.read_text() if log.exists() else "", done.stderr


# 1. Registries other than Google's: a docker login from Secret Manager, outside /workspace.

def test_ghcr_logs_in_with_secret_manager_secrets(tmp_path: Path) -> None:
    project = _project(tmp_path)
    main, release = _configs(project)
    assert release is not None
    for config in (main, release):
        assert config["availableSecrets"] == {"secretManager": [
            {"versionName": "projects/$PROJECT_ID/secrets/registry-username/versions/latest",
             "env": "REGISTRY_USERNAME"},
            {"versionName": "projects/$PROJECT_ID/secrets/registry-password/versions/latest",
             "env": "REGISTRY_PASSWORD"}]}
    login, kaniko = main["steps"]
    assert login["secretEnv"] == ["REGISTRY_USERNAME", "REGISTRY_PASSWORD"]
    volume = [{"name": "registry-auth", "path": "/registry-auth"}]
    for step in (login, kaniko):  # the Docker config lives in a volume, not in /workspace
        assert step["volumes"] == volume
        assert "DOCKER_CONFIG=/registry-auth" in step["env"]
    assert "secretEnv" not in kaniko  # the executor reads the config, never the secret
    code, log, _ = _run(login, tmp_path, TAG_BUILD,
                        {"REGISTRY_USERNAME": "bot", "REGISTRY_PASSWORD": "s3cr3t"})
    assert code == 0
    assert log == "docker login --username bot --password-stdin ghcr.io\nstdin:s3cr3t\n"


def test_the_credentials_never_touch_the_build_context(tmp_path: Path) -> None:
    project = _project(tmp_path, cloudbuild={"builder": "buildx", "run_checks": True})
    main, release = _configs(project)
    for config in (main, release or {}):
        for step in config["steps"]:
            for volume in step.get("volumes", []):
                assert not volume["path"].startswith("/workspace")
            assert not any("/workspace" in arg for arg in step.get("args", []))
    # buildx keeps its builder and reads the login in the same place
    by_id = {s["id"]: s for s in main["steps"]}
    assert by_id["buildx-builder"]["env"] == ["DOCKER_CONFIG=/registry-auth"]
    assert by_id["image"]["env"] == ["DOCKER_CONFIG=/registry-auth"]
    assert by_id["registry-login"]["waitFor"] == ["-"]
    assert by_id["buildx-builder"]["waitFor"] == ["registry-login"]
    assert by_id["image"]["waitFor"] == ["ct", "buildx-builder"]


def test_docker_hub_login_names_no_server(tmp_path: Path) -> None:
    project = _project(tmp_path, registry="docker.io/acme")
    login = _configs(project)[0]["steps"][0]
    assert login["args"][1].endswith("--password-stdin")  # docker login's default: Docker Hub


def test_configured_secrets_and_google_registries(tmp_path: Path) -> None:
    user, token = "projects/acme/secrets/u/versions/2", "projects/acme/secrets/t/versions/1"
    project = _project(tmp_path, cloudbuild={"registry_username_secret": user,
                                             "registry_password_secret": token})
    versions = _configs(project)[0]["availableSecrets"]["secretManager"]
    assert [v["versionName"] for v in versions] == [user, token]
    google = load_project(FIXTURES / "service_discovery" / "cigen.yaml")
    assert google.cloudbuild.registry_auth == "service-account"
    assert "availableSecrets" not in _configs(google)[0]
    none = _project(tmp_path, registry="quay.io/acme", cloudbuild={"registry_auth": "none"})
    assert [s["name"] for s in _configs(none)[0]["steps"]] == [none.cloudbuild.kaniko_image]


@pytest.mark.parametrize(("cloudbuild_keys", "expected"), [
    ({"registry_auth": "service-account"},
     "cigen.yaml:9:18: cloudbuild.registry_auth: the build's service account can push only to "
     "GCR and Artifact Registry, not ghcr.io; use docker-login (Secret Manager secrets "
     "registry_username_secret and registry_password_secret) or none"),
    ({"registry_auth": "none", "registry_password_secret": "projects/a/secrets/b/versions/1"},
     "cigen.yaml:10:29: cloudbuild.registry_password_secret: is set but registry_auth is none; "
     "only docker-login reads it"),
    ({"run_checks": True, "secrets": {"REGISTRY_PASSWORD": "projects/a/secrets/b/versions/1"}},
     "cigen.yaml:11:5: cloudbuild.secrets.REGISTRY_PASSWORD: REGISTRY_PASSWORD is the variable "
     "of the registry login (registry_auth: docker-login); pick another name"),
])
def test_login_mistakes_are_located(cloudbuild_keys: dict[str, Any], expected: str,
                                    tmp_path: Path, run_line: Callable[..., Result]) -> None:
    (tmp_path / "cigen.yaml").write_text(yamlio.dump({**GHCR, "cloudbuild": cloudbuild_keys}))
    result = run_line(f"cigen render -c {tmp_path / 'cigen.yaml'}")
    assert result.code == 2, result
    assert expected in result.stderr, result
    assert not (tmp_path / "cloudbuild.yaml").exists()


# 2. The executor: the maintained fork by default, upstream still supported.

def test_default_executor_is_the_maintained_fork(tmp_path: Path) -> None:
    # osscontainertools/kaniko .github/workflows/images.yaml: releases push the executor as
    # ghcr.io/osscontainertools/kaniko:<tag>; v1.28.3 is its newest tag (CHANGELOG.md).
    assert schema.static_default("cloudbuild.kaniko_image") == \
        "ghcr.io/osscontainertools/kaniko:v1.28.3"
    fork = _project(tmp_path)
    (tmp_path / "up").mkdir()
    upstream = _project(tmp_path / "up",
                        cloudbuild={"kaniko_image": "gcr.io/kaniko-project/executor:v1.24.0"})
    assert _configs(upstream)[0]["steps"][-1]["name"] == "gcr.io/kaniko-project/executor:v1.24.0"
    # The variant follows the executor (cigen/kaniko/executor.py): the fork's keeps the cache
    # and context bind mounts, upstream's copies the source in and drops the caches.
    fork_variant = texts(fork, "cloudbuild")["ci/Dockerfile.cb"]
    upstream_variant = texts(upstream, "cloudbuild")["ci/Dockerfile.cb"]
    assert "--mount=type=cache" in fork_variant
    assert "COPY . " not in fork_variant
    assert "--mount" not in upstream_variant
    assert "COPY . /app/src" in upstream_variant


# 3. .gcloudignore: what git ignores is not uploaded.

@pytest.mark.parametrize("name", CLOUDBUILD_PROJECTS)
def test_gcloudignore_includes_gitignore_as_gcloud_reads_it(name: str) -> None:
    text = texts(load_project(FIXTURES / name / "cigen.yaml"), "cloudbuild")[".gcloudignore"]
    lines = text.splitlines()
    # gcloud: a `#` line whose rest starts with `!include:` includes a file of the same folder
    includes = [line for line in lines
                if line.startswith("#") and line[1:].lstrip().startswith("!include:")]
    assert includes == ["#!include:.gitignore"]
    first_pattern = next(i for i, line in enumerate(lines) if line and not line.startswith("#"))
    assert lines.index(includes[0]) < first_pattern  # cigen's own patterns come after


# 10. Release builds: <image>:<version>, without a cache a branch build wrote.

def test_release_config_pushes_the_version_without_the_cache(tmp_path: Path) -> None:
    project = _project(tmp_path)
    main, release = _configs(project)
    assert release is not None
    check, login, kaniko, retag = release["steps"]
    assert "--cache=true" in main["steps"][-1]["args"]
    assert not [a for a in kaniko["args"] if a.startswith("--cache")]
    assert login == main["steps"][0]
    code, log, _ = _run(check, tmp_path, TAG_BUILD)
    assert (code, log) == (0, "")
    code, log, _ = _run(retag, tmp_path, TAG_BUILD)
    assert code == 0
    assert log.splitlines() == ["docker pull ghcr.io/acme/hello:c0ffee",
                                "docker tag ghcr.io/acme/hello:c0ffee ghcr.io/acme/hello:1.4.2",
                                "docker push ghcr.io/acme/hello:1.4.2"]
    assert "DOCKER_CONFIG=/registry-auth" in retag["env"]
    text = texts(project, "cloudbuild")[RELEASE]
    assert text.splitlines()[1] == ("# Run it from a Cloud Build trigger on pushed tags matching "
                                    "^(v.*)$ (publish.tags).")


@pytest.mark.parametrize(("tag", "version"), [
    ("v1.4.2", "1.4.2"), ("vv2", "v2"), ("release-7", "release-7"), ("1.0", "1.0"),
    ("x1.0", None), ("", None), ("1.0.1", None),
    ('v$(touch "pwned")', '$(touch "pwned")')])  # the tag is data, never shell code
def test_release_check_and_version(tag: str, version: str | None, tmp_path: Path) -> None:
    project = _project(tmp_path, publish={"tags": ["v*", "release-*", "1.0"]})
    release = _configs(project)[1]
    assert release is not None
    check, _login, _kaniko, retag = release["steps"]
    values = {**TAG_BUILD, "TAG_NAME": tag}
    code, _, stderr = _run(check, tmp_path, values)
    assert (code == 0) is (version is not None), stderr
    assert not (tmp_path / "pwned").exists()
    if version is not None:
        _, log, _ = _run(retag, tmp_path, values)
        assert f"docker push ghcr.io/acme/hello:{version}\n" in log
    trigger = re.compile(cloudbuild.release.trigger_regex(project))
    assert bool(trigger.match(tag)) is (version is not None)


def test_buildx_release_tags_the_version_in_one_build(tmp_path: Path) -> None:
    project = _project(tmp_path, cloudbuild={"builder": "buildx"})
    main, release = _configs(project)
    assert release is not None
    _check, _login, _create, build = release["steps"]
    assert any(a.startswith("--cache-from") for a in main["steps"][-1]["args"])
    code, log, _ = _run(build, tmp_path, TAG_BUILD)
    assert code == 0
    assert log == ("docker buildx build --file=./Dockerfile --target=runner "
                   "--tag=ghcr.io/acme/hello:c0ffee --sbom=true --provenance=mode=max "
                   "--tag=ghcr.io/acme/hello:1.4.2 --push .\n")


def test_run_checks_release_wiring(tmp_path: Path) -> None:
    project = _project(tmp_path, cloudbuild={"run_checks": True})
    release = _configs(project)[1]
    assert release is not None
    waits = {s["id"]: s.get("waitFor") for s in release["steps"]}
    assert waits["release-check"] == ["-"]
    assert waits["registry-login"] == ["release-check"]
    assert waits["image"] == ["ct", "registry-login"]
    assert waits["release-tag"] == ["image"]


def test_no_tags_no_release_config(tmp_path: Path) -> None:
    project = _project(tmp_path, publish={"tags": []})
    assert RELEASE not in texts(project, "cloudbuild")


# 11. Cloud Build's default build timeout is 60 minutes
# (googleapis/googleapis google/devtools/cloudbuild/v1/cloudbuild.proto, Build.timeout).

def test_timeout_default_is_stated_as_the_api_says() -> None:
    node = schema.schema()["properties"]["cloudbuild"]["properties"]["timeout"]
    assert "Default: Cloud Build's (60 minutes)" in node["description"]
    for doc in ("targets.md", "descriptor.md"):
        assert "10 minutes" not in (Path(__file__).parents[2] / "docs" / doc).read_text()
