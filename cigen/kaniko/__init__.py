from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cigen.core import Problem
from cigen.errors import ConversionError
from cigen.kaniko import parsing, stages
from cigen.kaniko.context import Command, Context, flag_name
from cigen.kaniko.copies import convert_copy
from cigen.kaniko.executor import UPSTREAM, Executor
from cigen.kaniko.keep import why_not_mounted
from cigen.kaniko.mounts import is_apt_cache, parse_mount
from cigen.kaniko.run import convert_run
from cigen.kaniko.source import (
    Directives,
    Edit,
    Note,
    apply_edits,
    keyword_like,
    newline_of,
    problem,
    read_directives,
    split_lines,
)
from cigen.kaniko.stages import Stage

_INSTRUCTIONS = parsing.INSTRUCTIONS


@dataclass(frozen=True)
class Conversion:
    text: str
    notes: tuple[str, ...]
    base_args: tuple[tuple[str, str], ...]


MAX_LINES = 10_000


def convert(
    text: str,
    path: str = "Dockerfile",
    *,
    published_stage: str | None = None,
    executor: Executor = UPSTREAM,
) -> Conversion:
    """Rewrite a BuildKit Dockerfile into one `executor` builds the same way: what it does as
    BuildKit does is kept, the rest rewritten (cigen/kaniko/keep.py).

    Raises ConversionError listing every instruction that has no safe Kaniko form.
    """
    count = text.count("\n")
    if count > MAX_LINES:  # BuildKit's parser slows down by the square of such lengths
        raise ConversionError([f"{path}: {count} lines; a Dockerfile has a few hundred (at most "
                               f"{MAX_LINES})"])
    commands = parsing.parse(text, path)
    lines = split_lines(text)
    directives = read_directives(lines)
    froms = stages.parse_froms([(c.start_line, c.value) for c in commands if _name(c) == "FROM"])
    problems = _structure_problems(commands, froms)
    if not froms:
        raise ConversionError([_problem(path, p) for p in sorted(problems, key=_line_key)])
    published = _published(froms, published_stage, problems)
    arg_names = stages.plan_base_args(froms, published, _meta_args(commands))
    ctx = Context(
        lines, newline_of(text), directives.escape, froms, arg_names,
        _apt_mounts(commands, executor), executor,
    )
    ctx.problems.extend(problems)
    _walk(ctx, commands)
    if ctx.problems:
        raise ConversionError([_problem(path, p) for p in sorted(ctx.problems, key=_line_key)])
    base_args = _base_args(froms, arg_names)
    edits = [*ctx.edits, *_directive_edits(lines, directives, ctx)]
    edits += _arg_block(ctx, commands, directives, base_args)
    output = apply_edits(lines, edits).rstrip("\r\n") + ctx.newline
    parsing.ensure_parses(output, path, executor)
    notes = sorted(ctx.notes, key=lambda n: n.line)
    return Conversion(output, tuple(f"{path}:{n.line}: {n.text}" for n in notes), base_args)


def _name(cmd: Command) -> str:
    return cmd.cmd.upper()


def _structure_problems(commands: Sequence[Command], froms: Sequence[stages.From]) -> list[Problem]:
    problems = [
        problem(c.start_line, f"unknown instruction {c.cmd}", "fix the typo or remove the line")
        for c in commands
        if _name(c) not in _INSTRUCTIONS
    ]
    problems += parsing.misplaced_mounts(commands)
    if not froms:
        problems.append(problem(None, "the file has no FROM", "start the build stage with FROM"))
    known = (c for c in commands if _name(c) in _INSTRUCTIONS)
    first = next((c for c in known if _name(c) not in ("ARG", "FROM")), None)
    if first is not None and (not froms or first.start_line < froms[0].line):
        problems.append(
            problem(
                first.start_line,
                f"{first.cmd} comes before the first FROM",
                "start the build stage with FROM first",
            )
        )
    return problems


def _published(froms: Sequence[stages.From], wanted: str | None, problems: list[Problem]) -> int:
    if wanted is None:
        return len(froms) - 1
    index = stages.find_stage(froms, wanted)
    if index is None:
        problems.append(problem(None, f"no stage is named {wanted}", "pass an existing stage name"))
        return len(froms) - 1
    return index


def _meta_args(commands: Sequence[Command]) -> set[str]:
    names: set[str] = set()
    for cmd in commands:
        if _name(cmd) == "FROM":
            break
        if _name(cmd) == "ARG":
            names.update(value.partition("=")[0] for value in cmd.value)
    return names


def _apt_mounts(commands: Sequence[Command], executor: Executor) -> bool:
    """Whether an apt cache mount is dropped, and with it the docker-clean removal it needed."""
    for cmd in commands:
        for flag in cmd.flags:
            name, value = flag_name(flag)
            if name == "--mount" and _dropped_apt_cache(flag, value, executor):
                return True
    return False


def _dropped_apt_cache(flag: str, spec: str, executor: Executor) -> bool:
    try:
        mount = parse_mount(spec)
    except (ValueError, StopIteration):
        return False
    # the WORKDIR is not followed here: a relative target counts as dropped
    kept = why_not_mounted(executor, flag, mount, None) is None
    return mount.type == "cache" and is_apt_cache(mount) and not kept


