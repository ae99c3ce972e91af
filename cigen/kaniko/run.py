from __future__ import annotations

import re
from dataclasses import replace

from cigen.kaniko import heredoc, keep, packages
from cigen.kaniko.context import Command, Context, flag_name
from cigen.kaniko.mounts import (
    Mount,
    bind_note,
    copy_key,
    copy_line,
    is_apk_cache,
    is_apt_cache,
    parse_mount,
)
from cigen.kaniko.source import Parts, raw_text, shell_quote
from cigen.kaniko.stages import Stage

_DROPPED_FLAGS = {
    "--network": "dropped --network={}: Kaniko runs every RUN on the executor's own network",
    "--security": "dropped --security={}: Kaniko has no per-RUN security mode",
}
_NO_FORM = {
    "secret": (
        "RUN --mount=type=secret has no Kaniko form: Kaniko cannot mount secrets and any "
        "other way would leave the secret in a layer",
        "fetch what needs the secret before the build (e.g. rebar3 deps in a CI step) and "
        "COPY the result, or keep this file for BuildKit",
    ),
    "ssh": (
        "RUN --mount=type=ssh has no Kaniko form: Kaniko cannot forward an SSH agent",
        "fetch private git dependencies before the build and COPY them from the context",
    ),
}


def convert_run(ctx: Context, cmd: Command, stage: Stage) -> Stage:
    parts = ctx.parts(cmd)
    kept: list[str] = []
    mounts: list[Mount] = []  # the ones the executor cannot mount: rewritten
    dropped: list[str] = []
    for flag, mount in _mounts(ctx, cmd, parts.flags):
        written = keep.mount_flag(ctx.executor, flag, mount, stage.workdir)
        if written is not None:
            kept.append(written)
            continue
        mounts.append(mount)
        if mount.type in ("cache", "tmpfs"):
            why = keep.why_not_mounted(ctx.executor, flag, mount, stage.workdir) or ""
            dropped.append(_dropped_note(mount, why))
    copies, stage = _binds(ctx, cmd, stage, mounts, parts.keyword)
    for text in dropped:
        ctx.note(cmd, text)
    body = _command(ctx, cmd, parts, mounts, stage)
    if body == parts.body and kept == list(parts.flags):
        return stage
    lead = re.match(rf"(?:\s|{re.escape(ctx.escape)}[ \t]*\r?\n)*", body)
    if body[lead.end() if lead else 0:].startswith("--"):  # read as flags of the RUN
        ctx.problem(cmd, "once the cache-mount set-up is dropped, the command starts with --",
                    "start the command with a program, not an option")
        return stage
    run = _in_place(ctx, cmd, parts, kept, body) or (
        ctx.rebuild(parts, kept, body) if body.strip() else "")
    if not run:
        ctx.note(cmd, "dropped the RUN: nothing is left once the cache-mount set-up is gone")
    ctx.replace(cmd, "".join(line + ctx.newline for line in copies) + run)
    return stage


def _in_place(ctx: Context, cmd: Command, parts: Parts, kept: list[str], body: str) -> str:
    """The instruction with only its rewritten flags changed, line breaks and all; "" when
    a flag is dropped, the command changes or a flag is split across lines."""
    if body != parts.body or len(kept) != len(parts.flags):
        return ""
    raw = raw_text(ctx.lines, cmd.start_line, cmd.end_line, ctx.newline)
    out, pos = [], 0
    for old, new in zip(parts.flags, kept, strict=True):
        at = raw.find(old, pos)
        if at < 0:
            return ""
        out += [raw[pos:at], new]
        pos = at + len(old)
    return "".join(out) + raw[pos:]


def _mounts(ctx: Context, cmd: Command, flags: tuple[str, ...]) -> list[tuple[str, Mount]]:
    mounts = []
    for flag in flags:
        name, value = flag_name(flag)
        if name in _DROPPED_FLAGS:
            ctx.note(cmd, _DROPPED_FLAGS[name].format(value))
        elif name != "--mount":
            ctx.problem(cmd, f"RUN {name} is not a Dockerfile flag Kaniko knows", "remove it")
        elif (mount := _mount(ctx, cmd, value)) is not None:
            mounts.append((flag, mount))
    return mounts


def _mount(ctx: Context, cmd: Command, spec: str) -> Mount | None:
    try:
        mount = parse_mount(spec)
    except (ValueError, StopIteration) as error:
        ctx.problem(cmd, f"cannot read the mount: {error or spec}", "fix the --mount flag")
        return None
    if mount.type in _NO_FORM:
        ctx.problem(cmd, *_NO_FORM[mount.type])
        return None
    if mount.type not in ("bind", "cache", "tmpfs"):
        ctx.problem(
            cmd, f"RUN --mount=type={mount.type} is not a mount type", "fix the --mount flag"
        )
        return None
    return mount


