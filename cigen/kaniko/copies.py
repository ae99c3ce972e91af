from __future__ import annotations

import json
import posixpath
import re
from typing import NamedTuple

from cigen.kaniko import heredoc, keep
from cigen.kaniko.context import Command, Context, flag_name
from cigen.kaniko.mounts import copy_words
from cigen.kaniko.source import Parts, keyword_like
from cigen.kaniko.stages import Stage

_KEPT = frozenset({"--from", "--chown", "--chmod"})
_GIT = re.compile(r"^(?:git@|git://|ssh://|github\.com/)|\.git/?(?:#.*)?$|\.git#")
_ADD_ONLY = {
    "--checksum": (
        "ADD --checksum has no Kaniko form: Kaniko downloads without verifying",
        "download in a RUN (curl/wget) and check it with sha256sum -c, or vendor the file "
        "into the build context",
    ),
    "--keep-git-dir": (
        "ADD --keep-git-dir has no Kaniko form: Kaniko cannot ADD git repositories",
        "RUN git clone in a build stage and COPY --from it",
    ),
}


class _Flags(NamedTuple):
    kept: list[str]
    parents: bool


def convert_copy(ctx: Context, cmd: Command, stage: Stage) -> Stage:
    parts = ctx.parts(cmd)
    flags = _flags(ctx, cmd, parts.flags)
    if cmd.heredocs:
        _heredoc_copy(ctx, cmd, parts, flags.kept, stage)
        return stage
    if cmd.cmd.upper() == "ADD":
        _refuse_git(ctx, cmd)
    if flags.parents:
        _parents(ctx, cmd, parts, flags.kept)
        return stage
    body = _dir_dest(ctx, cmd, parts.body)
    if body != parts.body or len(flags.kept) != len(parts.flags):
        ctx.replace(cmd, ctx.rebuild(parts, flags.kept, body))
    return stage


def _flags(ctx: Context, cmd: Command, raw: tuple[str, ...]) -> _Flags:
    kept: list[str] = []
    parents = False
    instruction = cmd.cmd.upper()
    for flag in raw:
        name, value = flag_name(flag)
        if name in _KEPT:
            kept.append(flag)
        elif name == "--link":
            ctx.note(cmd, f"dropped {flag}: Kaniko ignores it and the files are the same")
        elif name == "--parents":
            parents = value.lower() in ("", "true", "1")
        elif name == "--exclude":
            ctx.problem(
                cmd,
                f"{instruction} --exclude has no Kaniko form: Kaniko copies every matching file",
                "list the wanted paths explicitly, or add the pattern to .dockerignore if no "
                "other instruction needs those files",
            )
        elif instruction == "ADD" and name in _ADD_ONLY:
            ctx.problem(cmd, *_ADD_ONLY[name])
        else:
            ctx.problem(cmd, f"{instruction} {name} is not a flag Kaniko knows", "remove it")
    return _Flags(kept, parents)


def _refuse_git(ctx: Context, cmd: Command) -> None:
    for source in cmd.value[:-1]:
        if _GIT.search(source):
            ctx.problem(
                cmd,
                f"ADD {source} has no Kaniko form: Kaniko's ADD only downloads plain files",
                "RUN git clone (pinned to a commit) in a build stage and COPY --from it, or "
                "check the repository out into the build context",
            )


def _dir_dest(ctx: Context, cmd: Command, body: str) -> str:
    dest = cmd.value[-1] if cmd.value else ""
    if len(cmd.value) < 3 or dest.endswith("/"):
        return body
    old, new = (json.dumps(dest), json.dumps(dest + "/")) if cmd.json else (dest, dest + "/")
    at = body.rfind(old)
    if at < 0:
        return body
    ctx.note(
        cmd, "added / to the destination: Kaniko needs a directory ending in / for several sources"
    )
    return body[:at] + new + body[at + len(old) :]


def _parents(ctx: Context, cmd: Command, parts: Parts, kept: list[str]) -> None:
    if len(cmd.value) < 2:
        ctx.problem(cmd, "COPY --parents needs a source and a destination", "add them")
        return
    *sources, dest = cmd.value
    if not cmd.json and any(q in word for word in cmd.value for q in "\"'"):
        ctx.problem(cmd, "COPY --parents with a quoted path has no Kaniko form here",
                    'write it in JSON form: COPY --parents ["a b/c", "/dest/"]')
        return
    if any(char in source for source in sources for char in "*?["):
        ctx.problem(
            cmd,
            "COPY --parents with a wildcard has no Kaniko form: the parent directories "
            "depend on what matches",
            "write one COPY per path, with the parent directories in the destination",
        )
        return
    words = [parts.keyword, *kept]
    lines = [copy_words(words, [source, _parents_dest(dest, source)]) for source in sources]
    ctx.note(
        cmd,
        "COPY --parents became one COPY per source, with the parent directories "
        "spelled out in the destination",
    )
    ctx.replace(cmd, "".join(parts.lead + line + ctx.newline for line in lines))


