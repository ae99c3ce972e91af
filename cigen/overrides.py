"""`overrides`: RFC 6902 JSON Patch operations on the YAML files cigen writes, applied after
rendering and before validation, so that render writes and check compares the patched text.

The file is read back round-trip (comments, key order and quoting kept), patched, and written
with cigen's own YAML writer; the leading comment lines (the generated-file marker) are kept as
they are. Paths are RFC 6901 JSON Pointers: `/jobs/ct/env/EXTRA`, `~1` for `/`, `~0` for `~`,
`-` for the end of a list.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from cigen.core import Output, Problem, normalise
from cigen.model import INSERTION_POINTS

Operation = dict[str, Any]
_YAML = (".yml", ".yaml")


class PatchError(Exception):
    """An operation that cannot be applied; the message says why."""


def apply(outputs: tuple[Output, ...], overrides: Iterable[tuple[str, tuple[Operation, ...]]]
          ) -> tuple[tuple[Output, ...], list[Problem]]:
    """The outputs with their overrides applied, and every problem, located at the override."""
    by_key = {o.key: o for o in outputs}
    patched: dict[str, Output] = {}
    problems: list[Problem] = []
    for path, operations in overrides:
        output = by_key.get(normalise(path))
        found = list(_refusal(path, output, by_key))
        if found or output is None:
            problems += found
            continue
        try:
            patched[output.key] = replace(output, text=patch_text(output.text, operations))
        except PatchError as e:
            index, why = e.args
            problems.append(Problem(("overrides", path, index), why))
    return tuple(patched.get(o.key, o) for o in outputs), problems


def _refusal(path: str, output: Output | None, by_key: dict[str, Output]) -> Iterator[Problem]:
    if output is None:
        written = ", ".join(sorted(k for k in by_key if k.endswith(_YAML)))
        yield Problem(("overrides", path), f"is not a file cigen writes here; its YAML files "
                      f"are: {written}", at_key=True)
    elif output.origin == ("image", "dockerfile"):
        yield Problem(("overrides", path), f"is the Dockerfile cigen writes: it takes instructions "
                      f"at named points ({', '.join(INSERTION_POINTS)}), not JSON Patch "
                      "operations; see docs/overrides.md", at_key=True)
    elif output.origin == ("image", "kaniko_dockerfile"):
        yield Problem(("overrides", path), "is the Kaniko variant, which cigen converts from "
                      "image.dockerfile: instructions inserted there reach both", at_key=True)
    elif not output.key.endswith(_YAML):
        yield Problem(("overrides", path), "is not a YAML file; overrides patch YAML files only",
                      at_key=True)


def patch_text(text: str, operations: Iterable[Operation]) -> str:
    """`text` (a YAML file cigen wrote) with `operations` applied; PatchError(index, why)."""
    from cigen import yamlio

    lines = text.splitlines(keepends=True)
    head = 0
    while head < len(lines) and lines[head].startswith("#"):
        head += 1
    document = _load("".join(lines[head:]))  # the leading comments are put back as they are
    for index, operation in enumerate(operations):
        try:
            document = _apply_one(document, operation)
        except PatchError as e:
            raise PatchError(index, f"{_describe(operation)}: {e}") from None
    return "".join(lines[:head]) + yamlio.dump(_plain_on(document))


def _describe(operation: Operation) -> str:
    source = f" from {operation['from']}" if "from" in operation else ""
    return f"{operation['op']} {operation['path'] or '(the whole file)'}{source}"


def _load(text: str) -> Any:
    from ruamel.yaml import YAML

    from cigen.yamlio import _Constructor

    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.preserve_quotes = True  # cigen's own quoting (versions) stays as it was written
    return yaml.load(text)


def _plain_on(document: Any) -> Any:
    """GitHub's `on:` key written plain again, in place, with its comments and position."""
    from cigen.yamlio import plain_on

    if not isinstance(document, dict) or "on" not in document or not hasattr(document, "insert"):
        return plain_on(document) if isinstance(document, dict) else document
    position = list(document).index("on")
    value = document.pop("on")
    document.insert(position, next(iter(plain_on({"on": None}))), value)
    return document


def pointer(path: str) -> list[str]:
    """An RFC 6901 pointer's reference tokens; PatchError unless it is one."""
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"{path!r} is not a JSON Pointer (it starts with /)")
    tokens = path[1:].split("/")
    for token in tokens:
        if "~" in token.replace("~0", "").replace("~1", ""):
            raise PatchError(f"{path!r}: ~ is written ~0, and / is written ~1")
    return [t.replace("~1", "/").replace("~0", "~") for t in tokens]


def _apply_one(document: Any, operation: Operation) -> Any:
    op, path = operation["op"], pointer(operation["path"])
    if op == "test":
        if _json(_get(document, path, operation["path"])) != _json(operation["value"]):
            raise PatchError("the value there is not the one the test expects")
        return document
    if op in ("move", "copy"):
        source = pointer(operation["from"])
        if op == "move" and path[:len(source)] == source and len(path) > len(source):
            raise PatchError("cannot move a value into itself")
        value = _get(document, source, operation["from"])
        value = copy.deepcopy(value) if op == "copy" else value
        if op == "move":
            document = _remove(document, source, operation["from"])
        return _add(document, path, value, operation["path"])
    if op == "remove":
        return _remove(document, path, operation["path"])
    if op == "replace":
        _get(document, path, operation["path"])  # must exist
        value = copy.deepcopy(operation["value"])
        if not path:
            return value
        parent, last = _parent(document, path, operation["path"]), path[-1]
        parent[last if isinstance(parent, dict) else _index(last, len(parent) - 1) or 0] = value
        return document  # in place: a replaced key keeps its position
    return _add(document, path, copy.deepcopy(operation["value"]), operation["path"])  # add


def _json(value: Any) -> Any:
    """A value as JSON reads it (ruamel's scalar types are str, int and float subclasses)."""
    return json.loads(json.dumps(value))


def _parent(document: Any, path: list[str], shown: str) -> Any:
    return _get(document, path[:-1], shown) if path else None


def _get(document: Any, path: list[str], shown: str) -> Any:
    node = document
    for depth, token in enumerate(path):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and _index(token, len(node) - 1) is not None:
            node = node[_index(token, len(node) - 1) or 0]
        else:
            at = "/" + "/".join(t.replace("~", "~0").replace("/", "~1") for t in path[:depth + 1])
            where = "" if depth + 1 == len(path) else f" ({at} is not there)"
            raise PatchError(f"{shown} does not exist{where}")
    return node


def _index(word: str, last: int) -> int | None:
    """A list index token (no sign, no leading zero) up to `last`, else None."""
    if word.isdigit() and (len(word) == 1 or word[0] != "0") and int(word) <= last:
        return int(word)
    return None


def _add(document: Any, path: list[str], value: Any, shown: str) -> Any:
    if not path:
        return value  # the whole document
    parent, last = _parent(document, path, shown), path[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        index = len(parent) if last == "-" else _index(last, len(parent))
        if index is None:
            raise PatchError(f"{last!r} is no position in a list of {len(parent)}")
        parent.insert(index, value)
    else:
        raise PatchError("what it names is inside neither a mapping nor a list")
    return document


def _remove(document: Any, path: list[str], shown: str) -> Any:
    if not path:
        raise PatchError("cannot remove the whole file")
    _get(document, path, shown)  # must exist
    parent, last = _parent(document, path, shown), path[-1]
    if isinstance(parent, dict):
        del parent[last]
    else:
        del parent[_index(last, len(parent) - 1) or 0]
    return document
