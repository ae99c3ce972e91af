from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cigen.model import Project
from tests.e2e.buildah import Buildah, Step, steps
from tests.e2e.compat import context_digest, for_buildah

BRANCH = "feature/e2e"  # a / in the branch: build_images.sh must make it a valid tag
DOCKER_SHIM = """#!/bin/sh
exec {python} -m tests.e2e.docker_shim "$@"
"""


@dataclass(frozen=True)
class Built:
    image: str
    output: str  # what buildah printed

    @property
    def steps(self) -> list[Step]:
        return steps(self.output)


@dataclass(frozen=True)
class ShimCall:
    argv: list[str]  # what build_images.sh passed to docker
    notes: list[str]  # what the shim left out, and why
    buildah: list[list[str]]  # what it ran instead
    error: str  # why it refused the call, if it did


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(["git", "-C", str(repo), "-c", "user.name=e2e",  # noqa: S603,S607
                           "-c", "user.email=e2e@example.invalid", *args],
                          capture_output=True, text=True, env=env, check=True)
    return done.stdout.strip()


def workspace(sample: Path, folder: Path) -> Path:
    """A scratch copy of the sample project, committed on BRANCH."""
    shutil.copytree(sample, folder)
    git(folder, "init", "-q", "-b", BRANCH)
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "sample")
    return folder


def change_source(workspace: Path, folder: Path) -> str:
    """A copy of the workspace with one more function in a source file; what it returns."""
    shutil.copytree(workspace, folder)
    token = uuid.uuid4().hex  # new on every run, so no earlier run's layers can match
    source = folder / "apps" / "greeter" / "src" / "greeter.erl"
    text = source.read_text().replace("-export([hello/1]).", "-export([hello/1, token/0]).")
    source.write_text(f'{text}\ntoken() -> "{token}".\n')
    git(folder, "commit", "-q", "-am", "source-only change")
    return token


def buildkit(buildah: Buildah, project: Project, context: Path, tag: str,
             options: Sequence[str] = (), target: str = "") -> Built:
    """The generated BuildKit Dockerfile, bridged for buildah 1.28 (tests/e2e/compat.py);
    `options` (--secret, --ssh) go to `buildah build`; `target` defaults to the descriptor's."""
    dockerfile = context.parent / f"{context.name}.Dockerfile.buildah"
    original = (context / project.image.dockerfile).read_text()
    dockerfile.write_text(for_buildah(original, context_digest(context)))
    return Built(tag, buildah.build(context, dockerfile, tag, target or project.image.target,
                                    options=options))


def kaniko(buildah: Buildah, project: Project, context: Path, tag: str,
           text: str | None = None) -> Built:
    """The Kaniko variant (the committed one unless `text`), with the base images passed as
    Cloud Build passes them. The cache and bind mounts a fork's variant keeps are bridged for
    buildah 1.28 as the BuildKit file's are (a file without mounts stays as it is)."""
    args = (f"BASE_IMAGE={project.image.base}", f"RUNNER_IMAGE={project.image.runner}")
    original = (context / project.image.kaniko_dockerfile).read_text() if text is None else text
    dockerfile = context.parent / f"{context.name}.{tag.rsplit(':', 1)[-1]}.Dockerfile.kaniko"
    dockerfile.write_text(for_buildah(original, context_digest(context)))
    return Built(tag, buildah.build(context, dockerfile, tag, project.image.target, args))


def dependency_and_source_steps(build: Built) -> tuple[list[Step], list[Step]]:
    """The dependency layer's steps (rebar.config, rebar.lock and the compile of the deps),
    and the steps that read the rest of the source."""
    dependency = [s for s in build.steps if "COPY rebar.config rebar.lock" in s.instruction
                  or s.instruction.endswith(" rebar3 compile")]
    source = [s for s in build.steps
              if "rebar3 as prod" in s.instruction or s.instruction.startswith("COPY . ")]
    return dependency, source


def run_build_script(workspace: Path, buildah: Buildah, folder: Path,
                     *args: str) -> tuple[subprocess.CompletedProcess[str], list[ShimCall]]:
    """ci/build_images.sh with a `docker` on PATH that maps buildx onto buildah."""
    shim = folder / "bin" / "docker"
    shim.parent.mkdir(parents=True, exist_ok=True)
    shim.write_text(DOCKER_SHIM.format(python=sys.executable))
    shim.chmod(0o755)
    log = folder / "shim.log"
    log.unlink(missing_ok=True)
    env = {k: v for k, v in buildah.env.items() if k not in ("CIRCLE_BRANCH", "GITHUB_REF_NAME")}
    env |= {"PATH": f"{shim.parent}{os.pathsep}{env['PATH']}", "CIGEN_SHIM_LOG": str(log),
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "CIGEN_SHIM_BUILDAH": json.dumps(buildah.storage)}
    done = subprocess.run(["bash", str(workspace / "ci" / "build_images.sh"), *args],  # noqa: S603,S607
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                          timeout=1200, check=False)
    calls = [ShimCall(**json.loads(line)) for line in log.read_text().splitlines()] \
        if log.is_file() else []
    return done, calls
