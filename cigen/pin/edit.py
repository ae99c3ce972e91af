from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_PLAIN_END = frozenset(" \t\r\n,]}#")


class EditError(ValueError):
    """A value cannot be changed in place; the message says why."""


@dataclass(frozen=True)
class Replace:
    """Replace the scalar `old` that starts at line:col (0-based, as ruamel's `.lc` gives it)."""

    line: int
    col: int
    old: str
    new: str


@dataclass(frozen=True)
class Insert:
    """New lines (without line ends) after line `after`; None appends them to the end."""

    after: int | None
    lines: tuple[str, ...]


def split_lines(text: str) -> list[str]:
    """Lines with their own line ends, as YAML counts them (\\n, \\r\\n or \\r)."""
    return _LINE.findall(text)


def apply(text: str, replaces: Iterable[Replace], inserts: Sequence[Insert]) -> str:
    """`text` with the scalars replaced and the lines inserted; every other byte kept."""
    lines = split_lines(text)
    for r in sorted(replaces, key=lambda r: (r.line, r.col), reverse=True):
        start = scalar_start(lines, r)
        lines[r.line] = lines[r.line][:start] + r.new + lines[r.line][start + len(r.old) :]
    newline = _newline(lines)
    for insert in sorted(inserts, key=lambda i: -1 if i.after is None else i.after, reverse=True):
        added = [line + newline for line in insert.lines]
        if insert.after is None:
            if lines and not lines[-1].endswith(("\n", "\r")):
                lines[-1] += newline
            lines += added
        else:
            lines[insert.after + 1 : insert.after + 1] = added
    return "".join(lines)


def scalar_start(lines: list[str], r: Replace) -> int:
    """Column where the scalar's characters start; EditError unless exactly `old` is there."""
    text = lines[r.line] if r.line < len(lines) else ""
    quote = text[r.col : r.col + 1]
    if quote in ("'", '"'):
        start = r.col + 1
        if text[start : start + len(r.old) + 1] == r.old + quote:
            return start
    elif text.startswith(r.old, r.col) and text[
        r.col + len(r.old) : r.col + len(r.old) + 1
    ] in _PLAIN_END | {""}:
        return r.col
    raise EditError(
        "cannot rewrite this value in place; write it as one plain or quoted scalar "
        "(no anchor, alias, tag or line break)"
    )


def _newline(lines: list[str]) -> str:
    for line in lines:
        for end in ("\r\n", "\n", "\r"):
            if line.endswith(end):
                return end
    return "\n"


def add_keys(tree: Any, section: str, entries: Sequence[str]) -> Insert:
    """Lines adding `entries` ("key: value  # note") to block mapping `section` (made if absent)."""
    unit = _indent_unit(tree)
    if section not in tree:
        return Insert(None, (f"{section}:", *(" " * unit + e for e in entries)))
    mapping = tree[section]
    if not hasattr(mapping, "fa") or mapping.fa.flow_style() or not mapping:
        raise EditError(
            f"{section} is written in flow style ({{...}}); make it a block mapping, "
            "or write the keys yourself"
        )
    after = tree.lc.key(section)[0]
    return Insert(after, tuple(" " * mapping.lc.col + e for e in entries))


def _indent_unit(tree: Any) -> int:
    for value in tree.values():
        if hasattr(value, "fa") and not value.fa.flow_style() and value:
            return int(value.lc.col) or 2
    return 2
