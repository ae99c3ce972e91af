from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator
from importlib import resources
from typing import Any


@functools.lru_cache(maxsize=1)
def text() -> str:
    return resources.files("cigen.schemas").joinpath("cigen.schema.json").read_text("utf-8")


@functools.lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(text())
    return result


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    target: dict[str, Any] = schema()["$defs"][ref.rsplit("/", 1)[1]]
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


def _node(dotted: str) -> dict[str, Any]:
    node = schema()
    for key in dotted.split("."):
        node = _resolve(node["properties"][key])
    return node


def static_default(dotted: str) -> Any:
    """The schema's `default` for a key path such as "circleci.orbs"."""
    return copy.deepcopy(_node(dotted)["default"])


def apply_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """A plain copy of a schema-valid descriptor with every static default filled in."""
    filled: dict[str, Any] = _fill(schema(), data)
    return filled


def _fill(node: dict[str, Any], value: Any) -> Any:
    node = _resolve(node)
    if isinstance(value, dict):
        props = node.get("properties", {})
        out = {
            k: _fill(props.get(k, node.get("additionalProperties") or {}), v)
            for k, v in value.items()
        }
        for key, sub in props.items():
            sub = _resolve(sub)
            if key not in out and "default" in sub:
                out[key] = _fill(sub, copy.deepcopy(sub["default"]))
        return out
    if isinstance(value, list):
        return [_fill(node.get("items", {}), v) for v in value]
    return value


def conforms(data: Any) -> bool:
    """True when `data` is valid against the schema, answered without importing jsonschema
    (a third of a cold `cigen check`). Exact for JSON values and the keywords the schema uses;
    anything else answers False, and the full validator then decides and explains."""
    try:
        return _conforms(schema(), data)
    except _Unsure:
        return False


class _Unsure(Exception):
    """A keyword, `$ref` or value this quick check does not know."""


_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description", "default"})
_JSON = (dict, list, str, bool, int, float, type(None))


def _conforms(node: Any, value: Any) -> bool:
    if isinstance(node, bool):
        return node
    if type(value) not in _JSON or (type(value) is dict and any(type(k) is not str for k in value)):
        raise _Unsure
    for key, arg in node.items():
        if key in _ANNOTATIONS or key.startswith("x-"):
            continue
        check = _KEYWORDS.get(key)
        if check is None:
            raise _Unsure
        if not check(arg, value, node):
            return False
    return True


def _is_type(kind: str, value: Any) -> bool:
    if kind == "integer":
        return type(value) is int or (type(value) is float and value.is_integer())
    if kind == "number":
        return type(value) in (int, float)
    return type(value) is _TYPES[kind]


_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _equal(a: Any, b: Any) -> bool:
    """JSON equality, as JSON Schema's enum, const and uniqueItems use it: 1 == 1.0, true != 1."""
    numbers = (int, float)
    if type(a) in numbers and type(b) in numbers:
        return bool(a == b)
    if type(a) is not type(b):
        return False
    if type(a) is list:
        return len(a) == len(b) and all(map(_equal, a, b))
    if type(a) is dict:
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _ref(ref: str, value: Any, _: Any) -> bool:
    prefix = "#/$defs/"
    if not ref.startswith(prefix) or "/" in ref[len(prefix):]:
        raise _Unsure
    return _conforms(schema()["$defs"][ref[len(prefix):]], value)


def _additional(sub: Any, value: Any, node: Any) -> bool:
    if type(value) is not dict:
        return True
    named = node.get("properties", {})
    return all(_conforms(sub, v) for k, v in value.items() if k not in named)


def _unique(on: bool, value: Any, _: Any) -> bool:
    if not on or type(value) is not list:
        return True
    if all(type(v) is str for v in value):
        return len(set(value)) == len(value)
    return not any(_equal(a, b) for i, a in enumerate(value) for b in value[i + 1:])


def _if(test: Any, value: Any, node: Any) -> bool:
    branch = node.get("then" if _conforms(test, value) else "else", True)
    return _conforms(branch, value)


def _number(value: Any) -> bool:
    return type(value) in (int, float)


@functools.cache
def _ecma(regex: str) -> re.Pattern[str]:
    out, escaped, in_class = [], False, False
    for char in regex:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            char = r"\Z"  # Python's end of string, whatever comes before it
        out.append(char)
    return re.compile("".join(out))


_KEYWORDS: dict[str, Any] = {
    "$ref": _ref,
    "type": lambda kind, v, _: any(_is_type(k, v) for k in ([kind] if type(kind) is str
                                                              else kind)),
    "enum": lambda options, v, _: any(_equal(v, o) for o in options),
    "const": lambda c, v, _: _equal(v, c),
    "properties": lambda subs, v, _: type(v) is not dict or all(
        _conforms(sub, v[k]) for k, sub in subs.items() if k in v),
    "additionalProperties": _additional,
    "required": lambda keys, v, _: type(v) is not dict or all(k in v for k in keys),
    "propertyNames": lambda sub, v, _: type(v) is not dict or all(_conforms(sub, k) for k in v),
    "items": lambda sub, v, _: type(v) is not list or all(_conforms(sub, i) for i in v),
    "uniqueItems": _unique,
    "minimum": lambda n, v, _: not (_number(v) and v < n),  # NaN passes, as in jsonschema
    "maximum": lambda n, v, _: not (_number(v) and v > n),
    "minLength": lambda n, v, _: type(v) is not str or len(v) >= n,
    "maxItems": lambda n, v, _: type(v) is not list or len(v) <= n,
    "minItems": lambda n, v, _: type(v) is not list or len(v) >= n,
    "pattern": lambda p, v, _: type(v) is not str or _ecma(p).search(v) is not None,
    "if": _if,
    "then": lambda *_: True,  # answered by "if"
    "else": lambda *_: True,
}


def validator() -> Any:
    """A validator of the descriptor schema (ECMA-262 patterns, see `_validator_class`)."""
    return _validator_class()(schema())


@functools.lru_cache(maxsize=1)
def _validator_class() -> Any:
    """Draft 2020-12 with JSON Schema's own (ECMA-262) `$`: the end of the string. Python's `$`
    also matches before a final newline, so `main` and a newline would pass ^[a-z]+$."""
    from jsonschema import Draft202012Validator, ValidationError, validators

    def pattern(validator: Any, regex: str, instance: Any, _: Any) -> Iterator[Any]:
        if validator.is_type(instance, "string") and not _ecma(regex).search(instance):
            yield ValidationError(f"{instance!r} does not match {regex!r}")

    return validators.extend(Draft202012Validator, {"pattern": pattern})