def _parents_dest(dest: str, source: str) -> str:
    kept = source.split("/./", 1)[1] if "/./" in source else source
    relative = posixpath.normpath(kept.lstrip("/"))
    return dest if relative == "." else posixpath.join(dest, relative)


def _heredoc_copy(ctx: Context, cmd: Command, parts: Parts, kept: list[str], stage: Stage) -> None:
    options = dict(flag_name(flag) for flag in kept)
    contents = _heredoc_contents(cmd)
    expands = any(text is None for _, text in contents)
    why = keep.copy_heredoc(ctx.executor, cmd.value[:-1], cmd.value[-1], options, stage)
    if why is None and not expands:
        if len(kept) != len(parts.flags):  # the executor writes the files as BuildKit does
            ctx.replace(cmd, ctx.rebuild(parts, kept, parts.body))
        return
    problem = _heredoc_copy_problem(cmd, options, stage)
    if expands and (problem is None or why is None):
        problem = _EXPANSION
        if ctx.executor.heredocs:  # FF_KANIKO_EXPAND_HEREDOC is off (pkg/config/featureflags.go)
            problem = (f"{_EXPANSION[0]}; {ctx.executor.name} writes the text unexpanded",
                       _EXPANSION[1])
    if problem is not None:
        ctx.problem(cmd, *problem)
        return
    dest = cmd.value[-1]
    into_dir = len(contents) > 1 or dest.endswith("/")
    files = [
        (posixpath.join(dest, name) if into_dir else dest, text or "") for name, text in contents
    ]
    mode, chown = options.get("--chmod", "644"), options.get("--chown")
    steps = [heredoc.write_files_command(files, mode, chown, ctx.escape, ctx.newline)]
    _write_heredoc_run(ctx, cmd, parts, steps, stage, why or "")


def _heredoc_contents(cmd: Command) -> list[tuple[str, str | None]]:
    """Each heredoc's name and file content; None where build-time expansion could apply."""
    contents: list[tuple[str, str | None]] = []
    for source, doc in zip(cmd.value[:-1], cmd.heredocs, strict=False):
        marker = heredoc.marker(source) or heredoc.Marker(chomp=False, quoted=True)
        text = heredoc.chomp(doc.content) if marker.chomp else doc.content
        expands = not marker.quoted and heredoc.expandable(text)
        contents.append((doc.name, None if expands else text))
    return contents


_EXPANSION = (
    "COPY <<EOF with an unquoted delimiter expands $variables and backslashes at build "
    "time, which a RUN cannot reproduce exactly",
    "quote the delimiter (<<'EOF') if the text is literal, or write the file in a RUN",
)


def _heredoc_copy_problem(
    cmd: Command, options: dict[str, str], stage: Stage
) -> tuple[str, str] | None:
    *sources, dest = cmd.value
    if stage.scratch or not stage.posix_shell:
        return (
            "COPY <<EOF needs a shell once rewritten for Kaniko, and this stage has none",
            "write the file in a stage with a shell and COPY --from it",
        )
    if "--from" in options or any(heredoc.marker(source) is None for source in sources):
        return (
            "COPY mixing heredocs with other sources has no Kaniko form",
            "split it into one COPY of the files and one COPY <<EOF",
        )
    if "$" in dest and any(char in dest for char in '"`\\'):
        return (
            "COPY <<EOF to this destination cannot be quoted for the shell",
            "simplify the path",
        )
    return None


def _write_heredoc_run(
    ctx: Context, cmd: Command, parts: Parts, steps: list[str], stage: Stage, why: str
) -> None:
    run = f"{parts.lead}{keyword_like(parts.keyword, 'RUN')} {' && '.join(steps)}{ctx.newline}"
    if stage.user is not None:
        # COPY writes as root whatever USER says; the RUN has to as well
        user = keyword_like(parts.keyword, "USER")
        run = f"{user} 0{ctx.newline}{run}{user} {stage.user}{ctx.newline}"
    ctx.note(cmd, f"COPY <<EOF became a RUN that writes the file with printf ({why})")
    ctx.replace(cmd, run)
