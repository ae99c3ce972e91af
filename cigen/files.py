from __future__ import annotations

import contextlib
import difflib
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from cigen import inputs, manifest
from cigen.core import Output, is_executable, is_generated, normalise
from cigen.errors import RenderError

_STALE_SECONDS = 60  # a render stages and renames its temp files within a second
MAX_BYTES = inputs.MAX_BYTES


class Drift(NamedTuple):
    path: str
    kind: str  # "missing", "stale" or "mode"
    diff: str
    ours: bool = True  # False: the file on disk lacks the marker (a user's own file)


def read(root: Path, rel: str) -> str | None:
    """A file's text as on disk (line endings kept), or None when it does not exist."""
    data = _on_disk(root, rel)
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start)
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise RenderError(f"{rel}:{line + 1}:{col}: not UTF-8 (byte 0x{data[e.start]:02x}); "
                          "save the file as UTF-8") from e


def _on_disk(root: Path, rel: str) -> bytes | None:
    """The bytes of a regular file, or None when there is none. A FIFO, a device or a link to
    one is refused without being read (it could block, or never end), and so is a file over
    MAX_BYTES: no input or output of cigen comes near it."""
    try:
        return inputs.read(root / rel, MAX_BYTES)
    except FileNotFoundError:
        return None
    except inputs.NotRegular:
        raise RenderError(f"{rel}: is not a regular file; cigen reads and writes only those"
                          ) from None
    except inputs.TooLarge:
        raise RenderError(f"{rel}: over {MAX_BYTES >> 20} MiB; not a file cigen reads") from None
    except OSError as e:
        raise RenderError(_cannot(root, rel, "read", e)) from e


def git_root(folder: Path) -> Path | None:
    """The top of the git work tree `folder` is in: the nearest folder with a .git (a folder,
    or the file of a worktree or submodule); None outside one."""
    start = folder.resolve()
    return next((p for p in (start, *start.parents) if (p / ".git").exists()), None)


# Files CI reads only at the root of the repository: GitHub runs the workflows in the
# repository's .github/workflows (docs.github.com, "Workflow syntax for GitHub Actions"), and
# CircleCI its .circleci/config.yml (circleci/circleci-docs jekyll/_cci2/create-project.adoc);
# and CircleCI's rebar3 orb jobs run rebar3 at the root of the checkout (targets/circleci).
ROOT_ONLY = (".github/workflows/", ".circleci/config.yml")


def unread(outputs: Iterable[Output], root: Path) -> tuple[Path | None, list[Output]]:
    """The git work tree's top, and the outputs no CI would read because `root` is not it."""
    top = git_root(root)
    if top is None or top == root.resolve():
        return top, []
    return top, [o for o in outputs if o.key.startswith(ROOT_ONLY)]


def obstacles(outputs: Iterable[Output], root: Path) -> list[tuple[Output, str]]:
    """What keeps an output from being written, found before anything is written: a parent
    that is a symbolic link (the write would land outside the project) or a file, a folder or
    a special file where the output goes."""
    found = []
    for output in outputs:
        why = _obstacle(root, Path(output.key))
        if why:
            found.append((output, f"{output.path}: {why}"))
    return found


def _obstacle(root: Path, rel: Path) -> str | None:
    for parent in reversed(rel.parents[:-1]):
        if (root / parent).is_symlink():
            return f"{parent} is a symbolic link; cigen writes only inside the project"
        if (root / parent).exists() and not (root / parent).is_dir():
            return f"{parent} is a file; cigen needs a folder there. Move the file away"
    target = root / rel
    if target.is_dir() and not target.is_symlink():
        return "is a folder; cigen writes a file there. Move the folder away"
    if target.exists() and not target.is_file():
        return "is not a regular file; cigen writes only those"
    return None


def _cannot(root: Path, rel: str, verb: str, e: Exception) -> str:
    if isinstance(e, IsADirectoryError):
        return f"{rel}: is a folder; cigen writes a file there. Move the folder away"
    if isinstance(e, NotADirectoryError):
        blocker = next((p for p in Path(rel).parents if (root / p).is_file()), Path(rel).parent)
        return f"{rel}: {blocker} is a file; cigen needs a folder there. Move the file away"
    why = getattr(e, "strerror", None) or str(e)
    return f"{rel}: cannot {verb}: {why}"


def drift(outputs: Iterable[Output], root: Path) -> list[Drift]:
    """Each output that is missing, differs from its rendering, or lost its exec bit."""
    found = []
    for output in outputs:
        rel, current = output.path, _on_disk(root, output.path)
        if current is None:
            found.append(Drift(rel, "missing", ""))
        elif current != output.text.encode("utf-8"):
            shown = current.decode("utf-8", "replace")
            found.append(Drift(rel, "stale", _diff(rel, shown, output.text), is_generated(shown)))
        elif output.executable and not is_executable((root / rel).stat().st_mode):
            found.append(Drift(rel, "mode", ""))
    return found


