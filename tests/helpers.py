from __future__ import annotations

from pathlib import Path

from cigen.core import Output, Plan
from cigen.model import Project
from cigen.plan import build, load


def load_project(config: Path, names: tuple[str, ...] = ()) -> Project:
    """The model of a descriptor whose named targets (none: its own) build without problems."""
    return load(config, names)[0].project


def built(project: Project, *names: str) -> Plan:
    plan = build(project, names)
    assert not plan.problems, plan.problems
    return plan


def texts(project: Project, *names: str) -> dict[str, str]:
    """Path -> text of what the named targets (none: the descriptor's) render."""
    return built(project, *names).texts()


def outputs(files: dict[str, str]) -> list[Output]:
    """Outputs from path -> text, as a target would plan them (scripts are executable)."""
    return [Output(p, text, "test", executable=p.endswith(".sh")) for p, text in files.items()]
