"""`cigen init` on a rebar3 project in a subfolder of its git repository.

GitHub and CircleCI read their files only at the repository's root, so the descriptor goes
there, with `directory` naming the project's folder (docs/targets.md, "A project in a
subfolder"); init never writes CI files into the subfolder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cigen.files import git_root

ALL_TARGETS = ("circleci", "github", "cloudbuild")
_DIRECTORY = "the rebar3 project's folder: CI runs rebar3 and builds the image there"
_NO_CIRCLECI = ("circleci left out: the rebar3 orb's CircleCI jobs run rebar3 at the "
                "repository's root only (docs/targets.md)")
_NO_GIT = ("the build context (directory) holds no .git: it is at the repository's root; "
           "a release versioned from git would be 0.0.0")


def placement(project: Path) -> tuple[Path, str]:
    """Where the descriptor goes and the project's folder from there: the root of the git
    repository `project` is in, else `project` itself (".")."""
    top = git_root(project)
    here = project.resolve()
    if top is None or top == here:
        return project, "."
    return top, here.relative_to(top).as_posix()


def adapt(doc: Any, folder: str, library: bool) -> None:
    """The descriptor `doc` (a CommentedMap) for a project in `folder` of its repository."""
    from ruamel.yaml.comments import CommentedMap

    doc.insert(list(doc).index("name") + 1, "directory", folder)
    doc.yaml_add_eol_comment(_DIRECTORY, "directory", column=len(f"directory: {folder}") + 2)
    targets = [t for t in doc.get("targets", ALL_TARGETS) if t != "circleci"]
    if targets != list(doc.get("targets", ALL_TARGETS)):
        if "targets" not in doc:
            doc.insert(list(doc).index("directory") + 1, "targets", targets)
        doc["targets"] = targets
        doc.yaml_set_comment_before_after_key("targets", before=_NO_CIRCLECI)
    if not library:
        if not isinstance(doc.get("image"), dict):
            doc["image"] = CommentedMap()
        doc["image"]["keep_git"] = False
        doc["image"].yaml_add_eol_comment(_NO_GIT, "keep_git", column=len("  keep_git: false") + 2)
