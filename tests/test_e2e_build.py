from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from cigen.kaniko import convert
from cigen.model import Project
from cigen.plan import load
from tests import oracles
from tests.conftest import FIXTURES
from tests.e2e import builds, registry, storage
from tests.e2e.buildah import Buildah
from tests.e2e.builds import BRANCH, Built
from tests.e2e.compat import context_digest, for_buildah
from tests.e2e.docker_shim import Usage, commands, parse
from tests.e2e.release import (
    QUESTIONS,
    answers,
    container,
    outside_tmp,
    probe_script,
    release_files,
    snapshot,
    writes,
)
from tests.helpers import load_project

# End to end (issue 8): buildah builds fixtures/e2e's generated BuildKit Dockerfile and its
# Kaniko variant from base images made of Debian packages (never pulled), and the release
# in each image starts and answers. 5-6.5 min on 2 cores; making the base images adds ~1 min
# when ~/.cache/cigen-e2e (or $CIGEN_E2E_CACHE) lacks them, the vfs builds take the rest.
# The fast tests at the end check the harness's own translations.

SAMPLE = FIXTURES / "e2e"
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(SAMPLE / "cigen.yaml")


@pytest.fixture(scope="module")
def buildah(project: Project) -> Iterator[Buildah]:
    """buildah storage in the cache: base images survive runs, everything built does not."""
    runner = project.image.runner
    assert runner is not None  # the descriptor names it: a locally made image
    started = time.monotonic()
    with storage.shared(project.image.base, runner) as tool:
        TIMINGS["base images"] = time.monotonic() - started  # with the lock wait and pruning
        yield tool
    print(f"\ne2e timings (s): {json.dumps({k: round(v) for k, v in TIMINGS.items()})}")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return builds.workspace(SAMPLE, tmp_path_factory.mktemp("e2e") / "greeter")


def _timed(label: str, started: float, built: Built) -> Built:
    TIMINGS[label] = time.monotonic() - started
    return built


@pytest.fixture(scope="module")
def buildkit(buildah: Buildah, project: Project, workspace: Path) -> Built:
    tag = "localhost/cigen-e2e/greeter:buildkit"
    return _timed("BuildKit Dockerfile", time.monotonic(),
                  builds.buildkit(buildah, project, workspace, tag))


@pytest.fixture(scope="module")
def kaniko(buildah: Buildah, project: Project, workspace: Path) -> Built:
    tag = "localhost/cigen-e2e/greeter:kaniko"
    return _timed("Kaniko variant", time.monotonic(),
                  builds.kaniko(buildah, project, workspace, tag))


@dataclass(frozen=True)
class Probe:
    said: dict[str, str]  # the release's answers by label (tests/e2e/release.py)
    written: dict[str, str]  # every path the run added, removed or changed
    stray: dict[str, str]  # those outside /tmp


def probe(buildah: Buildah, project: Project, image: str,
          questions: Mapping[str, str] = QUESTIONS) -> Probe:
    """Run the release in a container of `image`, as the image's user."""
    script = probe_script(project.name, registry.free_port(), questions)
    with container(buildah, image) as (name, root):
        before = snapshot(root)
        output = buildah("run", "--isolation", "chroot", name, "--", "sh", "-c", script,
                         timeout=300)
        after = snapshot(root)
    written = writes(before, after)
    return Probe(answers(output), written, outside_tmp(written, before, after))


def assert_release_answers(buildah: Buildah, project: Project, image: str) -> None:
    run = probe(buildah, project, image)
    said, user = run.said, buildah.user(image).split(":")[0]
    assert user not in ("", "0", "root"), f"the image runs as root: {user!r}"
    assert said["uid"] == user, said
    assert said["ping"] == "pong", said
    assert said["otp"] == '"25"', said
    # GREETING comes from image.env through sys.config.src, rendered into RELX_OUT_FILE_PATH
    assert said["hello"] == f'"{project.image.env["GREETING"]}, e2e!"', said
    assert {"greeter", "greeting", "crypto"} <= set(re.findall(r"\w+", said["apps"])), said
    assert "OpenSSL 3" in said["openssl"], said  # from the runner's runtime_packages
    assert said["exit"] == "0", said
    assert {"tmp/sys.config", "tmp/vm.args"} <= run.written.keys(), run.written
    assert not run.stray, f"the release wrote outside /tmp: {run.stray}"


@pytest.mark.slow
def test_buildkit_dockerfile_builds_and_its_release_answers(
        buildah: Buildah, project: Project, buildkit: Built) -> None:
    instructions = " ".join(step.instruction for step in buildkit.steps)
    # the cache and bind mounts were part of the build, not dropped on the way
    assert "--mount=type=cache,id=hex-cache" in instructions
    assert "--mount=type=cache,id=apt-lists" in instructions
    assert "--mount=target=/app/src" in instructions
    assert_release_answers(buildah, project, buildkit.image)