def _walk(ctx: Context, commands: Sequence[Command]) -> None:
    finals: list[Stage] = []
    stage: Stage | None = None
    for cmd in commands:
        if _name(cmd) == "FROM":
            if stage is not None:
                finals.append(stage)
            stage = _convert_from(ctx, cmd, len(finals), finals)
        elif stage is not None and (handler := _HANDLERS.get(_name(cmd))) is not None:
            stage = handler(ctx, cmd, stage)


def _convert_from(ctx: Context, cmd: Command, index: int, finals: list[Stage]) -> Stage:
    info = ctx.froms[index]
    parts = ctx.parts(cmd)
    kept = [flag for flag in parts.flags if not _platform_dropped(ctx, cmd, flag)]
    body = parts.body
    arg = ctx.arg_names.get(index)
    if arg is not None and body.startswith(info.image):
        body = f"${arg}{body[len(info.image) :]}"
        ctx.note(
            cmd, f"base image {info.image} became ARG {arg} (same default; set it with --build-arg)"
        )
    if body != parts.body or len(kept) != len(parts.flags):
        ctx.replace(cmd, ctx.rebuild(parts, kept, body))
    parent = finals[info.parent] if info.parent is not None else None
    return stages.enter(parent, info.image)


def _platform_dropped(ctx: Context, cmd: Command, flag: str) -> bool:
    name, value = flag_name(flag)
    if name != "--platform":
        ctx.problem(cmd, f"FROM {name} is not a flag Kaniko knows", "remove it")
        return False
    variable = value.strip("${}")
    if value in (f"${variable}", f"${{{variable}}}") and variable in _PLATFORM_NOTES:
        ctx.note(cmd, f"dropped {flag}: {_PLATFORM_NOTES[variable]}")
        return True
    ctx.problem(
        cmd,
        f"FROM {flag} has no Kaniko form: Kaniko pulls every base image for one platform",
        f"remove the flag and run the Kaniko executor with --custom-platform={value}",
    )
    return False


_PLATFORM_NOTES = {
    "TARGETPLATFORM": "Kaniko pulls base images for the target platform anyway",
    "BUILDPLATFORM": (
        "Kaniko runs every stage on the platform it builds for, which is the build platform "
        "unless the executor gets --custom-platform"
    ),
}


def _workdir(ctx: Context, cmd: Command, stage: Stage) -> Stage:
    return stages.workdir(stage, cmd.value[0] if cmd.value else "")


def _shell(ctx: Context, cmd: Command, stage: Stage) -> Stage:
    return stages.shell(stage, cmd.value)


def _user(ctx: Context, cmd: Command, stage: Stage) -> Stage:
    return stages.user(stage, cmd.value[0] if cmd.value else "")


def _onbuild(ctx: Context, cmd: Command, stage: Stage) -> Stage:
    if "--mount" in cmd.original or "<<" in cmd.original:
        ctx.problem(
            cmd,
            "ONBUILD with --mount or a heredoc runs in another build, unconverted",
            "move the instruction into the Dockerfiles that build FROM this image",
        )
    return stage


_HANDLERS: dict[str, Callable[[Context, Command, Stage], Stage]] = {
    "RUN": convert_run,
    "COPY": convert_copy,
    "ADD": convert_copy,
    "WORKDIR": _workdir,
    "SHELL": _shell,
    "USER": _user,
    "ONBUILD": _onbuild,
}


def _directive_edits(lines: list[str], directives: Directives, ctx: Context) -> list[Edit]:
    line = directives.syntax_line
    if line is None:
        return []
    ctx.notes.append(
        Note(line, "dropped the syntax directive: Kaniko always uses its built-in parser")
    )
    blank_after = line == directives.last_line and line < len(lines) and not lines[line].strip()
    return [Edit(line, line + 1 if blank_after else line, "")]


def _base_args(froms: Sequence[stages.From], names: dict[int, str]) -> tuple[tuple[str, str], ...]:
    args: dict[str, str] = {}
    for index, stage in enumerate(froms):
        if index in names:
            args.setdefault(names[index], stage.image)
    return tuple(args.items())


def _arg_block(
    ctx: Context,
    commands: Sequence[Command],
    directives: Directives,
    args: Sequence[tuple[str, str]],
) -> list[Edit]:
    first = next(c for c in commands if _name(c) == "FROM")
    line = first.start_line
    # keep the comment block that introduces the first stage attached to it
    while line - 1 > directives.last_line and ctx.lines[line - 2].lstrip().startswith("#"):
        line -= 1
    keyword = keyword_like(first.cmd, "ARG")
    block = "".join(f"{keyword} {name}={image}{ctx.newline}" for name, image in args)
    return [Edit(line, line - 1, block + ctx.newline)] if args else []


def _problem(path: str, problem: Problem) -> str:
    where = path if problem.line is None else f"{path}:{problem.line}"
    return f"{where}: {problem.message}"


def _line_key(problem: Problem) -> int:
    return problem.line or 0