class Orphan(NamedTuple):
    path: str
    removable: bool  # it carries the marker and holds exactly what cigen wrote


def orphans(outputs: Iterable[Output], root: Path) -> list[Orphan]:
    """Files the manifest on disk says cigen wrote, which the current outputs no longer hold."""
    recorded = manifest.parse(read(root, manifest.PATH) or "")
    current = {o.key for o in outputs}
    found = []
    for rel, digest in sorted(recorded.items()):
        if rel in current or not _inside(root, rel):
            continue
        data = _on_disk(root, rel)
        if data is not None:
            text = data.decode("utf-8", "replace")
            found.append(Orphan(rel, is_generated(text) and manifest.digest(text) == digest
                                and data == text.encode("utf-8")))
    return found


def remove(orphans: Iterable[Orphan], root: Path) -> list[str]:
    """Delete the removable orphans; nothing else is ever deleted."""
    removed = []
    for orphan in orphans:
        if orphan.removable:
            try:
                os.unlink(root / orphan.path)
            except OSError as e:
                raise RenderError(_cannot(root, orphan.path, "remove", e)) from e
            removed.append(orphan.path)
    return removed


def _inside(root: Path, rel: str) -> bool:
    """A plain relative path to a regular file, reached through no symbolic link."""
    key = normalise(rel)
    if key != rel or key.startswith(("/", "../")) or key.startswith(".git/") or key == "..":
        return False
    path = root
    for part in Path(key).parts:
        path = path / part
        with contextlib.suppress(OSError):
            if path.is_symlink():
                return False
    return path.is_file()


def _diff(rel: str, current: str, text: str) -> str:
    lines = difflib.unified_diff(
        current.splitlines(keepends=True), text.splitlines(keepends=True),
        f"{rel} (on disk)", f"{rel} (rendered)",
    )
    # A last line without a newline would run into the next line of the diff.
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)


def write(outputs: Iterable[Output], root: Path, force: bool = False) -> list[str]:
    """Write what changed, atomically; refuse (and write nothing) over a user's own files."""
    planned = {o.path: o for o in outputs}
    changes = drift(planned.values(), root)
    refused = [d.path for d in changes if not d.ours]
    if refused and not force:
        raise RenderError(
            f"{', '.join(refused)}: not generated by cigen (no marker); nothing written. "
            "Move it away, or pass --force to replace it"
        )
    _clean_stale(root, planned)
    staged: list[tuple[str, Path]] = []
    created = _missing_folders(root, [planned[c.path] for c in changes])
    try:
        for change in changes:
            target = root / change.path
            staged.append((_stage(root, planned[change.path]), target))
        for tmp, target in staged:
            os.replace(tmp, target)
    except (OSError, RenderError) as e:
        for tmp, _ in staged:
            _discard(tmp)
        for folder in reversed(created):  # deepest first; only the empty ones go
            with contextlib.suppress(OSError):
                folder.rmdir()
        if isinstance(e, RenderError):
            raise
        raise RenderError(f"cannot write: {e}") from e
    return [d.path for d in changes]


def _missing_folders(root: Path, outputs: list[Output]) -> list[Path]:
    """The folders writing `outputs` creates, parents first."""
    missing: dict[Path, None] = {}
    for output in outputs:
        for parent in reversed(Path(output.key).parents[:-1]):
            if not (root / parent).exists():
                missing[root / parent] = None
    return list(missing)


def _clean_stale(root: Path, files: Iterable[str]) -> None:
    """Delete the temp files a killed render left next to its outputs (its own pattern only,
    and only old ones: a render running at the same time keeps its own)."""
    now = time.time()
    for rel in files:
        target = root / rel
        own = re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.tmp")
        with contextlib.suppress(OSError):
            for entry in os.scandir(target.parent):
                if own.fullmatch(entry.name) and now - entry.stat().st_mtime > _STALE_SECONDS:
                    os.unlink(entry.path)


def _stage(root: Path, output: Output) -> str:
    """A finished temp file next to the output, so that os.replace swaps it in atomically."""
    rel, text = output.path, output.text
    target = root / rel
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as e:
        raise RenderError(_cannot(root, rel, "write", e)) from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _mode(target, output.executable))
    except OSError as e:
        _discard(tmp)
        raise RenderError(_cannot(root, rel, "write", e)) from e
    return tmp


def _discard(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass  # already renamed into place


def _mode(target: Path, exe: bool) -> int:
    """An existing file keeps its mode (scripts gain exec where readable); else the umask's."""
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask | stat.S_IRUSR | stat.S_IWUSR
    if exe:
        mode |= (mode & 0o444) >> 2
    return mode
