from __future__ import annotations

from cigen.model import Project
from cigen.schema import Problem
from cigen.targets.base import Files


def render(project: Project) -> Files:
    return {}


def problems(project: Project) -> list[Problem]:
    return []
