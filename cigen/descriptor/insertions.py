"""Named insertion points of the generated Dockerfile: `overrides.<image.dockerfile>` maps a
point to Dockerfile instructions. Each text must read as instructions that leave cigen's stages
as they are; checked as the descriptor is read, so that every command reports it."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping
from typing import Any

from cigen.core import MARKER, KeyPath, Problem, normalise

FINAL = "runner_end"  # the one point no instruction of cigen's follows
BUILDER_POINTS = ("builder", "builder_end")  # the stages after builder are built FROM it
# What an instruction does to cigen's instructions after it, at every point but FINAL, and
# what to write instead in the builder stages (in the runner: put it at FINAL).
_CHANGES_CIGENS = {
    "WORKDIR": ("moves where the instructions cigen writes after it run",
                "use absolute paths instead"),
    "USER": ("changes the user the instructions cigen writes after it run as (they need root)",
             "switch users inside the RUN instead"),
    "SHELL": ("changes the shell of the RUN instructions cigen writes after it",
              "name the shell in the RUN instead"),
    "ENTRYPOINT": ("would be replaced by cigen's own at the end of the runner stage", None),
    "CMD": ("would be replaced by cigen's own at the end of the runner stage", None),
}
# BuildKit refuses these as ONBUILD triggers (moby/buildkit frontend/dockerfile/instructions/
# parse.go, parseOnBuild).
_NO_TRIGGER = ("FROM", "ONBUILD", "MAINTAINER")
# Closes the text when it is checked, as the next line cigen writes closes it in the file: an
# instruction whose last line continues (\) swallows it.
_SENTINEL = "LABEL cigen.insertion.end=1"
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")  # a tab and a line break are text
_LOCATED = re.compile(r":(\d+): (.*)", re.DOTALL)


def block(text: str) -> str:
    """The text as the Dockerfile holds it: trailing blank lines dropped, one final newline."""
    return text.rstrip() + "\n"


def problems(data: Mapping[str, Any]) -> Iterator[Problem]:
    """Every problem with the descriptor's insertions; `data` is schema-valid."""
    from cigen.schema import static_default

    image = data.get("image", {})
    # the paths render writes, from the descriptor's folder, as every overrides key is written
    folder = data.get("directory", ".")
    folder = folder if isinstance(folder, str) else "."  # else the schema said why
    dockerfile = normalise(posixpath.join(
        folder, image.get("dockerfile", static_default("image.dockerfile"))))
    kaniko = posixpath.join(
        folder, image.get("kaniko_dockerfile", static_default("image.kaniko_dockerfile")))
    for key, points in data.get("overrides", {}).items():
        if not isinstance(points, Mapping):
            continue  # JSON Patch operations: cigen/overrides.py
        at = ("overrides", key)
        if normalise(key) == normalise(kaniko):
            yield Problem(at, f"is the Kaniko variant, which cigen converts from {dockerfile}: "
                          f"insert under overrides.{dockerfile}, and the instructions reach both",
                          at_key=True)
        elif normalise(key) != dockerfile:
            yield Problem(at, f"is not image.dockerfile ({dockerfile}): insertion points are for "
                          "the Dockerfile cigen writes; a YAML file takes a list of JSON Patch "
                          "operations", at_key=True)
        elif not image.get("generate", True):
            yield Problem(at, f"image.generate is false: {dockerfile} is yours and cigen writes "
                          "nothing into it; add the instructions to it yourself", at_key=True)
        else:
            for point, text in points.items():
                yield from _text_problems((*at, point), point, text)


def _text_problems(at: KeyPath, point: str, text: str) -> Iterator[Problem]:
    from cigen.errors import ConversionError
    from cigen.kaniko import parsing

    control = _CONTROL.search(text)
    if control:
        code = f"U+{ord(control.group()):04X}"
        yield Problem(at, f"{_line(text, control.start())}holds the control character {code}, "
                      "which no Dockerfile instruction needs; remove it")
        return
    if MARKER in text:  # core.marked() drops every other line holding it from the Kaniko file
        yield Problem(at, f'holds "{MARKER}", the words cigen marks its files with; word it '
                      "otherwise")
        return
    try:
        # the block as cigen writes it, followed by a line as cigen's next instruction follows it
        *commands, last = parsing.parse(block(text) + _SENTINEL + "\n", "")
    except ConversionError as e:
        yield from (Problem(at, _reworded(message)) for message in e.problems)
        return
    if last.original != _SENTINEL:
        yield Problem(at, f"{_numbered(text, last.start_line)}the last line continues (\\) past "
                      "the end of the text, into the instruction cigen writes next; remove the \\")
        commands.append(last)
    if not commands:
        yield Problem(at, "holds no instruction, only comments or blank lines")
    for found in parsing.misplaced_mounts(commands):
        yield Problem(at, f"{_numbered(text, found.line)}{found.message}")
    for command in commands:
        why = _refusal(point, command)
        if why:
            yield Problem(at, f"{_numbered(text, command.start_line)}{why}")


def _refusal(point: str, command: Any) -> str | None:
    from cigen.kaniko.parsing import INSTRUCTIONS

    name = (command.cmd or "").upper()
    if name not in INSTRUCTIONS:
        return f"unknown instruction {command.cmd}; fix the typo or remove the line"
    if name == "FROM":
        return ("FROM would start another stage, and change which stage is built and "
                "published; insert instructions into cigen's stages only")
    if not command.value and not command.json:  # CMD [] is a value: none
        return f"{name} has no arguments"
    if point != FINAL and name in _CHANGES_CIGENS:
        what, instead = _CHANGES_CIGENS[name]
        if point in BUILDER_POINTS and instead:
            return f"{name} {what}; {instead}"
        return f"{name} {what}; put it at {FINAL}"
    if name == "ONBUILD":
        trigger = (command.sub_cmd or "").upper()
        if trigger in _NO_TRIGGER:
            return f"{trigger} is not allowed as an ONBUILD trigger"
        if point in BUILDER_POINTS:
            # BuildKit runs a stage's ONBUILD triggers in the stages built FROM it (moby/buildkit
            # frontend/dockerfile/dockerfile2llb/convert.go, toDispatchState: d.base.commands).
            return ("ONBUILD in the builder would run in the stages cigen builds FROM it; "
                    "write the instruction itself")
    return None


def _reworded(message: str) -> str:
    """A message of the Dockerfile parser, about a file named "", said of the text."""
    located = _LOCATED.fullmatch(message)
    if located:
        return f"line {located.group(1)}: {located.group(2)}"
    return message.removeprefix(": ")


def _line(text: str, offset: int) -> str:
    return _numbered(text, text.count("\n", 0, offset) + 1)


def _numbered(text: str, line: int | None) -> str:
    """`line N: `, or nothing for a text of one line."""
    return f"line {line}: " if line and "\n" in text.rstrip() else ""
