from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from cigen.core import Problem
from cigen.kaniko.executor import UPSTREAM, Executor
from cigen.kaniko.source import (
    Edit,
    Note,
    Parts,
    problem,
    raw_text,
    rebuild,
    split_instruction,
)
from cigen.kaniko.stages import From


class Heredoc(Protocol):
    name: str
    content: str


class Command(Protocol):
    """The fields of dockerfile.Command the converter reads."""

    @property
    def cmd(self) -> str: ...
    @property
    def sub_cmd(self) -> str | None: ...
    @property
    def json(self) -> bool: ...
    @property
    def original(self) -> str: ...
    @property
    def start_line(self) -> int: ...
    @property
    def end_line(self) -> int: ...
    @property
    def flags(self) -> tuple[str, ...]: ...
    @property
    def value(self) -> tuple[str, ...]: ...
    @property
    def heredocs(self) -> tuple[Heredoc, ...]: ...


@dataclass
class Context:
    """The source being converted and what the conversion has found so far."""

    lines: list[str]
    newline: str
    escape: str
    froms: list[From]
    arg_names: dict[int, str]
    apt_mounts: bool  # an apt cache mount is dropped: the docker-clean removal goes too
    executor: Executor = UPSTREAM
    edits: list[Edit] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def parts(self, cmd: Command) -> Parts:
        raw = raw_text(self.lines, cmd.start_line, cmd.end_line, self.newline)
        return split_instruction(raw, self.escape)

    def rebuild(self, parts: Parts, flags: list[str], body: str) -> str:
        return rebuild(parts, flags, body, self.escape, self.newline)

    def replace(self, cmd: Command, text: str) -> None:
        self.edits.append(Edit(cmd.start_line, cmd.end_line, text))

    def note(self, cmd: Command, text: str) -> None:
        self.notes.append(Note(cmd.start_line, text))

    def problem(self, cmd: Command, what: str, fix: str) -> None:
        self.problems.append(problem(cmd.start_line, what, fix))


def flag_name(flag: str) -> tuple[str, str]:
    name, _, value = flag.partition("=")
    return name.lower(), value
