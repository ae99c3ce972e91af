"""What the repository's Dockerfile says: the builder's OTP release and OS, the runner's OS,
the profile the release is built with."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cigen.init import images
from cigen.init.facts import Conflict, Seen
from cigen.init.yamlfiles import read_text

FILE = "Dockerfile"
_ARG = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
# apk add/update/upgrade: Alpine; apt or apt-get install/update/upgrade: Debian and Ubuntu.
_MANAGERS = (("alpine", re.compile(r"(?<![\w-])apk\s+(?:--?[\w-]+\s+)*(?:add|update|upgrade)\b")),
             ("debian", re.compile(r"(?<![\w-])apt(?:-get)?\s+(?:-\S+\s+)*"
                                   r"(?:install|update|upgrade)\b")))
_RELEASE = re.compile(r"\brebar3\s+as\s+([a-z][a-z0-9_]*)\s+(?:tar|release)\b")


@dataclass(frozen=True)
class Stage:
    name: str | None
    image: str  # as FROM names it, global ARG defaults put in
    line: int
    parent: int | None  # the earlier stage it is built on
    commands: tuple[tuple[int, str], ...]  # (line, text) of its RUN instructions

    def os_by_commands(self) -> Seen | None:
        for line, text in self.commands:
            for family, pattern in _MANAGERS:
                found = pattern.search(text)
                if found:
                    return Seen(family, f"{FILE}:{line}", f"RUN {found.group()}")
        return None


@dataclass(frozen=True)
class Dockerfile:
    stages: tuple[Stage, ...]

    def builder(self) -> Stage | None:
        """The stage named builder; else the first on an erlang image; else the first."""
        named = [s for s in self.stages if (s.name or "").lower() == "builder"]
        erlang = [s for s in self.stages if s.parent is None and images.is_erlang(s.image)]
        found = named or erlang or list(self.stages)
        return found[0] if found else None

    def runner(self) -> Stage | None:
        named = [s for s in self.stages if (s.name or "").lower() == "runner"]
        found = named or list(self.stages)
        return found[-1] if found else None

    def base(self, stage: Stage) -> Stage:
        """The stage on an outside image that `stage` is built on (itself when it is one)."""
        seen = 0
        while stage.parent is not None and seen < len(self.stages):
            stage, seen = self.stages[stage.parent], seen + 1
        return stage

    def chain(self, stage: Stage) -> list[Stage]:
        chain = [stage]
        while chain[-1].parent is not None and len(chain) <= len(self.stages):
            chain.append(self.stages[chain[-1].parent])
        return chain

    def profile(self) -> Seen | None:
        for stage in self.stages:
            for line, text in stage.commands:
                found = _RELEASE.search(text)
                if found:
                    return Seen(found.group(1), f"{FILE}:{line}", found.group())
        return None


def read(root: Path, warnings: list[str]) -> Dockerfile | None:
    """The Dockerfile beside rebar.config, parsed as BuildKit parses it; None when there is
    none or it cannot be parsed (a warning)."""
    from cigen.errors import ConversionError
    from cigen.kaniko.parsing import parse

    text = read_text(root, FILE)
    if text is None:
        return None
    try:
        commands = parse(text, FILE)
    except ConversionError as error:
        warnings.append(f"{error.problems[0]}; nothing was read from it")
        return None
    return Dockerfile(tuple(_stages(commands)))


def _stages(commands: Any) -> list[Stage]:
    from cigen.kaniko.stages import parse_froms

    args: dict[str, str] = {}
    runs: list[list[tuple[int, str]]] = []
    froms: list[tuple[int, tuple[str, ...]]] = []
    for command in commands:
        kind = (command.cmd or "").upper()
        if kind == "ARG" and not froms:  # a global ARG: its default names base images
            for value in command.value:
                key, equals, default = value.partition("=")
                if equals:
                    args[key] = default.strip("\"'")
        elif kind == "FROM":
            froms.append((command.start_line, tuple(command.value)))
            runs.append([])
        elif kind == "RUN" and runs:
            runs[-1].append((command.start_line, " ".join(command.value)))
    return [Stage(f.name, _substitute(f.image, args), f.line, f.parent, tuple(run))
            for f, run in zip(parse_froms(froms), runs, strict=True)]


def _substitute(image: str, args: dict[str, str]) -> str:
    return _ARG.sub(lambda m: args.get(m.group(1) or m.group(2), m.group()), image)


def otp(docker: Dockerfile | None) -> list[Seen]:
    """The OTP release of the builder's erlang image."""
    builder = docker.builder() if docker else None
    base = docker.base(builder) if docker and builder else None
    if base is None or not images.otp(base.image):
        return []
    return [Seen(images.otp(base.image), f"{FILE}:{base.line}", f"FROM {base.image}")]


def os(docker: Dockerfile | None, conflicts: list[Conflict]) -> list[Seen]:
    """The builder's OS: the package manager its stages run, then its image's tag. A runner
    stage on the other OS is a conflict of its own: the release runs on its builder's OS."""
    builder = docker.builder() if docker else None
    if docker is None or builder is None:
        return []
    found = _stage_os(docker, builder)
    runner = docker.runner()
    if found and runner is not None and docker.base(runner) is not docker.base(builder):
        other = _stage_os(docker, runner)
        if other and other[0].value != found[0].value:
            conflicts.append(Conflict("image.os", found[0], other[0], "the runner stage must be "
                                      "on the builder's OS: the release carries its ERTS"))
    return found


def _stage_os(docker: Dockerfile, stage: Stage) -> list[Seen]:
    by_commands = [seen for s in docker.chain(stage) if (seen := s.os_by_commands())]
    base = docker.base(stage)
    family = images.os_family(base.image)
    by_tag = [Seen(family, f"{FILE}:{base.line}", f"FROM {base.image}")] if family else []
    return by_commands[:1] + by_tag
