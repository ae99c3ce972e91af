"""What `cigen init` learns: a value, where a file says it, and the conflicts between files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cigen.core import printable

_SAID = 90  # the most of a file's words a note quotes


@dataclass(frozen=True)
class Fact:
    """One inferred value and where it came from; `source` empty: nothing said, a default."""

    value: Any
    source: str = ""

    def __post_init__(self) -> None:
        # The source quotes the repository's files, and becomes a YAML comment and a line of
        # the report: a line break in it would start a key of its own, an escape sequence
        # would drive the terminal. Both are written as escapes instead.
        object.__setattr__(self, "source", printable(self.source))


@dataclass(frozen=True)
class Seen:
    """A value one file states: where (`file:line` when the line is known) and in which words."""

    value: Any
    where: str
    said: str = ""

    def __post_init__(self) -> None:
        said = printable(" ".join(self.said.split()))
        if len(said) > _SAID:
            said = said[:_SAID - 3] + "..."
        object.__setattr__(self, "where", printable(self.where))
        object.__setattr__(self, "said", said)

    @property
    def note(self) -> str:
        return f"{self.where} ({self.said})" if self.said else self.where

    def fact(self) -> Fact:
        return Fact(self.value, self.note)


@dataclass(frozen=True)
class Conflict:
    """Two files that disagree about one key: the value init wrote, the other, and the rule."""

    key: str
    chosen: Seen
    other: Seen
    rule: str

    def __str__(self) -> str:
        return printable(f"{self.key}: {_shown(self.chosen.value)} from {self.chosen.note}, not "
                         f"{_shown(self.other.value)} from {self.other.note}: {self.rule}")


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple | list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


@dataclass
class Said:
    """What one kind of file (the GitHub workflows, the CircleCI config...) says, each value
    with its own file and line, in the order the files say it."""

    otp: list[Seen] = field(default_factory=list)
    rebar3: list[Seen] = field(default_factory=list)
    os: list[Seen] = field(default_factory=list)
    checks: list[Seen] = field(default_factory=list)  # value: a check name
    pushes: list[Seen] = field(default_factory=list)  # value: an image reference it pushes
    branches: list[Seen] = field(default_factory=list)  # value: a branch name or pattern
    env: list[Seen] = field(default_factory=list)  # value: (name, value) of the check jobs
    services: list[Any] = field(default_factory=list)  # services.Declared
    setup: list[tuple[str, dict[str, Any], Seen]] = field(default_factory=list)  # check, step
    compose: list[str] = field(default_factory=list)  # compose files it starts
    make: list[Seen] = field(default_factory=list)  # value: a Makefile target it runs
    notes: list[str] = field(default_factory=list)  # what was seen and not carried over


def every(said: list[Said], key: str) -> list[Any]:
    """One kind of value from every file, in their order."""
    return [item for each in said for item in getattr(each, key)]
