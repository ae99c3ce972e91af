from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

from cigen.core import MARKER, Output, Plan, Problem
from cigen.model import Project

T = TypeVar("T")


class Target(Protocol):
    """One output format. `plan` is pure: the model in, the files to write (or problems) out."""

    def plan(self, project: Project) -> Plan: ...


def planned(found: Iterable[Problem], outputs: Callable[[], Iterable[Output]]) -> Plan:
    """The outputs, or the problems that keep a target from rendering (then nothing renders)."""
    problems = tuple(found)
    return Plan(problems=problems) if problems else Plan(tuple(outputs()))


def per_project(compute: Callable[[Project], T]) -> Callable[[Project], T]:
    """Remember the last result: what two targets both need is computed once per build.

    The model is immutable, so the result for the same Project object is always the same.
    """
    last: list[tuple[Project, T]] = []

    def cached(project: Project) -> T:
        if not last or last[0][0] is not project:
            last[:] = [(project, compute(project))]
        return last[0][1]

    return cached


def banner(project: Project, comment: str = "#") -> str:
    """The first line(s) of every generated file: where it comes from and how to regenerate it."""
    return f"{comment} {origin(project)}\n"


def origin(project: Project) -> str:
    source = project.source
    command = "cigen render" if source == "cigen.yaml" else f"cigen render -c {source}"
    return f"{MARKER} from {source}; do not edit. Edit {source} and run: {command}"
