"""The manifest: which files cigen generated, and the digest of what it wrote to each.

It is itself a generated file, so `check` keeps it current like any other; what it adds is
memory: a file cigen wrote earlier and no longer writes is found as an orphan (projen keeps
`.projen/files.json` for the same reason).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from cigen.core import Output

PATH = ".cigen/files.json"


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def render(outputs: Iterable[Output], origin: str) -> str:
    """The manifest's text; `origin` is the marker line every generated file carries."""
    files = {o.key: digest(o.text) for o in outputs}
    return json.dumps({"//": origin, "files": dict(sorted(files.items()))}, indent=2) + "\n"


def parse(text: str) -> dict[str, str]:
    """Path -> digest from a manifest as found on disk; anything unreadable is no manifest."""
    try:
        files = json.loads(text)["files"]
    except (ValueError, KeyError, TypeError):
        return {}
    if not isinstance(files, dict):
        return {}
    return {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, str)}
