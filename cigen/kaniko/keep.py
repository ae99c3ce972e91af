from __future__ import annotations

from collections.abc import Sequence

from cigen.kaniko import heredoc
from cigen.kaniko.executor import Executor
from cigen.kaniko.mounts import Mount, resolve
from cigen.kaniko.stages import Stage

# Which BuildKit constructs the variant keeps as written, because the executor does the same
# with them (facts and sources in cigen/kaniko/executor.py and below); the rest is rewritten.
# mount_flag gives a kept --mount flag as written; the other checks say why a construct
# cannot stay, None when it can.

_TARGET_KEYS = frozenset({"target", "dst", "destination"})
_CACHE_KEYS = frozenset({"type", "sharing"}) | _TARGET_KEYS
_CACHE_OPTIONS = frozenset({"id", "mode", "uid", "gid"})
# A bind of the context: the fork reads source and target, and copies the files in whether
# readonly or not (writes are discarded afterwards, as BuildKit discards them).
_BIND_KEYS = frozenset({"type", "source", "src", "readonly", "ro", "readwrite", "rw"})
_BIND_KEYS |= _TARGET_KEYS


def mount_flag(executor: Executor, flag: str, mount: Mount, workdir: str | None) -> str | None:
    """The --mount flag as the variant keeps it, or None when it is rewritten."""
    if why_not_mounted(executor, flag, mount, workdir) is not None:
        return None
    if mount.target.startswith("/"):
        return flag
    # osscontainertools/kaniko mounts a relative target under / (the executor's working
    # directory, cmd/executor/cmd/root.go), BuildKit under WORKDIR: write it resolved
    name, _, spec = flag.partition("=")
    target = resolve(workdir, mount.target)
    items = [f"{key}={target}" if key.strip().lower() in _TARGET_KEYS else item
             for item in spec.split(",") for key in [item.partition("=")[0]]]
    return f"{name}={','.join(items)}"


def why_not_mounted(executor: Executor, flag: str, mount: Mount,
                    workdir: str | None) -> str | None:
    """Why the executor cannot mount `mount` as BuildKit does; None when it can."""
    if mount.type == "cache":
        allowed = _CACHE_KEYS | (_CACHE_OPTIONS if executor.cache_options else frozenset())
        if not executor.cache_mounts:
            return "Kaniko has no cache mounts" if executor.version is None else \
                f"{executor.name} has no cache mounts"
        extra = sorted(mount.keys - allowed)
        if extra:
            return f"{executor.name} does not read its {', '.join(extra)}"
    elif mount.type == "bind":
        if not executor.bind_mounts or mount.from_ is not None:
            return f"{executor.name} has no bind mounts of {_what(mount)}"
        if ".." in mount.source.split("/") or mount.keys - _BIND_KEYS:
            return f"{executor.name} cannot bind it as written"
    else:
        return f"{executor.name} has no {mount.type} mounts"
    if not mount.target.startswith("/"):
        if not resolve(workdir, mount.target).startswith("/"):
            return (f"{executor.name} mounts a relative target under /, and the WORKDIR it "
                    "is relative to is not known here")
        if '"' in flag:  # a quoted CSV field: too odd to rewrite
            return f"{executor.name} mounts a relative target under /"
    return None


def _what(mount: Mount) -> str:
    return "another stage" if mount.from_ is not None else "the build context"


def run_heredoc(executor: Executor, command: str, docs: Sequence[heredoc.Heredoc],
                stage: Stage) -> str | None:
    """Why a RUN with heredocs cannot stay as written; None when it can.

    osscontainertools/kaniko (pkg/commands/run.go, runCommandInExec, at v1.28.3) hands the
    SHELL the command line and each body with its delimiter, as BuildKit does; but a RUN that
    is only `<<NAME` becomes `<<NAME sh`: the body is fed to sh, which ignores a #! line and
    the SHELL, and a lone `<<'NAME'` or `<<-NAME` (not equal to "<<" + the name) runs nothing.
    """
    if not executor.heredocs:
        return "Kaniko has no heredocs" if executor.version is None else \
            f"{executor.name} does not key heredoc bodies in its layer cache"
    if len(docs) != 1 or heredoc.marker(command) is None:
        return None
    if heredoc.run_script(command, docs).shebang:
        return f"{executor.name} runs a lone heredoc with sh, ignoring #!"
    if command.strip() != f"<<{docs[0].name}":
        return f"{executor.name} runs nothing for a lone heredoc with a quoted or <<- delimiter"
    if not stage.default_shell:
        return f"{executor.name} runs a lone heredoc with sh, not the SHELL"
    return None


def copy_heredoc(executor: Executor, sources: Sequence[str], dest: str,
                 options: dict[str, str], stage: Stage) -> str | None:
    """Why a COPY of heredocs cannot stay as written; None when it can.

    osscontainertools/kaniko (pkg/commands/copy.go at v1.28.3) writes each body as it is
    (expansion of an unquoted one waits for FF_KANIKO_EXPAND_HEREDOC, off), to dest, or into
    dest when it ends in / or is a directory already (pkg/util/command_util.go,
    DestinationFilepath: the variant cannot know which), 0644 unless --chmod, owned by the
    USER in force unless --chown
    (FF_KANIKO_COPY_AS_ROOT is off: pkg/config/featureflags.go), where BuildKit writes root's.
    The caller refuses a body BuildKit would expand.
    """
    if not executor.heredocs:
        return "Kaniko has no heredocs" if executor.version is None else \
            f"{executor.name} does not key heredoc bodies in its layer cache"
    if "--from" in options or any(heredoc.marker(source) is None for source in sources):
        return "the heredocs are mixed with other sources"
    if len(sources) > 1 and not dest.endswith("/"):
        return f"{executor.name} writes several heredocs into one file unless dest ends in /"
    if stage.user is not None and "--chown" not in options:
        return f"{executor.name} gives the file to the USER, BuildKit to root"
    return None
