from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from cigen.core import KeyPath, Problem

_TYPE_NAMES = {"string": "a string", "integer": "a whole number", "boolean": "true or false",
               "object": "a mapping", "array": "a list", "number": "a number"}
MINIMAL = 'version: 1, name, registry and erlang: {otp: "26.2.5"}'
# What to write when a required key is missing, by key path (list items as "[]").
_EXAMPLES = {
    ("version",): "version: 1",
    ("name",): "name: service_discovery",
    ("registry",): "registry: ghcr.io/acme",
    ("erlang",): 'erlang: {otp: "26.2.5"}',
    ("erlang", "otp"): 'otp: "26.2.5"',
    ("erlang", "services", "[]", "name"): "name: postgres",
    ("erlang", "services", "[]", "image"): "image: postgres:16-alpine",
}


def explain(error: Any, token: Callable[[KeyPath], str]) -> Iterator[Problem]:
    """Turn one jsonschema ValidationError into located, readable problems."""
    path: KeyPath = tuple(error.absolute_path)
    if "propertyNames" in error.relative_schema_path:
        yield from _key_name(error, path)
        return
    if error.instance is None and path:
        # `key:` with nothing after it; point at the key, the value's position is the next line
        yield Problem(path, f"has no value; {_expected(error.schema)}", at_key=True)
        return
    handler = _HANDLERS.get(error.validator)
    if handler is None:
        yield Problem(path, error.message)
    else:
        yield from handler(error, path, token)


def _key_name(error: Any, path: KeyPath) -> Iterator[Problem]:
    # The instance is a key of the mapping at `path`: point at that key.
    key = error.instance
    if not isinstance(key, str):
        return  # reported as a non-string key before validation
    if error.validator == "enum":
        text = f"is not one of: {_choices(error.validator_value)}"
    else:
        text = _pattern_text(error)
    yield Problem((*path, key), f"{_show(key)} {text}", at_key=True)


def _expected(node: dict[str, Any]) -> str:
    if "enum" in node:
        return f"expected one of: {_choices(node['enum'])}"
    if "const" in node:
        return f"expected {node['const']}"
    kind = node.get("type", "")
    kind = kind[0] if isinstance(kind, list) else kind  # image: a mapping (or false, a library)
    return f"expected {_TYPE_NAMES.get(kind, 'a value')}"


def _choices(values: list[Any]) -> str:
    return ", ".join(str(v) for v in values)


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _value(value: Any, path: KeyPath, token: Callable[[KeyPath], str]) -> str:
    return _show(value) if isinstance(value, str) else token(path)


def _pattern_text(error: Any) -> str:
    return str(error.schema.get("x-pattern-message", f"does not match {error.validator_value}"))


def _type(error: Any, path: KeyPath, token: Callable[[KeyPath], str]) -> Iterator[Problem]:
    wanted = error.validator_value
    written = token(path)
    if "x-type-message" in error.schema:  # a key of several types says which values it takes
        yield Problem(path, f"{written} {error.schema['x-type-message']}")
        return
    if wanted == "string" and not isinstance(error.instance, (dict, list)):
        hint = "quote versions" if "version" in _pattern_text(error) else "quote it"
        yield Problem(path, f"{written} is not a string; {hint}: {json.dumps(written)}")
        return
    if isinstance(error.instance, (dict, list)):
        yield Problem(path, f"is {written}; expected {_TYPE_NAMES.get(wanted, wanted)}")
        return
    yield Problem(path, f"{written} is not {_TYPE_NAMES.get(wanted, wanted)}")


def _additional(error: Any, path: KeyPath, token: Callable[[KeyPath], str]) -> Iterator[Problem]:
    known = list(error.schema.get("properties", {}))
    for key in error.instance:
        if key in known or not isinstance(key, str):
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f'; did you mean "{close[0]}"?' if close else f"; known keys: {', '.join(known)}"
        yield Problem((*path, key), f"unknown key{hint}", at_key=True)


def _required(error: Any, path: KeyPath, token: Callable[[KeyPath], str]) -> Iterator[Problem]:
    for key in error.validator_value:
        if key not in error.instance:
            generic = tuple("[]" if isinstance(k, int) else k for k in (*path, key))
            example = _EXAMPLES.get(generic)
            hint = f"; add it, e.g. {example}" if example else ""
            yield Problem((*path, key), f"required key is missing{hint}", at_key=True)


def _enum(error: Any, path: KeyPath, token: Callable[[KeyPath], str]) -> Iterator[Problem]:
    choices = _choices(error.validator_value)
    yield Problem(path, f"{_value(error.instance, path, token)} is not one of: {choices}")


