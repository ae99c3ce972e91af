from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:  # the CLI reads TARGETS at start-up: keep this package cheap to import
    from cigen.model import Project
    from cigen.targets.base import Target

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
    extra = ("dockerfile",) if project.image.generate and not project.library else ()
    return (*project.targets, *extra)
