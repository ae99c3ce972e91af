from __future__ import annotations

import csv
import json
import posixpath
from typing import NamedTuple

from cigen.kaniko.source import keyword_like

_TRUE = {"", "true", "1"}
_APK_CACHES = ("/var/cache/apk", "/etc/apk/cache")
_APT_CACHES = ("/var/cache/apt", "/var/lib/apt")


class Mount(NamedTuple):
    type: str
    target: str
    source: str
    from_: str | None
    writable: bool
    keys: frozenset[str] = frozenset()  # the options as written, e.g. {"type", "id", "target"}


class CopyKey(NamedTuple):
    from_: str | None
    source: str
    dest: str


def parse_mount(spec: str) -> Mount:
    """Parse the value of --mount; raise ValueError when BuildKit would reject it too."""
    fields = dict(_field(item) for item in next(csv.reader([spec])) if item)
    kind = fields.get("type", "bind").lower()
    target = fields.get("target") or fields.get("dst") or fields.get("destination")
    if target is None and kind not in ("secret", "ssh"):
        raise ValueError(f"--mount={spec} has no target")
    source = fields.get("source") or fields.get("src") or "."
    return Mount(kind, target or "", source, fields.get("from"), _writable(kind, fields),
                 frozenset(fields))


def _field(item: str) -> tuple[str, str]:
    key, _, value = item.partition("=")
    return key.strip().lower(), value.strip()


def _writable(kind: str, fields: dict[str, str]) -> bool:
    if fields.get("rw", fields.get("readwrite", "false")).lower() in _TRUE:
        return True
    if fields.get("ro", fields.get("readonly", "false")).lower() in _TRUE:
        return False
    return kind != "bind"


def resolve(workdir: str | None, target: str) -> str:
    """The mount target as a COPY destination: absolute when the WORKDIR is known."""
    if target.startswith("/"):
        return posixpath.normpath(target)
    if workdir is None or "$" in target:
        # COPY resolves a relative destination against the same WORKDIR the mount used
        return target
    return posixpath.normpath(posixpath.join(workdir, target))


def copy_key(mount: Mount, workdir: str | None) -> CopyKey:
    source = posixpath.normpath("/" + mount.source.lstrip("/"))
    return CopyKey(mount.from_, source, resolve(workdir, mount.target))


def copy_line(key: CopyKey, mount: Mount, example: str) -> str:
    words = [keyword_like(example, "COPY")]
    if key.from_:
        words.append(f"--from={key.from_}")
    source = mount.source
    if ".." in source.split("/"):  # BuildKit resolves it inside its root, never above it
        source = key.source if key.from_ else key.source.lstrip("/") or "."
    return copy_words(words, [source, key.dest])


def copy_words(words: list[str], paths: list[str]) -> str:
    """COPY's words and paths; in JSON form when a path has a blank, or looks like a flag
    (-x, --mount=...), which the plain form would read as one."""
    if any(path.startswith("-") or any(c.isspace() for c in path) for path in paths):
        return " ".join([*words, json.dumps(paths)])
    return " ".join([*words, *paths])


def is_apk_cache(mount: Mount) -> bool:
    return _under(mount.target, _APK_CACHES)


def is_apt_cache(mount: Mount) -> bool:
    return _under(mount.target, _APT_CACHES)


def _under(path: str, roots: tuple[str, ...]) -> bool:
    path = posixpath.normpath(path)
    return any(path == root or path.startswith(root + "/") for root in roots)


def bind_note(mount: Mount, key: CopyKey, copy: str) -> str:
    what = f"{mount.source} from {mount.from_ or 'the build context'}"
    text = f"bind mount of {what} became `{copy}` before the RUN: the files stay in the image"
    if mount.writable:
        return text + ", and so do the command's writes there (BuildKit discarded them)"
    return text + f" and merge with what {key.dest} already held"
