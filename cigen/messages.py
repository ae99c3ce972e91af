from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterator
from typing import Any

from cigen.schema import Path, Problem

_TYPE_NAMES = {"string": "a string", "integer": "a whole number", "boolean": "true or false",
               "object": "a mapping", "array": "a list", "number": "a number"}


def explain(error: Any, token: Callable[[Path], str]) -> Iterator[Problem]:
    """Turn one jsonschema ValidationError into located, readable problems."""
    path: Path = tuple(error.absolute_path)
    if "propertyNames" in error.relative_schema_path:
        # The instance is a key of the mapping at `path`: point at that key.
        key = error.instance
        yield Problem((*path, key), f"{_show(key)} {_pattern_text(error)}", at_key=True)
        return
    handler = _HANDLERS.get(error.validator)
    if handler is None:
        yield Problem(path, error.message)
    else:
        yield from handler(error, path, token)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, default=str)


def _value(value: Any, path: Path, token: Callable[[Path], str]) -> str:
    return _show(value) if isinstance(value, str) else token(path)


def _pattern_text(error: Any) -> str:
    return str(error.schema.get("x-pattern-message", f"does not match {error.validator_value}"))


def _type(error: Any, path: Path, token: Callable[[Path], str]) -> Iterator[Problem]:
    wanted = error.validator_value
    written = token(path)
    if wanted == "string" and not isinstance(error.instance, (dict, list)):
        hint = "quote versions" if "version" in _pattern_text(error) else "quote it"
        yield Problem(path, f"{written} is not a string; {hint}: {json.dumps(written)}")
        return
    yield Problem(path, f"{written} is not {_TYPE_NAMES.get(wanted, wanted)}")


def _additional(error: Any, path: Path, token: Callable[[Path], str]) -> Iterator[Problem]:
    known = list(error.schema.get("properties", {}))
    allowed = set(known)
    for key in error.instance:
        if key in allowed:
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = f'; did you mean "{close[0]}"?' if close else f"; known keys: {', '.join(known)}"
        yield Problem((*path, key), f"unknown key{hint}", at_key=True)


def _required(error: Any, path: Path, token: Callable[[Path], str]) -> Iterator[Problem]:
    for key in error.validator_value:
        if key not in error.instance:
            yield Problem((*path, key), "required key is missing", at_key=True)


def _enum(error: Any, path: Path, token: Callable[[Path], str]) -> Iterator[Problem]:
    choices = ", ".join(str(c) for c in error.validator_value)
    yield Problem(path, f"{_value(error.instance, path, token)} is not one of: {choices}")


def _const(error: Any, path: Path, token: Callable[[Path], str]) -> Iterator[Problem]:
    shown = _value(error.instance, path, token)
    yield Problem(path, f"{shown} is not supported; only {error.validator_value} exists")


def _pattern(error: Any, path: Path, token: Callable[[Path], str]) -> Iterator[Problem]:
    yield Problem(path, f"{_show(error.instance)} {_pattern_text(error)}")


def _range(error: Any, path: Path, token: Callable[[Path], str]) -> Iterator[Problem]:
    side = "less than the minimum" if error.validator == "minimum" else "greater than the maximum"
    yield Problem(path, f"{token(path)} is {side}, {error.validator_value}")


def _unique(error: Any, path: Path, token: Callable[[Path], str]) -> Iterator[Problem]:
    yield Problem(path, "has duplicate items")


def _min_length(error: Any, path: Path, token: Callable[[Path], str]) -> Iterator[Problem]:
    yield Problem(path, "must not be empty")


_HANDLERS = {
    "type": _type,
    "additionalProperties": _additional,
    "required": _required,
    "enum": _enum,
    "const": _const,
    "pattern": _pattern,
    "minimum": _range,
    "maximum": _range,
    "uniqueItems": _unique,
    "minLength": _min_length,
}
