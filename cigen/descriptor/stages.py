"""The published stage of a user's own Dockerfile (image.generate: false).

image.target names it when given; else it is the stage named runner, else the last stage, which
BuildKit, buildx and Kaniko all build when given no target. A last stage without a name can be
published only that way: its target is "" and the renderers pass no --target.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cigen.core import Problem
from cigen.errors import ConversionError
from cigen.model import Image

if TYPE_CHECKING:  # the Dockerfile parser loads only when a user's Dockerfile is read
    from cigen.kaniko.stages import From

DEFAULT = "runner"


def published(image: Image, text: str, shown: str) -> str | list[Problem]:
    """The stage to publish from `text` (the file `shown`), or the problems that stop it."""
    from cigen.kaniko import parsing, stages

    try:
        commands = parsing.parse(text, shown)
    except ConversionError as e:
        return [Problem(("image", "dockerfile"), line) for line in e.problems]
    froms = stages.parse_froms([(c.start_line, c.value) for c in commands
                                if c.cmd.upper() == "FROM"])
    if not froms:
        return [Problem(("image", "dockerfile"), f"{shown}: has no FROM, so no stage to publish")]
    wanted = DEFAULT if "target" in image.defaulted else image.target
    index = stages.find_stage(froms, wanted)
    if index is not None:
        return froms[index].name or wanted
    if "target" not in image.defaulted:
        return [Problem(("image", "target"), f'"{wanted}" is not a stage of {shown}: '
                        f"{_listed(froms)}")]
    return froms[-1].name or ""


def _listed(froms: list[From]) -> str:
    named = [f"{f.name} (line {f.line})" for f in froms if f.name]
    if not named:
        return f"its stages have no names; name one: FROM {froms[-1].image} AS <name>"
    return "its stages are " + ", ".join(named)