def _dropped_note(mount: Mount, why: str) -> str:
    if mount.type == "tmpfs":
        return (
            f"dropped tmpfs mount {mount.target}: what the command writes there now stays "
            "in the image layer"
        )
    if is_apk_cache(mount) or is_apt_cache(mount):
        return f"dropped cache mount {mount.target}: {why}"
    return (
        f"dropped cache mount {mount.target}: {why}; what the command "
        "writes there now stays in the image layer"
    )


def _binds(
    ctx: Context, cmd: Command, stage: Stage, mounts: list[Mount], keyword: str
) -> tuple[list[str], Stage]:
    lines = []
    for mount in (m for m in mounts if m.type == "bind"):
        key = copy_key(mount, stage.workdir)
        line = copy_line(key, mount, keyword)
        if key in stage.copies and not mount.writable:
            ctx.note(
                cmd,
                f"bind mount needs no `{line}`: an earlier one in this stage or its base did it",
            )
            continue
        lines.append(line)
        ctx.note(cmd, bind_note(mount, key, line))
        if not mount.writable:
            stage = replace(stage, copies=stage.copies | {key})
    return lines, stage


def _command(ctx: Context, cmd: Command, parts: Parts, mounts: list[Mount], stage: Stage) -> str:
    if cmd.json:
        return parts.body
    script = heredoc.run_script(cmd.value[0], cmd.heredocs).text if cmd.heredocs else parts.body
    mkdir = _mkdir(ctx, cmd, mounts, script)
    if cmd.heredocs:
        why = keep.run_heredoc(ctx.executor, cmd.value[0], cmd.heredocs, stage)
        if why is None:
            fixed = _fix_packages(ctx, script, "\\", mounts)
            if not mkdir and fixed.text == script and not fixed.clean_lists:
                return parts.body  # the executor runs it as BuildKit does
            why = "the set-up of a dropped mount changes inside it"
        return mkdir + _heredoc_command(ctx, cmd, mounts, stage, why) + ctx.newline
    return mkdir + _shell_command(ctx, cmd, parts, mounts)


def _mkdir(ctx: Context, cmd: Command, mounts: list[Mount], script: str) -> str:
    # BuildKit creates a mount's target; tools that use a cache implicitly (rebar3, pip)
    # create it themselves, so only a target the command names needs creating
    targets = [
        m.target
        for m in mounts
        if m.type in ("cache", "tmpfs")
        and not (is_apk_cache(m) or is_apt_cache(m))
        and re.search(rf"(?<![\w/.-]){re.escape(m.target)}(?![\w.-])", script)
    ]
    if not targets:
        return ""
    words = " ".join(shell_quote(t) if re.search(r"[^\w/.-]", t) else t for t in targets)
    ctx.note(cmd, f"added mkdir -p {words}: the mount used to create it")
    return f"mkdir -p {words} && "


def _shell_command(ctx: Context, cmd: Command, parts: Parts, mounts: list[Mount]) -> str:
    fixed = _fix_packages(ctx, parts.body, ctx.escape, mounts)
    for text in fixed.notes:
        ctx.note(cmd, text)
    if not fixed.clean_lists:
        return fixed.text
    return fixed.text.rstrip() + packages.APT_LISTS_CLEANUP + ctx.newline


def _fix_packages(ctx: Context, text: str, escape: str, mounts: list[Mount]) -> packages.Fixed:
    notes: list[str] = []
    clean = False
    steps = [
        (ctx.apt_mounts, packages.drop_docker_clean),
        (any(is_apk_cache(m) for m in mounts if m.type == "cache"), packages.fix_apk),
        (any(is_apt_cache(m) for m in mounts if m.type == "cache"), packages.fix_apt),
    ]
    for wanted, fix in steps:
        if wanted:
            fixed = fix(text, escape)
            text, clean = fixed.text, clean or fixed.clean_lists
            notes.extend(fixed.notes)
    return packages.Fixed(text, tuple(notes), clean)


def _heredoc_command(
    ctx: Context, cmd: Command, mounts: list[Mount], stage: Stage, why: str
) -> str:
    if not stage.posix_shell:
        ctx.problem(
            cmd,
            "RUN <<EOF under a non-POSIX SHELL cannot be rewritten for Kaniko",
            "write the script to a file in the context, COPY it and RUN it",
        )
    script = heredoc.run_script(cmd.value[0] if cmd.value else "", cmd.heredocs)
    if script.shebang:
        ctx.note(
            cmd,
            f"heredoc #! script: now written to a mktemp file, run and removed ({why})",
        )
        return heredoc.shebang_command(script.text, ctx.escape, ctx.newline, "")
    fixed = _fix_packages(ctx, script.text, "\\", mounts)
    for text in fixed.notes:
        ctx.note(cmd, text)
    ctx.note(
        cmd,
        f"heredoc script: now passed to eval via printf, one line per argument ({why})",
    )
    cleanup = packages.APT_LISTS_CLEANUP if fixed.clean_lists else ""
    return heredoc.eval_command(fixed.text, ctx.escape, ctx.newline) + cleanup
