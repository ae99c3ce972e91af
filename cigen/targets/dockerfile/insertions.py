"""The descriptor's own Dockerfile instructions at named points (`overrides.<image.dockerfile>`,
checked by cigen/descriptor/insertions.py), and the Kaniko conversion's problems with them,
located at their key instead of at a line of a file cigen writes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from cigen.core import Problem
from cigen.descriptor.insertions import block
from cigen.model import Project


class Inserted(str):
    """Instructions from the descriptor, as the Dockerfile holds them, and their point."""

    point: str

    def __new__(cls, text: str, point: str) -> Inserted:
        made = super().__new__(cls, text)
        made.point = point
        return made


def at(project: Project, point: str) -> list[str]:
    """The instructions to write at `point`: none, or one block."""
    text = project.image.insertions.get(point)
    return [Inserted(block(text), point)] if text else []


def spans(head: str, stages: Iterable[Sequence[str]]) -> dict[str, range]:
    """The lines each point's instructions are on, in `head` + the stages joined by blank lines."""
    found, line = {}, 1 + head.count("\n")
    for index, stage in enumerate(stages):
        line += 1 if index else 0
        for chunk in stage:
            count = chunk.count("\n")
            if isinstance(chunk, Inserted):
                found[chunk.point] = range(line, line + count)
            line += count
    return found


def located(project: Project, lines: dict[str, range], message: str) -> Problem:
    """A problem of the Kaniko conversion (`<dockerfile>:<line>: why`): at the insertion point
    that holds the line, or else at image.dockerfile."""
    image = project.image
    found = re.fullmatch(rf"{re.escape(image.dockerfile)}:(\d+): (.*)", message, re.DOTALL)
    line = int(found.group(1)) if found else 0
    point = next((p for p, span in lines.items() if line in span), None)
    if found is None or point is None:
        return Problem(("image", "dockerfile"), message)
    text = image.insertions[point]
    where = f"line {line - lines[point].start + 1}: " if "\n" in text.rstrip() else ""
    return Problem(("overrides", image.insertions_key, point),
                   f"{where}cannot go into the Kaniko variant ({image.kaniko_dockerfile}): "
                   f"{found.group(2)}; or build with cloudbuild.builder: buildx")
