from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:  # the CLI reads TARGETS at start-up: keep this package cheap to import
    from cigen.model import Project
    from cigen.schema import Problem
    from cigen.targets.base import Files, Target

# Target name -> module; modules are imported only when a target is used.
TARGETS = {
    "circleci": "cigen.targets.circleci",
    "github": "cigen.targets.github",
    "cloudbuild": "cigen.targets.cloudbuild",
    "dockerfile": "cigen.targets.dockerfile",
}


def load(name: str) -> Target:
    return cast("Target", importlib.import_module(TARGETS[name]))


def selected(project: Project, names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The targets a command works on: those named, or the descriptor's (+ dockerfile)."""
    if names:
        return tuple(dict.fromkeys(names))
    extra = ("dockerfile",) if project.image.generate else ()
    return (*project.targets, *extra)


def problems(project: Project, names: tuple[str, ...]) -> list[Problem]:
    """Descriptor problems only a target can see (e.g. Cloud Build substitutions)."""
    return [p for name in names for p in load(name).problems(project)]


def render(project: Project, names: tuple[str, ...]) -> Files:
    from cigen.errors import RenderError

    files: dict[str, str] = {}
    owner: dict[str, str] = {}
    for name in names:
        for path, text in load(name).render(project).items():
            if path in files and files[path] != text:
                raise RenderError(
                    f"{path}: written by both {owner[path]} and {name}; change one path"
                )
            files[path], owner[path] = text, name
    return dict(sorted(files.items()))
