"""What .tool-versions says (asdf, and mise, which reads the same file).

The format (asdf docs/manage/configuration.md): one `tool version [fallback...]` per line, `#`
starts a comment, and a version may be `ref:...`, `path:...` or `system` instead of a release.
The asdf plugins for OTP and rebar3 are named `erlang` and `rebar` (the asdf short-name
registry maps rebar to Stratus3D/asdf-rebar).
"""

from __future__ import annotations

import re
from pathlib import Path

from cigen.init.facts import Seen
from cigen.init.yamlfiles import read_text

FILE = ".tool-versions"
_TOOLS = {"erlang": "otp", "rebar": "rebar3"}
_VERSION = re.compile(r"[0-9]+(?:\.[0-9]+)*")


def read(root: Path, notes: list[str]) -> dict[str, Seen]:
    """{"otp": ..., "rebar3": ...} as far as the file names releases of them."""
    found: dict[str, Seen] = {}
    for number, line in enumerate((read_text(root, FILE) or "").splitlines(), 1):
        words = line.split("#", 1)[0].split()
        key = _TOOLS.get(words[0]) if words else None
        if key is None or key in found or len(words) < 2:
            continue
        where = f"{FILE}:{number}"
        if _VERSION.fullmatch(words[1]):
            found[key] = Seen(words[1], where, " ".join(words[:2]))
        else:
            notes.append(f"{where}: {words[0]} {words[1]} names no release; not read")
    return found