@pytest.mark.slow
def test_kaniko_variant_builds_and_its_release_answers(
        buildah: Buildah, project: Project, kaniko: Built) -> None:
    instructions = " ".join(step.instruction for step in kaniko.steps)
    # the variant for the default executor, the fork, keeps the cache and context bind mounts
    # (cigen/kaniko/executor.py); tests/kaniko/test_buildah.py builds the upstream one too
    assert "--mount=type=cache,id=hex-cache" in instructions
    assert "--mount=target=/app/src" in instructions
    assert "COPY . " not in instructions
    assert_release_answers(buildah, project, kaniko.image)


@pytest.mark.slow
def test_both_images_hold_the_same_release(
        buildah: Buildah, project: Project, buildkit: Built, kaniko: Built) -> None:
    with container(buildah, buildkit.image) as (_, one):
        first = release_files(one, project.name)
    with container(buildah, kaniko.image) as (_, two):
        second = release_files(two, project.name)
    assert f"bin/{project.name}" in first
    assert [path for path in first if path.startswith("erts-")]
    assert sorted(first) == sorted(second)
    differ = sorted(path for path in first if first[path] != second[path])
    assert not differ, {path: (first[path], second[path]) for path in differ}


@pytest.mark.slow
def test_a_source_change_reuses_the_dependency_layer(
        buildah: Buildah, project: Project, workspace: Path, buildkit: Built, kaniko: Built,
        tmp_path: Path) -> None:
    token = builds.change_source(workspace, tmp_path / "greeter")
    started = time.monotonic()
    again = (builds.buildkit(buildah, project, tmp_path / "greeter", f"{buildkit.image}-2"),
             builds.kaniko(buildah, project, tmp_path / "greeter", f"{kaniko.image}-2"))
    TIMINGS["both again, after a source change"] = time.monotonic() - started
    # The fork's Kaniko variant (the default executor's) runs the BuildKit file's instructions,
    # mounts and all: its source steps may come from the BuildKit build just made, of this
    # very source (the bridge keys them on its digest), never from an earlier one.
    fresh = {step.instruction for step in again[0].steps if not step.cached}
    for build in again:
        dependency, source = builds.dependency_and_source_steps(build)
        assert len(dependency) == 2, build.steps
        assert all(step.cached for step in dependency), dependency  # "--> Using cache"
        assert source, build.steps
        assert not [step for step in source if step.cached and step.instruction not in fresh], \
            source
        said = probe(buildah, project, build.image, {"token": "greeter:token()."}).said
        assert said["token"] == f'"{token}"', said


@pytest.fixture(scope="module")
def loopback_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = oracles.tool("docker-registry")
    with registry.serve(binary, tmp_path_factory.mktemp("registry")) as host:
        yield host


@pytest.mark.slow
def test_build_images_script_runs_for_real_with_a_docker_shim(
        buildah: Buildah, project: Project, workspace: Path, buildkit: Built,
        loopback_registry: str, tmp_path: Path) -> None:
    prefix = f"{loopback_registry}/cigen-e2e"
    image, sha = f"{prefix}/{project.image_name}", builds.git(workspace, "rev-parse", "HEAD")
    tags = sorted([sha, BRANCH.replace("/", "-")])
    started = time.monotonic()
    done, calls = builds.run_build_script(workspace, buildah, tmp_path, "-l", "-t", "runner",
                                          "-r", prefix)
    TIMINGS["build_images.sh -l"] = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert [call.error for call in calls] == [""], calls
    assert {"--load", "--target", "runner"} <= set(calls[0].argv), calls
    assert [note for note in calls[0].notes if "--cache-from" in note], calls
    # the same Dockerfile and context: every layer comes from the first build's cache
    for tag in tags:
        assert buildah.image_id(f"{image}:{tag}") == buildah.image_id(buildkit.image), tag
    done, calls = builds.run_build_script(workspace, buildah, tmp_path, "-p", "-r", prefix)
    assert done.returncode == 0, done.stderr
    # a push asks for SBOM and provenance (publish.sbom's default); the shim notes them
    assert {"--sbom=true", "--provenance=mode=max"} <= set(calls[0].argv), calls
    assert registry.tags(loopback_registry, f"cigen-e2e/{project.image_name}") == tags


