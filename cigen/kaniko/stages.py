from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

from cigen.kaniko.mounts import CopyKey

_POSIX_SHELLS = frozenset({"sh", "bash", "ash", "dash", "ksh", "mksh", "zsh", "busybox"})


class From(NamedTuple):
    line: int
    image: str
    name: str | None
    parent: int | None  # index of the earlier stage this one builds on


@dataclass(frozen=True)
class Stage:
    """What the converter knows about the stage at the current instruction."""

    workdir: str | None = None  # None: unknown (it comes from the base image)
    user: str | None = None
    posix_shell: bool = True
    default_shell: bool = True  # the SHELL is /bin/sh -c
    scratch: bool = False
    copies: frozenset[CopyKey] = frozenset()


def parse_froms(values: Sequence[tuple[int, tuple[str, ...]]]) -> list[From]:
    froms: list[From] = []
    for line, value in values:
        image = value[0] if value else ""
        name = value[2] if len(value) == 3 and value[1].lower() == "as" else None
        froms.append(From(line, image, name, _index_of(froms, image)))
    return froms


def _index_of(froms: list[From], image: str) -> int | None:
    for index, earlier in enumerate(froms):
        if earlier.name is not None and earlier.name.lower() == image.lower():
            return index
    return None


def is_external(stage: From) -> bool:
    return stage.parent is None and stage.image.lower() != "scratch" and "$" not in stage.image


def find_stage(froms: Sequence[From], name: str) -> int | None:
    for index, stage in enumerate(froms):
        if stage.name is not None and stage.name.lower() == name.lower():
            return index
    return None


def plan_base_args(froms: Sequence[From], published: int, taken: set[str]) -> dict[int, str]:
    """Name the ARG that replaces each external base image, keyed by stage index."""
    by_image: dict[str, str] = {}
    names: dict[int, str] = {}
    for index, wanted in _roles(froms, published):
        image = froms[index].image
        if not is_external(froms[index]) or index in names:
            continue
        if image not in by_image:
            by_image[image] = _unique(wanted, taken)
            taken.add(by_image[image])
        names[index] = by_image[image]
    return names


def _roles(froms: Sequence[From], published: int) -> list[tuple[int, str]]:
    parents = [stage.parent for stage in froms if stage.parent is not None]
    base = min(parents) if parents else 0
    roles = [(base, "BASE_IMAGE"), (published, "RUNNER_IMAGE")]
    return roles + [(index, _arg_name(stage, index)) for index, stage in enumerate(froms)]


def _arg_name(stage: From, index: int) -> str:
    name = re.sub(r"[^A-Za-z0-9]", "_", stage.name or f"stage{index}").upper()
    return f"STAGE_{name}_IMAGE" if name[0].isdigit() else f"{name}_IMAGE"


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}_{number}", number + 1
    return candidate


def enter(parent: Stage | None, image: str) -> Stage:
    if parent is not None:
        return parent
    return Stage(
        workdir="/" if image.lower() == "scratch" else None, scratch=image.lower() == "scratch"
    )


def workdir(stage: Stage, path: str) -> Stage:
    if "$" in path:
        return replace(stage, workdir=None)
    if path.startswith("/"):
        return replace(stage, workdir=posixpath.normpath(path))
    if stage.workdir is None:
        return stage
    return replace(stage, workdir=posixpath.normpath(posixpath.join(stage.workdir, path)))


def shell(stage: Stage, argv: Sequence[str]) -> Stage:
    program = posixpath.basename(argv[0]) if argv else ""
    return replace(stage, posix_shell=program in _POSIX_SHELLS,
                   default_shell=list(argv) == ["/bin/sh", "-c"])


def user(stage: Stage, value: str) -> Stage:
    return replace(stage, user=None if value.split(":")[0] in ("root", "0") else value)
