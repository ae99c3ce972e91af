from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cigen.yamlio import load_plain
from tests.conftest import FIXTURES, PROJECTS, REPO
from tests.helpers import load_project, texts
from tests.oracles import run, tool

MANIFEST = REPO / ".pre-commit-hooks.yaml"
(HOOK,) = load_plain(MANIFEST.read_text(encoding="utf-8"))


def test_the_manifest_is_valid_for_pre_commit() -> None:
    run(tool("pre-commit"), "validate-manifest", MANIFEST)


def test_the_hook_runs_cigen_check_once_per_commit() -> None:
    assert HOOK["id"] == "cigen-check"
    assert HOOK["entry"] == "cigen check"
    assert HOOK["language"] == "python"
    assert HOOK["pass_filenames"] is False


@pytest.mark.parametrize("path", [
    "cigen.yaml", "service/cigen.yaml", "Dockerfile", "docker/Dockerfile", "Dockerfile.dev",
    ".dockerignore", ".gcloudignore", ".circleci/config.yml", ".github/workflows/ci.yml",
    "ci/build_images.sh", "ci/Dockerfile.cb", "cloudbuild.yaml", "cloudbuild.yml",
    "rebar.config", "rebar.lock", "services/api/rebar.lock", "config/relx.config",
    ".github/cigen-action-pins.json", ".github/workflows/cigen-refresh.yml",
])
def test_the_hook_runs_for(path: str) -> None:
    assert re.search(HOOK["files"], path)


@pytest.mark.parametrize("path", [
    "src/app.erl", "rebar.config.script", "old-rebar.lock", "README.md",
    ".github/dependabot.yml", ".github/other-pins.json", "docs/ci.md", "config/sys.config",
    "my-cigen.yaml.bak",
])
def test_the_hook_skips(path: str) -> None:
    assert not re.search(HOOK["files"], path)


@pytest.mark.parametrize("name", PROJECTS)
def test_the_hook_covers_every_rendered_path(name: str) -> None:
    project = load_project(FIXTURES / name / "cigen.yaml")
    outputs = texts(project)
    assert [p for p in outputs if not re.search(HOOK["files"], p)] == []


def git(cwd: Path, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    return run(tool("git"), *args, cwd=cwd, ok=ok, env=_git_env(cwd))


def _git_env(cwd: Path) -> dict[str, str]:
    who = {"NAME": "cigen tests", "EMAIL": "tests@cigen.invalid"}
    env = {f"GIT_{role}_{k}": v for role in ("AUTHOR", "COMMITTER") for k, v in who.items()}
    return {**env, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
            "PRE_COMMIT_HOME": str(cwd.parent / "pre-commit-home")}


def hook_repo(dest: Path) -> str:
    """A git repository holding this working tree's package and hook manifest; its commit id."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "cigen", dest / "cigen", symlinks=True, ignore=ignore)
    shutil.copytree(REPO / "schemas", dest / "schemas")
    for name in ("pyproject.toml", ".pre-commit-hooks.yaml", "README.md"):
        if (REPO / name).exists():
            shutil.copy(REPO / name, dest / name)
        else:
            (dest / name).write_text("cigen\n")
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "cigen hooks")
    return git(dest, "rev-parse", "HEAD").stdout.strip()


def project_repo(dest: Path, hooks: Path, rev: str) -> None:
    dest.mkdir()
    shutil.copy(FIXTURES / "minimal" / "cigen.yaml", dest)
    subprocess.run([sys.executable, "-m", "cigen", "render"], cwd=dest, check=True,
                   capture_output=True)
    (dest / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks}\n    rev: {rev}\n    hooks:\n      - id: cigen-check\n"
    )
    git(dest, "init", "-q")
    run(tool("pre-commit"), "install", cwd=dest, env=_git_env(dest))


def test_a_real_commit_passes_when_current_and_fails_with_the_diff_when_edited(
    tmp_path: Path,
) -> None:
    hooks, project = tmp_path / "hooks", tmp_path / "project"
    project_repo(project, hooks, hook_repo(hooks))
    git(project, "add", "-A")
    first = git(project, "commit", "-m", "outputs are current")
    assert re.search(r"cigen check\.+Passed", first.stdout + first.stderr), first

    (project / "notes.txt").write_text("not a cigen input\n")
    git(project, "add", "notes.txt")
    unrelated = git(project, "commit", "-m", "unrelated")
    assert re.search(r"cigen check\.+\(no files to check\)Skipped", unrelated.stderr), unrelated

    with open(project / ".circleci" / "config.yml", "a", encoding="utf-8") as f:
        f.write("# a hand edit\n")
    git(project, "add", "-A")
    edited = git(project, "commit", "-m", "hand edit", ok=(1,))
    out = edited.stdout + edited.stderr
    assert re.search(r"cigen check\.+Failed", out), out
    assert "- hook id: cigen-check" in out
    assert "--- .circleci/config.yml (on disk)" in out
    assert "\n-# a hand edit\n" in out
    assert "run: cigen render" in out
    assert "hand edit" not in git(project, "log", "--format=%s").stdout
