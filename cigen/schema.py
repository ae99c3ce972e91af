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