def _const(error: Any, path: KeyPath, token: Callable[[KeyPath], str]) -> Iterator[Problem]:
    wanted = error.validator_value
    if isinstance(error.instance, str) and error.instance == str(wanted):
        yield Problem(path, f"{_show(error.instance)} is quoted; write {wanted} without quotes")
        return
    shown = _value(error.instance, path, token)
    custom = error.schema.get("x-const-message")
    yield Problem(path, f"{shown} {custom}" if custom else f"{shown} is not supported; only "
                  f"{wanted} exists")


def _pattern(error: Any, path: KeyPath, token: Callable[[KeyPath], str]) -> Iterator[Problem]:
    yield Problem(path, f"{_show(error.instance)} {_pattern_text(error)}")


def _range(error: Any, path: KeyPath, token: Callable[[KeyPath], str]) -> Iterator[Problem]:
    low, high = error.schema.get("minimum"), error.schema.get("maximum")
    if low is not None and high is not None:
        yield Problem(path, f"{token(path)} is out of range: {low} to {high}")
        return
    side = "less than the minimum" if error.validator == "minimum" else "greater than the maximum"
    yield Problem(path, f"{token(path)} is {side}, {error.validator_value}")


def _unique(error: Any, path: KeyPath, token: Callable[[KeyPath], str]) -> Iterator[Problem]:
    items = list(error.instance)
    twice = dict.fromkeys(_show(v) for i, v in enumerate(items) if v in items[:i])
    yield Problem(path, f"lists {', '.join(twice)} more than once")


def _min_length(error: Any, path: KeyPath, token: Callable[[KeyPath], str]) -> Iterator[Problem]:
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


# Problems found before the schema can run: each returns "LINE:COL: message" or a bare message.


def not_utf8(data: bytes, start: int) -> str:
    line_start = data.rfind(b"\n", 0, start) + 1
    col = len(data[line_start:start].decode("utf-8", "replace")) + 1
    line = data.count(b"\n", 0, start) + 1
    return f"{line}:{col}: not UTF-8 text (byte {data[start]:#04x}); save the file as UTF-8"


def not_a_mapping(tree: Any) -> str:
    kind = "a list" if isinstance(tree, list) else f"the single value {_show(str(tree))}"
    return f"the top level is {kind}; a descriptor is a mapping of keys: {MINIMAL}"


def alias_bomb(limit: int) -> str:
    return (f"YAML aliases (*name) expand this to over {limit} values; refusing it "
            "(a descriptor needs no such nesting)")


def bad_key(key: Any) -> str:
    if isinstance(key, (tuple, list, Mapping)):
        return "a key must be a plain name, not a list or mapping"
    return f"key {_show(key)} is not a string; write keys as names, or quote it"


def yaml_error(e: Any) -> str:
    """A ruamel parse error as `LINE:COL: message`, with the context that explains it."""
    mark = e.problem_mark or e.context_mark
    problem = str(e.problem or e.context or "not valid YAML")
    if "'\\t'" in problem:
        problem = "a tab character; indent YAML with spaces"
    elif "duplicate key" in problem:
        problem = problem.replace("found duplicate key", "duplicate key").split(" with value")[0]
        problem += "; a key may appear once in a mapping"
    elif "another document" in problem:
        problem = "a second YAML document starts here; a descriptor is one document"
    elif "mapping values are not allowed" in problem:
        problem += " (a value with ': ' in it needs quotes; or check the indentation)"
    elif "flow" in str(e.context) and e.context_mark is not None:
        ctx, bracket = e.context_mark, "{" if "mapping" in str(e.context) else "["
        problem = f'{problem} (the "{bracket}" at {ctx.line + 1}:{ctx.column + 1} is not closed)'
    elif e.context and e.context_mark and e.context_mark is not mark:
        ctx = e.context_mark
        problem += f" ({e.context} that starts at {ctx.line + 1}:{ctx.column + 1})"
    where = f"{mark.line + 1}:{mark.column + 1}:" if mark else ""
    return f"{where} {problem}"


def show_key(key: Any) -> str:
    return _show(_plainly(key))


def _plainly(value: Any) -> Any:
    """A key as JSON can show it: `? {a: b}` is a mapping (ruamel's prints as an ordereddict),
    `? [a, b]` a tuple, and either may hold keys that are not strings."""
    if isinstance(value, Mapping):
        return {k if isinstance(k, str) else str(k): _plainly(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plainly(v) for v in value]
    return value


def unacceptable(character: Any) -> str:
    """A character the YAML reader refuses anywhere in the file (a control character, a lone
    surrogate): named by its code, with the way to write it."""
    code = ord(character) if isinstance(character, str) else int(character)
    return (f"the character U+{code:04X} is not allowed in YAML text; write it as an escape in "
            f'a double-quoted string ("\\u{code:04x}")')
