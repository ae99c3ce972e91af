from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from cigen import action_pins
from cigen.action_pins import Pin
from cigen.errors import RenderError
from cigen.model import GitHub
from cigen.yamlio import dump, plain_on


def pin(repo: str, github: GitHub) -> Pin:
    """The pin of an action: the repository's (github.action_pins), else cigen's shipped one."""
    found = github.pins.get(repo)
    if found is not None:
        return Pin(*found)
    shipped = action_pins.shipped().get(repo)
    if shipped is None:
        raise RenderError(f"no pin for action {repo} in {github.action_pins} or "
                          f"{action_pins.SHIPPED}")
    return shipped


def uses(repo: str, github: GitHub) -> str:
    """The `uses:` value of an action: its release commit, or its major tag when not pinned."""
    found = pin(repo, github)
    return f"{repo}@{found.sha}" if github.pin_actions else f"{repo}@{found.tag.split('.', 1)[0]}"


def uses_comment(value: str, github: GitHub) -> str:
    """The comment on a `uses:` line: the release a SHA stands for, or why a tag is allowed."""
    repo, at = value.split("@", 1)
    found = pin(repo, github)
    if at == found.sha:
        return found.tag
    # A moving tag was chosen in cigen.yaml; say so where zizmor (unpinned-uses) will look.
    return "zizmor: ignore[unpinned-uses] -- github.pin_actions is false in cigen.yaml"


Note = tuple[tuple[str, Any], str]  # ((key, value) of a one-line entry, its comment)


def uses_notes(values: Iterable[str], github: GitHub) -> list[Note]:
    return [(("uses", value), uses_comment(value, github)) for value in values]


def comments(notes: list[Note]) -> dict[str, str]:
    """The entries of `notes` as `dump` writes them -> their comments (what `annotate` takes);
    one dump for all of them, since each dump costs milliseconds."""
    lines = entry_lines([entry for entry, _ in notes])
    return dict(zip(lines, (comment for _, comment in notes), strict=True))


def entry_lines(entries: list[tuple[str, Any]]) -> list[str]:
    """One-line mapping entries exactly as `yamlio.dump` writes them."""
    text = dump([plain_on({key: value}) for key, value in entries])
    return [line.lstrip(" ")[2:] for line in text.splitlines()]


def line_of(key: str, value: Any) -> str:
    (line,) = entry_lines([(key, value)])
    return line


_BLOCK_START = re.compile(r"(?:^|: |- )[|>][-+]?$")  # the entry opens a literal/folded scalar


def _entry(line: str) -> tuple[int, int, str]:
    """(indent, column of the entry, the entry): `  - uses: x` is (2, 4, "uses: x")."""
    stripped = line.lstrip(" ")
    indent = len(line) - len(stripped)
    dash = 2 if stripped.startswith("- ") else 0
    return indent, indent + dash, stripped[dash:]


def annotate(text: str, comments: Mapping[str, str]) -> str:
    """Append ` # comment` to each line whose entry (indent and `- ` removed) is a key of comments.

    Comments cannot travel through `dump`; whole entries are matched, never text inside a block
    scalar (a `run:` script), so a value that only contains a key is never touched.
    """
    lines, block = [], -1  # column of the key whose block scalar is being read
    for line in text.split("\n"):
        indent, column, entry = _entry(line)
        if block >= 0 and (indent > block or not line.strip()):
            lines.append(line)
            continue
        block = column if _BLOCK_START.search(entry) else -1
        comment = comments.get(entry)
        lines.append(f"{line} # {comment}" if comment else line)
    return "\n".join(lines)
