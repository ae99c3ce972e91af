from __future__ import annotations

import posixpath

from cigen.model import Project
from cigen.targets.base import banner

PATH = ".dockerignore"  # at the context root: the rebar3 project's folder (directory)

_BUILD = ("_build", "_checkouts", ".rebar3", "erl_crash.dump", "rebar3.crashdump")
_EDITOR = ("**/*.swp", "**/.DS_Store", ".idea", ".vscode")
# CI configuration never goes into the image. ci/ holds the buildx script and the Kaniko
# variant; Kaniko reads its --dockerfile directly and applies .dockerignore only to COPY.
_CI_DIRS = (".circleci", ".github", "ci")
# Where keys for private dependencies live on a developer's machine, should one be in the folder.
_CREDENTIALS = ("**/hex.config", "**/.ssh", "**/id_rsa", "**/id_ecdsa", "**/id_ed25519")


def text(project: Project) -> str:
    """The .dockerignore: build output, editor files and CI files stay out of the context.

    Leaving out the Dockerfile and the descriptor too means editing them does not change the
    bind-mounted context, so it does not invalidate the compile layers.
    """
    sections = [
        ("rebar3 build output and local state", _BUILD),
        ("editor and OS files", _EDITOR),
        ("CI and build files the image does not need", _ci_files(project)),
        _git(project),
    ]
    if project.private:
        sections.append(("local credentials: private dependencies come in as build secrets",
                         _CREDENTIALS))
    body = "\n".join(f"# {title}\n" + "".join(f"{p}\n" for p in lines) for title, lines in sections)
    return banner(project) + "\n" + body


def _ci_files(project: Project) -> tuple[str, ...]:
    files = (
        project.image.dockerfile,
        project.image.kaniko_dockerfile,
        project.cloudbuild.file,
        project.github.workflow_file,
        project.source,
    )
    # From the context root; a file outside the context (directory) is not in it anyway.
    inside = (rel for f in files if (rel := _in_context(project, f)) is not None)
    outside = (f for f in inside if not f.startswith(tuple(f"{d}/" for d in _CI_DIRS)))
    return (*_CI_DIRS, *dict.fromkeys(outside))


def _in_context(project: Project, path: str) -> str | None:
    if project.directory == ".":
        return path
    rel = posixpath.relpath(posixpath.normpath(path), project.directory)
    return None if rel == ".." or rel.startswith("../") else rel


def _git(project: Project) -> tuple[str, tuple[str, ...]]:
    # Kept by default: rebar3 takes the release version from git ({git, long}) in the build.
    if project.image.keep_git:
        return ("git history stays: the release version comes from git (image.keep_git)", ())
    return ("git history (image.keep_git is false)", (".git",))
