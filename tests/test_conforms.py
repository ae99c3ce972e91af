"""`schema.conforms`, the quick yes that spares a cold `cigen check` the jsonschema import, must
answer exactly what jsonschema answers: a wrong True would let an invalid descriptor through."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cigen import schema
from tests import strategies as gen
from tests.conftest import FIXTURES

# Drawing a descriptor takes ~80 ms; each one is mutated several times.
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def jsonschema_says(data: Any, node: Any = None) -> bool:
    validator = schema._validator_class()(schema.schema() if node is None else node)
    return not any(True for _ in validator.iter_errors(data))


def _words(node: Any) -> Iterator[str]:
    """Every string the schema names (enums, consts, defaults, property names): mutations drawn
    from them reach the enum, const and if/then/else branches that random text never does."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _words(value)
    elif isinstance(node, list):
        for value in node:
            yield from _words(value)
    elif isinstance(node, str):
        yield node


WORDS = sorted(set(_words(schema.schema())))
SCALARS = (st.none() | st.booleans() | st.integers(-2, 70000) | st.floats()
           | st.sampled_from([1.0, 0.5, 22.0, math.inf]) | st.text(max_size=8)
           | st.sampled_from(WORDS) | st.sampled_from(["main\n", "26.2.5", "ghcr.io/a/b"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(WORDS) | st.text(max_size=4), inner,
                                        max_size=3), max_leaves=6)


def _places(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _places(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _places(value, (*path, index))


@st.composite
def mutations(draw: st.DrawFn) -> list[Any]:
    """Copies of a schema-valid descriptor, each with one place replaced, deleted, or given an
    extra key."""
    base = draw(gen.raw_descriptors())
    return [_mutate(draw, json.loads(json.dumps(base))) for _ in range(8)]


def _mutate(draw: st.DrawFn, data: Any) -> Any:
    path = draw(st.sampled_from(list(_places(data))))
    if not path:
        return draw(VALUES)
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        parent[path[-1]] = draw(VALUES)
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.sampled_from(WORDS))] = draw(VALUES)
    else:
        parent.append(draw(VALUES))
    return data


@SETTINGS
@given(gen.raw_descriptors())
def test_every_valid_descriptor_conforms(data: dict[str, Any]) -> None:
    assert jsonschema_says(data)
    assert schema.conforms(data)


@SETTINGS
@given(mutations())
def test_conforms_agrees_with_jsonschema_on_mutated_descriptors(cases: list[Any]) -> None:
    for data in cases:
        assert schema.conforms(data) == jsonschema_says(data), data


def test_every_fixture_descriptor_conforms() -> None:
    from cigen.yamlio import load_plain

    configs = sorted(FIXTURES.glob("*/cigen.yaml"))
    assert configs
    for config in configs:
        data = load_plain(config.read_text("utf-8"))
        assert schema.conforms(data) == jsonschema_says(data), config
        if "invalid" not in config.parent.name:
            assert schema.conforms(data), config


# The edges where Python and JSON Schema disagree, each against jsonschema itself.
EDGES = [
    ({"type": "integer"}, 3.0),
    ({"type": "integer"}, True),
    ({"type": "integer"}, math.inf),
    ({"type": "number"}, False),
    ({"type": ["string", "null"]}, None),
    ({"enum": [1]}, True),
    ({"enum": [1]}, 1.0),
    ({"enum": [[1, "a"]]}, [1.0, "a"]),
    ({"const": {"a": False}}, {"a": 0}),
    ({"minimum": 1}, math.nan),
    ({"maximum": 1}, True),
    ({"minLength": 2}, "\U0001f433"),
    ({"maxItems": 1}, [1, 2]),
    ({"maxItems": 1}, "ab"),
    ({"pattern": "^[a-z]+$"}, "main\n"),
    ({"uniqueItems": True}, [1, 1.0]),
    ({"uniqueItems": True}, [True, 1]),
    ({"uniqueItems": True}, [{"a": 1}, {"a": 1.0}]),
    ({"properties": {"a": False}}, {"b": 1}),
    ({"properties": {"a": {"type": "string"}}, "additionalProperties": False}, {"a": "x"}),
    ({"properties": {"a": {"type": "string"}}, "additionalProperties": False}, {"b": "x"}),
    ({"propertyNames": {"pattern": "^_"}}, {"_A": 1, "B": 2}),
    ({"if": {"required": ["a"]}, "then": {"required": ["b"]}, "else": False}, {"a": 1}),
    ({"if": {"required": ["a"]}, "then": {"required": ["b"]}, "else": False}, {"b": 1}),
    ({"then": False}, 1),
]


@pytest.mark.parametrize(("node", "value"), EDGES, ids=[repr(e) for e in EDGES])
def test_conforms_matches_jsonschema_at_the_edges(node: dict[str, Any], value: Any) -> None:
    assert schema._conforms(node, value) == jsonschema_says(value, node)


@pytest.mark.parametrize("node", [{"format": "email"}, {"$ref": "other.json"},
                                  {"patternProperties": {}}, {"prefixItems": []}])
def test_a_keyword_it_does_not_know_is_left_to_jsonschema(node: dict[str, Any],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "schema", lambda: node)
    assert schema.conforms("anything") is False


def test_a_value_json_cannot_hold_is_left_to_jsonschema() -> None:
    assert schema.conforms({1: "a"}) is False
    assert schema.conforms({"version": b"1"}) is False


def _schema_nodes(node: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(node, dict):
        return
    yield node
    for key, value in node.items():
        if key in ("properties", "$defs"):
            for sub in value.values():
                yield from _schema_nodes(sub)
        elif key in ("items", "additionalProperties", "propertyNames", "if", "then", "else"):
            yield from _schema_nodes(value)


def test_every_keyword_the_schema_uses_is_known() -> None:
    """A keyword added to the schema but not to the quick check would make every descriptor
    fall back to jsonschema: still correct, but the cold check loses its speed."""
    used = {key for node in _schema_nodes(schema.schema()) for key in node}
    known = set(schema._KEYWORDS) | schema._ANNOTATIONS
    assert {key for key in used - known if not key.startswith("x-")} == set()
