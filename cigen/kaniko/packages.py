from __future__ import annotations

import re
from typing import NamedTuple

# Edits of shell text that make package installs leave no cache behind once the cache
# mount that held it is gone. `escape` is the line-continuation character of the text:
# the Dockerfile's escape for a RUN line, a backslash inside a heredoc script.

_SEP = r"(?:&&|;)"
_APT_LISTS_CLEAN = re.compile(r"rm\s+-[a-z]*\s+/var/lib/apt/lists")
APT_LISTS_CLEANUP = " && rm -rf /var/lib/apt/lists/*"


class Fixed(NamedTuple):
    text: str
    notes: tuple[str, ...]
    clean_lists: bool = False


def _gap(escape: str) -> str:
    return rf"(?:[ \t]|{re.escape(escape)}[ \t]*\r?\n)"


def _drop_segment(text: str, core: str, escape: str) -> str:
    gap = _gap(escape)
    for pattern in (
        rf"\A{gap}*{core}\s*\Z",
        rf"{core}{gap}*{_SEP}{gap}*",
        rf"{gap}*{_SEP}{gap}*{core}(?=\s*\Z)",
    ):
        text, count = re.subn(pattern, "", text, count=1)
        if count:
            return text
    return text


def _segment_end(text: str, pos: int, escape: str) -> int:
    match = re.compile(rf"(?:{re.escape(escape)}[ \t]*\r?\n|[^&|;\n])*").match(text, pos)
    return match.end() if match else pos


def drop_docker_clean(text: str, escape: str) -> Fixed:
    gap = _gap(escape)
    cores = {
        "rm -f /etc/apt/apt.conf.d/docker-clean": (
            rf"rm{gap}+-[a-z]*f[a-z]*{gap}+/etc/apt/apt\.conf\.d/docker-clean\b"
        ),
        "the Keep-Downloaded-Packages apt setting": (
            rf"echo{gap}+[^\n]*?Keep-Downloaded-Packages[^\n]*?>{gap}*"
            r"/etc/apt/apt\.conf\.d/keep-cache\b"
        ),
    }
    notes = []
    for label, core in cores.items():
        new = _drop_segment(text, core, escape)
        if new != text:
            notes.append(f"dropped {label} (it only served the apt cache mounts)")
        text = new
    return Fixed(text, tuple(notes))


def fix_apk(text: str, escape: str) -> Fixed:
    gap = _gap(escape)
    link = rf"ln{gap}+-[a-z]*s[a-z]*{gap}+/var/cache/apk/?{gap}+/etc/apk/cache/?"
    notes = []
    new = _drop_segment(text, link, escape)
    if new != text:
        notes.append("dropped the ln -s /var/cache/apk /etc/apk/cache that enabled the cache mount")
    text = new
    adds = list(re.finditer(rf"\bapk{gap}+add\b", text))
    for match in reversed(adds):
        end = _segment_end(text, match.end(), escape)
        text = text[: match.end()] + _no_cache(text[match.end() : end]) + text[end:]
    if adds:
        notes.append(
            "apk add now uses --no-cache (the cache mount kept apk's cache out of the image)"
        )
    return Fixed(text, tuple(notes))


def _no_cache(options: str) -> str:
    update = r"[ \t]+(?:--update|-U)(?=[ \t\\`]|\Z)"
    if re.search(r"(?<!\S)--no-cache(?!\S)", options):
        return re.sub(update, "", options)
    if re.search(update, options):
        options = re.sub(update, " --no-cache", options, count=1)
        return re.sub(update, "", options)
    return " --no-cache" + options


def fix_apt(text: str, escape: str) -> Fixed:
    gap = _gap(escape)
    apt = rf"\bapt(?:-get)?(?:{gap}+-\S+)*{gap}+"
    install = re.search(apt + r"(?:install|upgrade|dist-upgrade|full-upgrade|build-dep)\b", text)
    update = re.search(apt + r"update\b", text)
    notes: list[str] = []
    if install is not None and (update is None or update.start() > install.start()):
        text = f"{text[: install.start()]}apt-get update && {text[install.start() :]}"
        notes.append("added apt-get update: the package lists came from the cache mount")
    clean = (install or update) is not None and not _APT_LISTS_CLEAN.search(text)
    if clean:
        notes.append("added rm -rf /var/lib/apt/lists/* to keep the lists out of the image")
    return Fixed(text, tuple(notes), clean)
