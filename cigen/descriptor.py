from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path as FsPath
from typing import Any

from cigen import schema
from cigen.errors import DescriptorError
from cigen.model import RELEASE_STAGES, Project
from cigen.schema import Path, Problem

MAX_NODES = 100_000  # expanded size; YAML aliases can make a tiny file enormous
# A non-string scalar as written: numbers, booleans and dates never contain these stop characters.
_TOKEN = re.compile(r"[^\s#,\[\]{}]+")


def load_descriptor(path: FsPath, names: tuple[str, ...] = ()) -> Project:
    """Read, parse, validate and resolve a descriptor; every problem raises one DescriptorError.

    `names` are the targets about to be rendered (none: the descriptor's); their own checks run.
    """
    shown = str(path)
    source = _read(path, shown)
    tree = _parse(source, shown)
    doc = _Document(shown, source, tree)
    found = list(schema.problems(tree, doc.token))
    if not found:
        found = list(_semantic(tree))
    if found:
        raise DescriptorError(doc.format(found))
    project = Project.create(schema.apply_defaults(_plain(tree)), path.name)
    return _with_inputs(project, path.parent, doc, names)


def _read(path: FsPath, shown: str) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DescriptorError([f"{shown}: no such file; `cigen init` writes a starter"]) from None
    except OSError as e:
        raise DescriptorError([f"{shown}: cannot read: {e.strerror}"]) from e
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise DescriptorError([f"{shown}:{line}:{col}: not UTF-8 text (byte {data[e.start]:#04x})"]) from e


def _parse(source: str, shown: str) -> Any:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    from cigen.yamlio import load_rt

    try:
        tree = load_rt(source)
    except MarkedYAMLError as e:
        raise DescriptorError([_yaml_error(shown, e)]) from e
    except YAMLError as e:
        raise DescriptorError([f"{shown}: not valid YAML: {e}"]) from e
    if tree is None:
        raise DescriptorError([f"{shown}: empty; a descriptor needs version, name, registry and erlang.otp"])
    if not isinstance(tree, dict):
        raise DescriptorError([f"{shown}:1:1: the top level must be a mapping of keys"])
    if _size(tree, {}) > MAX_NODES:
        raise DescriptorError([f"{shown}: YAML aliases expand to over {MAX_NODES} values; refusing"])
    return tree


def _yaml_error(shown: str, e: Any) -> str:
    mark = e.problem_mark or e.context_mark
    problem = str(e.problem or e.context or "not valid YAML")
    if "'\\t'" in problem:
        problem = "a tab character; indent YAML with spaces"
    elif "duplicate key" in problem:
        problem = problem.replace('found duplicate key "', 'duplicate key "').split(" with value")[0]
    where = f"{mark.line + 1}:{mark.column + 1}:" if mark else ""
    return f"{shown}:{where} {problem}"


def _size(node: Any, seen: dict[int, int]) -> int:
    if not isinstance(node, (dict, list)):
        return 1
    if id(node) not in seen:
        seen[id(node)] = 0  # an alias cycle counts as one
        children = node.values() if isinstance(node, dict) else node
        seen[id(node)] = min(MAX_NODES + 1, 1 + sum(_size(c, seen) for c in children))
    return seen[id(node)]


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    return node


def _semantic(tree: Any) -> Iterable[Problem]:
    checks = tree["erlang"].get("checks", schema.static_default("erlang.checks"))
    publish = tree.get("publish", {})
    for i, check in enumerate(publish.get("after", schema.static_default("publish.after"))):
        if check not in checks:
            yield Problem(("publish", "after", i), f'"{check}" is not in erlang.checks')
    for check in tree["erlang"].get("setup", {}):
        if check not in checks:
            yield Problem(("erlang", "setup", check), f'"{check}" is not in erlang.checks', True)
    names: set[str] = set()
    for i, service in enumerate(tree["erlang"].get("services", [])):
        if service["name"] in names:
            yield Problem(("erlang", "services", i, "name"), "duplicate service name")
        names.add(service["name"])
    image = tree.get("image", {})
    if image.get("generate", True) and image.get("target", "runner") not in RELEASE_STAGES:
        stages = ", ".join(RELEASE_STAGES)
        yield Problem(("image", "target"), f"is not a generated stage: {stages}")


def _with_inputs(project: Project, root: FsPath, doc: _Document, names: tuple[str, ...]) -> Project:
    from dataclasses import replace

    from cigen.targets import problems, selected

    if not project.image.generate:
        dockerfile = root / project.image.dockerfile
        try:
            project = replace(project, user_dockerfile=dockerfile.read_text("utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            msg = f"cannot read {project.image.dockerfile}: {getattr(e, 'strerror', e)}"
            raise DescriptorError(doc.format([Problem(("image", "dockerfile"), msg)])) from e
    found = problems(project, selected(project, names))
    if found:
        raise DescriptorError(doc.format(found))
    return project


class _Document:
    """The parsed descriptor with its text: turns key paths into line:column locations."""

    def __init__(self, shown: str, source: str, tree: Any) -> None:
        self.shown = shown
        self.lines = source.splitlines()
        self.tree = tree

    def format(self, found: Iterable[Problem]) -> list[str]:
        located = sorted({(*self.locate(p), _dotted(p.path), p.message) for p in found})
        return [f"{self.shown}:{line + 1}:{col + 1}: {path}: {msg}" for line, col, path, msg in located]

    def locate(self, problem: Problem) -> tuple[int, int]:
        parent, key = self._walk(problem.path)
        if parent is None:
            return (0, 0)
        if isinstance(parent, dict):
            if key in parent:
                pos = parent.lc.key(key) if problem.at_key else parent.lc.value(key)
                return (pos[0], pos[1])
            return (parent.lc.line, parent.lc.col)
        if isinstance(key, int) and 0 <= key < len(parent):
            pos = parent.lc.item(key)
            return (pos[0], pos[1])
        return (parent.lc.line, parent.lc.col)

    def token(self, path: Path) -> str:
        parent, key = self._walk(path)
        value = self.tree if parent is None else parent[key]  # type: ignore[index]
        if isinstance(value, dict):
            return "a mapping"
        if isinstance(value, list):
            return "a list"
        line, col = self.locate(Problem(path, ""))
        match = _TOKEN.match(self.lines[line], col) if line < len(self.lines) else None
        return match.group(0) if match and match.group(0) else str(value)

    def _walk(self, path: Path) -> tuple[Any, Any]:
        parent, node = None, self.tree
        for key in path:
            if isinstance(node, dict) and key in node or (
                isinstance(node, list) and isinstance(key, int) and key < len(node)
            ):
                parent, node = node, node[key]
            else:
                return node, key
        return parent, path[-1] if path else None


def _dotted(path: Path) -> str:
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out or "(top level)"
