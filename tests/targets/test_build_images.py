from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cigen.model import Project
from cigen.targets.circleci import buildscript
from tests import oracles
from tests.conftest import FIXTURES
from tests.helpers import load_project

IMAGE = "us.gcr.io/adoptingerlang/service_discovery"
# Records the argv (NUL-separated) and the working directory of every call.
FAKE_DOCKER = """#!/bin/sh
printf '%s\\0' "$@" > "$FAKE_DOCKER_ARGV"
pwd > "$FAKE_DOCKER_CWD"
"""
DOCKER_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
# A push makes SBOM and provenance attestations (publish.sbom defaults on); --load never does.
PUSH = ("--sbom=true", "--provenance=mode=max", "--push")


class Run(NamedTuple):
    code: int
    stdout: str
    stderr: str
    argv: list[str] | None  # what docker got; None: docker was not called
    cwd: str | None


class Repo:
    """A scratch git repo holding the generated script, plus a fake docker on PATH."""

    def __init__(self, root: Path, project: Project) -> None:
        self.root = root
        script = root / "repo" / buildscript.PATH
        script.parent.mkdir(parents=True)
        script.write_text(buildscript.render(project))
        script.chmod(0o755)
        fake = root / "bin" / "docker"
        fake.parent.mkdir()
        fake.write_text(FAKE_DOCKER)
        fake.chmod(0o755)
        self.git("init", "-q", "-b", "main")
        self.git("add", ".")
        self.git("commit", "-q", "-m", "init")

    @property
    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items()
                if k not in ("CIRCLE_BRANCH", "CIRCLE_TAG", "GITHUB_REF_NAME")
                and not k.startswith("GIT_")}
        return {
            **keep,
            "PATH": f"{self.root / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
            "FAKE_DOCKER_ARGV": str(self.root / "argv"), "FAKE_DOCKER_CWD": str(self.root / "cwd"),
        }

    def git(self, *args: str) -> str:
        out = subprocess.run(["git", *args], cwd=self.root / "repo", env=self.env, check=True,
                             capture_output=True, text=True)
        return out.stdout.strip()

    @property
    def sha(self) -> str:
        return self.git("rev-parse", "HEAD")

    def run(self, *args: str, **env: str) -> Run:
        for name in ("argv", "cwd"):
            (self.root / name).unlink(missing_ok=True)
        # Started from another folder: the script must find the project root itself.
        proc = subprocess.run([str(self.root / "repo" / buildscript.PATH), *args],
                              cwd=self.root, env={**self.env, **env}, capture_output=True,
                              text=True, check=False)
        return Run(proc.returncode, proc.stdout, proc.stderr, self._argv(), self._read("cwd"))

    def _argv(self) -> list[str] | None:
        text = self._read("argv")
        return None if text is None else text.split("\0")[:-1]

    def _read(self, name: str) -> str | None:
        path = self.root / name
        return path.read_text().rstrip("\n") if path.exists() else None


_KEEP = object()


def _project(cache_from: str | None | object = _KEEP) -> Project:
    project = load_project(FIXTURES / "service_discovery" / "cigen.yaml", ("circleci",))
    if cache_from is _KEEP:
        return project
    assert cache_from is None or isinstance(cache_from, str)
    return replace(project, publish=replace(project.publish, cache_from=cache_from))


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    if shutil.which("git") is None:
        oracles.missing("git is not installed")
    return Repo(tmp_path, _project())


def _build(sha: str, branch_tag: str | None, *extra: str, cache: tuple[str, ...] = ("master",),
           image: str = IMAGE, target: str = "runner", suffix: str = "") -> list[str]:
    """The buildx call of a branch build: sha and branch tags; registry caches of every stage
    (mode=max) per branch, read from this branch and the cache branch, written on a push."""
    argv = ["buildx", "build", "--file", "Dockerfile", "--target", target,
            "--tag", f"{image}:{sha}{suffix}"]
    if branch_tag is not None:
        cache_ref = f"type=registry,ref={image}:{f'buildcache-{branch_tag}'[:128 - len(suffix)]}"
        argv += ["--tag", f"{image}:{branch_tag[:128 - len(suffix)]}{suffix}",
                 "--cache-from", cache_ref + suffix]
        if "--push" in extra:
            argv += ["--cache-to", f"{cache_ref}{suffix},mode=max"]
    for tag in cache:
        argv += ["--cache-from", f"type=registry,ref={image}:buildcache-{tag}{suffix}"]
    return [*argv, *extra, "."]


def test_on_a_branch_with_a_slash_tags_sha_and_safe_branch(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "feature/x")
    result = repo.run()
    assert result.code == 0, result
    assert result.argv == _build(repo.sha, "feature-x")
    assert result.cwd == str(repo.root / "repo")


def test_detached_head_tags_only_the_sha(repo: Repo) -> None:
    repo.git("checkout", "-q", "--detach")
    result = repo.run("-p")
    assert result.code == 0, result
    assert result.argv == _build(repo.sha, None, *PUSH)


def test_circle_branch_wins_over_the_checkout(repo: Repo) -> None:
    repo.git("checkout", "-q", "--detach")
    result = repo.run("-p", CIRCLE_BRANCH="release/1.0", GITHUB_REF_NAME="other")
    assert result.argv == _build(repo.sha, "release-1.0", *PUSH)


def test_github_ref_name_is_used_without_circle_branch(repo: Repo) -> None:
    result = repo.run(GITHUB_REF_NAME="dependabot/npm/x-1.2")
    assert result.argv == _build(repo.sha, "dependabot-npm-x-1.2")