# Named insertion points (issue 16, docs/overrides.md): instructions at the runner's two points
# land in the image. Built on the BuildKit build above, whose cached layers serve every step
# before the first insertion, so only the runner's last steps run again.
INSERTED = """overrides:
  Dockerfile:
    runner: |
      RUN echo "inserted as $(id -u)" > /etc/cigen-inserted
    runner_end: |
      LABEL cigen.e2e.inserted="runner_end"
"""


@pytest.mark.slow
def test_inserted_instructions_land_in_the_runner_image(
        buildah: Buildah, workspace: Path, buildkit: Built, tmp_path: Path) -> None:
    config = SAMPLE / "cigen.yaml"
    descriptor, plan = load(config, ("dockerfile",), source=config.read_text() + INSERTED)
    project = descriptor.project
    dockerfile = tmp_path / "Dockerfile.buildah"  # outside the context: its digest stays
    dockerfile.write_text(for_buildah(plan.texts()[project.image.dockerfile],
                                      context_digest(workspace)))
    tag, started = "localhost/cigen-e2e/greeter:inserted", time.monotonic()
    built = _timed("BuildKit Dockerfile with insertions", started, Built(
        tag, buildah.build(workspace, dockerfile, tag, project.image.target)))
    assert [s for s in built.steps if "rebar3 as prod tar" in s.instruction and s.cached], \
        built.steps  # the release came from the first build's cache
    assert buildah.label(tag, "cigen.e2e.inserted") == "runner_end"
    with container(buildah, tag) as (_, root):
        assert (root / "etc" / "cigen-inserted").read_text() == "inserted as 0\n"  # as root
    assert_release_answers(buildah, project, tag)  # as the unprivileged user, as before


# The harness's own translations, without building anything.

def test_buildah_bridge_keys_context_binds_and_leaves_the_rest() -> None:
    text = (SAMPLE / "Dockerfile").read_text()
    bridged = for_buildah(text, "d1")
    assert "--mount=target=." not in text  # cigen writes the absolute target buildah 1.28 needs
    assert bridged.count("--mount=target=/app/src") == text.count("--mount=target=/app/src") == 2
    assert bridged.count("# context d1") == 2
    assert "sharing=locked" not in bridged
    upstream = convert(text, published_stage=load_project(SAMPLE / "cigen.yaml").image.target)
    assert "--mount" not in upstream.text
    assert for_buildah(upstream.text, "d1") == upstream.text  # no mounts: nothing to bridge


def test_buildah_bridge_follows_workdir_into_later_stages() -> None:
    text = ("FROM x AS a\nWORKDIR /w\nWORKDIR sub\nFROM a AS b\n"
            "RUN --mount=type=bind,from=a,target=out \\\n    --mount=target=. make\n")
    assert for_buildah(text, "d2").endswith(
        "RUN --mount=type=bind,from=a,target=/w/sub/out \\\n"
        "    --mount=target=/w/sub make # context d2\n")


@pytest.mark.parametrize("argv", [
    ["build", "."],
    ["buildx", "build", "--output", "type=local,dest=x", "."],
    ["buildx", "build", "--push"],
    ["buildx", "build", ".", "other"],
])
def test_docker_shim_refuses_what_it_cannot_map(argv: list[str]) -> None:
    with pytest.raises(Usage):
        parse(argv)


def test_docker_shim_maps_the_script_call() -> None:
    call = parse(["buildx", "build", "--file", "Dockerfile", "--target", "runner",
                  "--tag", "r/i:1", "--tag=r/i:b", "--cache-from", "type=registry,ref=r/i:b",
                  "--cache-to=type=inline", "--push", "."])
    assert (call.file, call.target, call.tags, call.push, call.context) == (
        "Dockerfile", "runner", ["r/i:1", "r/i:b"], True, ".")
    assert call.cache_from == ["type=registry,ref=r/i:b"]
    build, *pushes = commands(call, ["buildah"], Path("/tmp/D"))
    assert build == ["buildah", "build", "--isolation", "chroot", "--layers", "--pull=never",
                     "--file", "/tmp/D", "--target", "runner", "--tag", "r/i:1", "--tag", "r/i:b",
                     "."]
    assert pushes == [["buildah", "push", "--tls-verify=false", t, f"docker://{t}"]
                      for t in ("r/i:1", "r/i:b")]


def test_docker_shim_maps_a_release_build_without_cache() -> None:
    call = parse(["buildx", "build", "--file", "Dockerfile", "--target", "runner",
                  "--tag", "r/i:1.4.2", "--no-cache", "--push", "."])
    build, *_ = commands(call, ["buildah"], Path("/tmp/D"))
    assert build[-6:] == ["--target", "runner", "--no-cache", "--tag", "r/i:1.4.2", "."]
