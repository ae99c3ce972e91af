from __future__ import annotations

import re
from collections.abc import Sequence

import dockerfile

from cigen.core import Problem
from cigen.errors import ConversionError
from cigen.kaniko.context import Command
from cigen.kaniko.executor import Executor
from cigen.kaniko.mounts import parse_mount
from cigen.kaniko.source import problem, split_lines

INSTRUCTIONS = frozenset(name.upper() for name in dockerfile.all_cmds())
_SURROGATE = re.compile("[\ud800-\udfff]")
_NUL = re.compile("\x00")


def parse(text: str, path: str) -> tuple[Command, ...]:
    """The instructions of `text`, as BuildKit's parser reads them; ConversionError if none."""
    _refuse(_SURROGATE, text, path)  # the parser binding crashes the process on one
    try:
        commands: tuple[Command, ...] = dockerfile.parse_string(text)
    except (dockerfile.GoParseError, UnicodeError, ValueError) as error:
        raise ConversionError([_parse_problem(text, path, str(error))]) from error
    _refuse(_NUL, text, path)  # the binding reads a C string: it stops at a NUL
    _refuse_dangling(commands, path)
    return commands


def _parse_problem(text: str, path: str, message: str) -> str:
    if "no instructions" in message:
        return f"{path}: the file has no instructions; a Dockerfile needs at least a FROM"
    if "unterminated heredoc" in message:
        line = _unterminated_line(text)
        return f"{path}:{line}: unterminated heredoc; end it with a line holding only its delimiter"
    return f"{path}: cannot parse: {message}; fix the Dockerfile syntax"


def _unterminated_line(text: str) -> int:
    # the parser does not say where: the heredoc starts right after the longest prefix
    # that still parses, so skip the blank and comment lines that follow that prefix
    lines = split_lines(text)
    for count in range(len(lines), -1, -1):
        if _parses("".join(lines[:count])):
            break
    rest = [i for i, line in enumerate(lines[count:], count + 1) if not _skippable(line)]
    return rest[0] if rest else count + 1


def _parses(text: str) -> bool:
    try:
        dockerfile.parse_string(text)
    except dockerfile.GoParseError as error:
        return "no instructions" in str(error)
    return True


def _skippable(line: str) -> bool:
    return not line.strip() or line.lstrip().startswith("#")


def _refuse(pattern: re.Pattern[str], text: str, path: str) -> None:
    found = pattern.search(text)
    if found is not None:
        line = text.count("\n", 0, found.start()) + 1
        raise ConversionError([f"{path}:{line}: holds a NUL or a lone surrogate, which is no "
                               "text; remove it"])


def _refuse_dangling(commands: Sequence[Command], path: str) -> None:
    empty = next((c for c in commands if c.cmd is None), None)  # a `\` line ends the file
    if empty is not None:
        raise ConversionError([f"{path}:{empty.start_line}: a line continuation (\\) with no "
                               "instruction after it; remove it"])


def misplaced_mounts(commands: Sequence[Command]) -> list[Problem]:
    return [problem(c.start_line, f"{c.cmd} --mount: only RUN takes --mount", "remove the flag")
            for c in commands
            if (c.cmd or "").upper() not in ("RUN", "ONBUILD") and any(map(_is_mount, c.flags))]


def _is_mount(flag: str) -> bool:
    return flag.partition("=")[0].lower() == "--mount"


def ensure_parses(text: str, path: str, executor: Executor) -> None:
    """The converted file, read back as BuildKit reads it: nothing BuildKit-only is left but
    what `executor` builds, and no instruction came out unknown or empty. Edits that an odd
    input (a continuation into a blank line, Unicode spaces in an instruction) led astray are
    refused, not written."""
    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as error:
        raise ConversionError([_astray(path, f"it does not parse ({error})")]) from error
    for command in commands:
        name = (command.cmd or "").upper()
        if name not in INSTRUCTIONS or (name == "RUN" and not command.value):
            raise ConversionError([_astray(path, f"`{command.original}` reads differently")])
        kept = [flag for flag in command.flags if _is_mount(flag)]
        if (command.heredocs and not executor.heredocs) or not all(
            _executor_mounts(flag, executor) for flag in kept
        ):
            raise ConversionError([_astray(path, f"`{command.original}` keeps BuildKit syntax")])


def _executor_mounts(flag: str, executor: Executor) -> bool:
    try:
        mount = parse_mount(flag.partition("=")[2])
    except (ValueError, StopIteration):
        return False
    if mount.type == "cache":
        return executor.cache_mounts
    return mount.type == "bind" and mount.from_ is None and executor.bind_mounts


def _astray(path: str, why: str) -> str:
    return (f"{path}: cannot convert this file safely: in the Kaniko form {why}; check the "
            "instruction's line continuations and spacing")