def test_load_into_local_docker(repo: Repo) -> None:
    result = repo.run("-l")
    assert result.code == 0, result
    assert result.argv == _build(repo.sha, "main", "--load")


def test_target_and_registry_options(repo: Repo) -> None:
    result = repo.run("-p", "-t", "builder", "-r", "localhost:5000/team")
    image = "localhost:5000/team/service_discovery"
    # Another stage never takes the published image's tags, nor its cache.
    assert result.argv == _build(repo.sha, "main", *PUSH, image=image, target="builder",
                                 suffix="-builder")


@pytest.mark.parametrize(("tag", "version"), [("v1.4.2", "1.4.2"), ("release/7", "release-7"),
                                              ("vv2", "v2")])
def test_a_release_is_tagged_with_its_version_and_built_without_cache(
        repo: Repo, tag: str, version: str) -> None:
    result = repo.run("-p", CIRCLE_TAG=tag)
    assert result.code == 0, result
    assert result.argv == ["buildx", "build", "--file", "Dockerfile", "--target", "runner",
                           "--tag", f"{IMAGE}:{version}", "--no-cache", *PUSH, "."]


def test_a_release_of_another_stage_keeps_its_suffix(repo: Repo) -> None:
    result = repo.run("-p", "-t", "builder", CIRCLE_TAG="v1.4.2")
    assert result.argv is not None
    assert f"{IMAGE}:1.4.2-builder" in result.argv


def test_the_cache_branch_itself_gets_one_cache_from(repo: Repo) -> None:
    repo.git("checkout", "-q", "-b", "master")
    result = repo.run("-p")
    assert result.argv == _build(repo.sha, "master", *PUSH, cache=())


def test_no_cache_branch_configured(tmp_path: Path) -> None:
    repo = Repo(tmp_path, _project(cache_from=None))
    result = repo.run("-p")
    assert result.argv == _build(repo.sha, "main", *PUSH, cache=())


@pytest.mark.parametrize(("branch", "tag"), [
    ("..-feat/ü x", "feat----x"),    # leading . and - dropped; é is two bytes, two dashes
    ("a" * 200, "a" * 128),
    ("///", None),                    # nothing tag-worthy left: like a detached HEAD
    ("v1.2_rc", "v1.2_rc"),
])
def test_branch_names_become_valid_tags(repo: Repo, branch: str, tag: str | None) -> None:
    result = repo.run(CIRCLE_BRANCH=branch)
    assert result.argv == _build(repo.sha, tag)


@settings(max_examples=25, deadline=None)
@given(branch=st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0"),
                      min_size=1, max_size=150))
def test_any_branch_name_gives_a_valid_tag_or_none(tmp_path_factory: pytest.TempPathFactory,
                                                   branch: str) -> None:
    repo = _shared_repo(tmp_path_factory)
    result = repo.run(CIRCLE_BRANCH=branch)
    assert result.code == 0, result
    assert result.argv is not None
    tags = [a.rsplit(":", 1)[1] for a in result.argv if a.startswith(f"{IMAGE}:")]
    assert tags[0] == repo.sha
    caches = [a.split(",")[1].rsplit(":", 1)[1] for a in result.argv if a.startswith("type=")]
    assert all(DOCKER_TAG.fullmatch(tag) for tag in tags[1:] + caches), (tags, caches)


_REPOS: dict[int, Repo] = {}


def _shared_repo(factory: pytest.TempPathFactory) -> Repo:
    # Hypothesis reruns the test body; one repo per session keeps it fast.
    key = id(factory)
    if key not in _REPOS:
        _REPOS[key] = Repo(factory.mktemp("hyp"), _project())
    return _REPOS[key]


def test_push_and_load_together_is_a_usage_error(repo: Repo) -> None:
    result = repo.run("-p", "-l")
    assert result.code == 2
    assert result.stderr.startswith("build_images.sh: -p (push to the registry) and -l"
                                    " (load into docker) cannot be combined\nUsage: ")
    assert result.argv is None


def test_help_prints_usage_with_the_descriptor_defaults(repo: Repo) -> None:
    result = repo.run("-h")
    assert (result.code, result.stderr, result.argv) == (0, "", None)
    assert result.stdout.startswith("Usage: ci/build_images.sh [-p | -l] [-t TARGET]")
    assert "(default: runner)" in result.stdout
    assert "(default: us.gcr.io/adoptingerlang)" in result.stdout


@pytest.mark.parametrize(("args", "error"), [
    (["-x"], "unknown option -x"),
    (["-t"], "option -t needs an argument"),
    (["-p", "-r"], "option -r needs an argument"),
    (["-p", "extra"], "unexpected argument: extra"),
])
def test_bad_usage_exits_2_with_usage_on_stderr(repo: Repo, args: list[str], error: str) -> None:
    result = repo.run(*args)
    assert result.code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"build_images.sh: {error}\nUsage: ")
    assert result.argv is None


def test_descriptor_values_are_shell_quoted(tmp_path: Path) -> None:
    hostile = "x'; touch pwned; echo '$(touch pwned2)"
    project = _project(cache_from=hostile)
    project = replace(project, image=replace(project.image, dockerfile="my file"))
    repo = Repo(tmp_path, project)  # (shellcheck rightly notes the literal $( in quotes)
    result = repo.run("-p")
    assert result.code == 0, result
    assert result.argv is not None
    assert result.argv[:3] == ["buildx", "build", "--file"]
    assert result.argv[3] == "my file"
    assert f"type=registry,ref={IMAGE}:buildcache-x---touch-pwned--echo----touch-pwned2-" \
        in result.argv
    assert not list(tmp_path.rglob("pwned*"))
