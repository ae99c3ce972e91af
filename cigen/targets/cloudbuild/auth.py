from __future__ import annotations

from typing import Any

from cigen.model import Project

# Registry login for registries the build's service account cannot push to (registry_auth:
# docker-login). A `docker login` step writes the Docker config into a build volume, and the
# steps that push read it through DOCKER_CONFIG:
# - volumes: each is created empty, must be used by at least two steps and is discarded with
#   the build (googleapis/googleapis google/devtools/cloudbuild/v1/cloudbuild.proto,
#   BuildStep.volumes and Volume). Its path is outside /workspace, the build context that
#   Kaniko's `COPY . /app/src` copies, and Kaniko leaves mount points out of its snapshots
#   (GoogleContainerTools/kaniko and osscontainertools/kaniko pkg/util/fs_util.go,
#   DetectFilesystemIgnoreList), so the credentials reach neither the context nor a layer;
# - the docker CLI keeps its config in $DOCKER_CONFIG
#   (https://docs.docker.com/engine/reference/commandline/cli/, "Environment variables");
# - both Kaniko executors read $DOCKER_CONFIG/config.json through go-containerregistry's
#   default keychain and still reach GCR and Artifact Registry through its Google keychain
#   (GoogleContainerTools/kaniko v1.24.0 pkg/creds/creds.go; osscontainertools/kaniko v1.28.3
#   pkg/creds/creds.go; vendor/github.com/google/go-containerregistry/pkg/authn/keychain.go);
# - Secret Manager values reach a step only as secretEnv, read in bash as $$NAME
#   (https://cloud.google.com/build/docs/securing-builds/use-secrets).
Step = dict[str, Any]

STEP_ID = "registry-login"
VOLUME = "registry-auth"
CONFIG_DIR = "/registry-auth"
USERNAME = "REGISTRY_USERNAME"
PASSWORD = "REGISTRY_PASSWORD"  # noqa: S105 (the variable's name)
_DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")


def enabled(project: Project) -> bool:
    return project.cloudbuild.registry_auth == "docker-login"


def secrets(project: Project) -> dict[str, str]:
    """The login's availableSecrets, by variable name."""
    cb = project.cloudbuild
    if not enabled(project) or not cb.registry_username_secret or not cb.registry_password_secret:
        return {}
    return {USERNAME: cb.registry_username_secret, PASSWORD: cb.registry_password_secret}


def login_steps(project: Project) -> list[Step]:
    if not enabled(project):
        return []
    host = project.cloudbuild.registry_host
    server = "" if host in _DOCKER_HUB else f" {host}"  # docker login's default is Docker Hub
    script = (f'printf %s "$${PASSWORD}" | docker login --username "$${USERNAME}" '
              f"--password-stdin{server}")
    step: Step = {"name": project.cloudbuild.docker_image, "entrypoint": "bash",
                  "args": ["-c", script], "secretEnv": [USERNAME, PASSWORD]}
    return [with_config(project, step)]


def with_config(project: Project, step: Step) -> Step:
    """`step` reading (or writing) the login's Docker config, when there is a login."""
    if not enabled(project):
        return step
    env = [*step.get("env", []), f"DOCKER_CONFIG={CONFIG_DIR}"]
    return {**step, "env": env, "volumes": [{"name": VOLUME, "path": CONFIG_DIR}]}
