from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, cast

from cigen.core import KeyPath, Problem, printable
from cigen.descriptor import messages

# A scalar as written, after any anchor (&a) or tag (!t): numbers, booleans and dates never
# contain these stop characters.
_TOKEN = re.compile(r"(?:[&!]\S*\s+)*([^\s#,\[\]{}]+)")


def _spots(mapping: Any, key: Any) -> list[int]:
    """[key line, key col, value line, value col]. A key pulled in by a `<<` merge is where the
    merged mapping writes it; failing that, where the mapping starts."""
    found = (mapping.lc.data or {}).get(key)
    if found:
        return list(found)
    for source in getattr(mapping, "merge", None) or ():
        if isinstance(source, dict) and key in source and hasattr(source, "lc"):
            return _spots(source, key)
    return [mapping.lc.line, mapping.lc.col] * 2


def key_position(mapping: Any, key: Any) -> tuple[int, int]:
    spots = _spots(mapping, key)
    return (spots[0], spots[1])


def value_position(mapping: Any, key: Any) -> tuple[int, int]:
    """Where the value is written; for an alias (`*name`), its key: the anchor is elsewhere."""
    spots = _spots(mapping, key)
    return (spots[0], spots[1]) if spots[2:] < spots[:2] else (spots[2], spots[3])


class Document:
    """The parsed descriptor with its text: turns key paths into line:column locations."""

    def __init__(self, shown: str, source: str, tree: Any) -> None:
        self.shown = shown
        self.lines = source.splitlines()
        self.tree = tree

    def format(self, found: Iterable[Problem]) -> list[str]:
        located = sorted({(*self.locate(p), self.dotted(p.path), p.message) for p in found})
        # printable: a value quoted in a message may hold a BOM or a control character
        return [printable(f"{self.shown}:{ln + 1}:{col + 1}: {path}: {msg}")
                for ln, col, path, msg in located]

    def locate(self, problem: Problem) -> tuple[int, int]:
        """The value's position (its key's for at_key); a missing key: where its parent is."""
        path, chain = problem.path, self._chain(problem.path)
        if len(chain) > len(path):
            return self._position(chain[-2], path[-1], problem.at_key) if path else (0, 0)
        depth = len(chain) - 1  # path[:depth] exists, path[depth] does not
        return self._position(chain[-2], path[depth - 1], True) if depth else (0, 0)

    @staticmethod
    def _position(parent: Any, key: Any, at_key: bool) -> tuple[int, int]:
        if isinstance(parent, list):
            pos = cast(Any, parent).lc.item(key)  # a ruamel CommentedSeq
            return (pos[0], pos[1])
        return key_position(parent, key) if at_key else value_position(parent, key)

    def token(self, path: KeyPath) -> str:
        """A value as the user wrote it: `26.10` stays 26.10, not the float 26.1."""
        chain = self._chain(path)
        value = chain[-1]
        if not path or len(chain) <= len(path):
            return "the top level" if not path else "(missing)"
        if isinstance(value, dict):
            return "a mapping"
        if isinstance(value, list):
            return "a list"
        line, col = self._written_at(chain[-2], path[-1])
        match = _TOKEN.match(self.lines[line], col) if line < len(self.lines) else None
        return match.group(1) if match else str(value)

    @staticmethod
    def _written_at(parent: Any, key: Any) -> tuple[int, int]:
        """Where a value's text is: for an alias, at its anchor."""
        if isinstance(parent, list):
            pos = cast(Any, parent).lc.item(key)
            return (pos[0], pos[1])
        spots = _spots(parent, key)
        return (spots[2], spots[3])

    def dotted(self, path: KeyPath) -> str:
        out, node = "", self.tree
        for key in path:
            if isinstance(node, list):
                out += f"[{key}]"
            else:
                name = str(key) if isinstance(key, (str, int)) else messages.show_key(key)
                out += f".{name}" if out else name
            node = node[key] if has(node, key) else None
        return out or "(top level)"

    def _chain(self, path: KeyPath) -> list[Any]:
        """The nodes along `path`, from the root, as far as they exist."""
        chain = [self.tree]
        for key in path:
            if not has(chain[-1], key):
                break
            chain.append(chain[-1][key])
        return chain


def has(node: Any, key: Any) -> bool:
    if isinstance(node, dict):
        return key in node
    return isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node)
