from __future__ import annotations

import hashlib
import os
import shlex
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.buildah import Buildah

# What the probe asks the running release, by label; each answer is one printed term.
QUESTIONS = {
    "otp": "erlang:system_info(otp_release).",
    "hello": 'binary_to_list(greeter:hello("e2e")).',
    "apps": "[A || {A, _, _} <- application:which_applications()].",
    "openssl": "[binary_to_list(V) || {_, _, V} <- crypto:info_lib()].",
}
# buildah run itself creates (and removes) its mount targets under /run, as root.
BUILDAH_RUN_DIRS = frozenset({"run"})


@dataclass(frozen=True)
class Entry:
    kind: str  # "f", "d", "l" or "o"ther
    mode: int
    owner: tuple[int, int]
    content: str  # sha256 of a file, target of a link, "" otherwise
    mtime_ns: int


def probe_script(name: str, dist_port: int, questions: Mapping[str, str] = QUESTIONS) -> str:
    """sh: start the release in the foreground, wait for a pong, ask `questions`, stop it."""
    binary = f"/opt/{name}/bin/{name}"
    asks = "".join(f"echo {shlex.quote(f'== {label}')}\n"
                   f"{binary} eval {shlex.quote(expr)}\n" for label, expr in questions.items())
    # No set -e: a failing question must still stop the node, or the run would never end.
    return (
        "echo \"== uid $(id -u)\"\n"
        # a fixed distribution port instead of epmd: no daemon outlives the run
        f"export ERL_DIST_PORT={dist_port}\n"
        # The start script writes sys.config and vm.args from their templates into
        # RELX_OUT_FILE_PATH on every command, ping included (erlang/rebar3
        # vendor/relx/priv/templates/extended_bin: check_replace_os_vars, replace_os_vars
        # `> "$2"`): the node boots from files of its own, or a ping could truncate the
        # sys.config it is reading ("no ending <dot> found", seen in a CI run).
        "mkdir -p /tmp/node\n"
        f"RELX_OUT_FILE_PATH=/tmp/node {binary} foreground > /tmp/foreground.log 2>&1 &\n"
        f"tries=0; until {binary} ping > /dev/null 2>&1; do\n"
        "  tries=$((tries + 1))\n"
        "  if [ $tries -gt 60 ]; then kill $!; cat /tmp/foreground.log; exit 1; fi\n"
        "  sleep 0.5\n"
        "done\n"
        "echo '== ping pong'\n"
        f"{asks}"
        f"{binary} stop\n"
        "wait\n"
        "echo \"== exit $?\"\n"
    )


def answers(output: str) -> dict[str, str]:
    """The probe's output by label: '== label' lines, each followed by its answer."""
    found: dict[str, str] = {}
    label = None
    for line in output.splitlines():
        if line.startswith("== "):
            label, _, inline = line[3:].partition(" ")
            found[label] = inline
        elif label is not None:
            found[label] = (found[label] + "\n" + line).strip()
    return found


@contextmanager
def container(buildah: Buildah, image: str) -> Iterator[tuple[str, Path]]:
    """A working container of `image` and its root filesystem as seen from the host."""
    name = buildah("from", "--pull=never", image).strip()
    try:
        yield name, Path(buildah("mount", name).strip())
    finally:
        buildah("rm", name)


def snapshot(root: Path, skip: tuple[str, ...] = ("proc", "sys", "dev")) -> dict[str, Entry]:
    """Every path under root (relative), with what a write would change."""
    found: dict[str, Entry] = {}
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.relpath(Path(top, d), root) not in skip]
        for name in (*dirs, *files):
            path = Path(top, name)
            found[str(path.relative_to(root))] = entry(path)
    return found


def entry(path: Path) -> Entry:
    info = path.lstat()
    kind = ("l" if stat.S_ISLNK(info.st_mode) else "d" if stat.S_ISDIR(info.st_mode)
            else "f" if stat.S_ISREG(info.st_mode) else "o")
    content = (os.readlink(path) if kind == "l"
               else hashlib.sha256(path.read_bytes()).hexdigest() if kind == "f" else "")
    return Entry(kind, stat.S_IMODE(info.st_mode), (info.st_uid, info.st_gid), content,
                 info.st_mtime_ns)


def writes(before: Mapping[str, Entry], after: Mapping[str, Entry]) -> dict[str, str]:
    """Paths the run added, removed or changed, each with what happened."""
    changed = {p: "added" for p in after.keys() - before.keys()}
    changed |= {p: "removed" for p in before.keys() - after.keys()}
    changed |= {p: "changed" for p in before.keys() & after.keys() if before[p] != after[p]}
    return changed


def outside_tmp(changes: Mapping[str, str], before: Mapping[str, Entry],
                after: Mapping[str, Entry]) -> dict[str, str]:
    """The writes that are not the release's own under /tmp, nor buildah's under /run."""
    def allowed(path: str) -> bool:
        if path == "tmp" or path.startswith("tmp/"):
            return True
        return (path in BUILDAH_RUN_DIRS and changes[path] == "changed"
                and _only_mtime(before[path], after[path]))

    return {p: what for p, what in changes.items() if not allowed(p)}


def _only_mtime(old: Entry, new: Entry) -> bool:
    return old.kind == new.kind == "d" and (old.mode, old.owner) == (new.mode, new.owner)


def release_files(root: Path, name: str) -> dict[str, tuple[str, int, str]]:
    """Everything under /opt/<name>: kind, permission bits and content hash or link target."""
    base = root / "opt" / name
    return {p: (e.kind, e.mode, e.content) for p, e in snapshot(base, skip=()).items()}
