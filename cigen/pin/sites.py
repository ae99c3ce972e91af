from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cigen import refs, schema
from cigen.model import Project
from cigen.refs import ImageRef

Key = tuple[str | int, ...]
_IMAGE_REF = "#/$defs/imageRef"


@dataclass(frozen=True)
class Site:
    """An image reference of the descriptor; `at` is where its value is written, None: a default."""

    key: Key
    text: str
    ref: ImageRef
    at: tuple[int, int] | None

    @property
    def dotted(self) -> str:
        return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in self.key).lstrip(".")

    @property
    def tag_key(self) -> str:
        return f"{self.ref.domain}/{self.ref.path}:{self.ref.tag or 'latest'}"


def sites(tree: Any, project: Project) -> Iterator[Site]:
    """Every image reference of the descriptor, then the defaulted ones the outputs use."""
    yield from _written_images(schema.schema(), tree, ())
    cloudbuild = tree.get("cloudbuild") or {}
    for name, value in (cloudbuild.get("substitutions") or {}).items():
        if _is_image(str(name), value):
            yield _written(
                ("cloudbuild", "substitutions", str(name)), cloudbuild["substitutions"], name
            )
    for key, value in _defaults(project):
        if key[-1] not in (tree.get(str(key[0])) or {}):
            yield _site(key, value, None)


def _written_images(node: dict[str, Any], value: Any, key: Key) -> Iterator[Site]:
    # Every key the schema types as an image reference, wherever it sits (lists included).
    node = _deref(node)
    if isinstance(value, dict):
        for name, sub in node.get("properties", {}).items():
            if name not in value:
                continue
            if sub.get("$ref") == _IMAGE_REF:
                if isinstance(value[name], str):
                    yield _written((*key, name), value, name)
            else:
                yield from _written_images(sub, value[name], (*key, name))
    elif isinstance(value, list) and "items" in node:
        for i, item in enumerate(value):
            yield from _written_images(node["items"], item, (*key, i))


def _deref(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    return {**schema.schema()["$defs"][ref.rsplit("/", 1)[1]], **node} if ref else node


def _defaults(project: Project) -> list[tuple[Key, str]]:
    """Defaulted image references the outputs use; pin writes them out, pinned."""
    out: list[tuple[Key, str]] = []
    if project.library:  # no image: only Cloud Build's test services need the docker image
        cb = project.cloudbuild
        if "cloudbuild" in project.targets and project.erlang.services:
            out.append((("cloudbuild", "docker_image"), cb.docker_image))
        return out
    if project.image.generate or "cloudbuild" in project.targets:
        out.append((("image", "base"), project.image.base))
        if project.image.runner:  # None only when the build refuses the descriptor
            out.append((("image", "runner"), project.image.runner))
    if "cloudbuild" in project.targets:
        cb = project.cloudbuild
        if cb.builder == "kaniko":
            out.append((("cloudbuild", "kaniko_image"), cb.kaniko_image))
        # the docker image also runs the login, the release retag and the test services
        if cb.builder == "buildx" or cb.registry_auth == "docker-login" or project.publish.tags \
                or (cb.run_checks and project.erlang.services):
            out.append((("cloudbuild", "docker_image"), cb.docker_image))
    return out


class Unparsable(Exception):
    """A reference the schema let through but registries would not (e.g. `a_b.c/app`)."""

    def __init__(self, site: Site, why: str) -> None:
        super().__init__(why)
        self.site = site


def _site(key: Key, text: str, at: tuple[int, int] | None) -> Site:
    try:
        return Site(key, text, refs.parse(text), at)
    except ValueError as e:
        raise Unparsable(
            Site(key, text, refs.ImageRef(text, "", "", None, None), at), str(e)
        ) from e


def _written(key: Key, mapping: Any, name: str) -> Site:
    line, col = mapping.lc.value(name)
    return _site(key, str(mapping[name]), (line, col))


def _is_image(name: str, value: Any) -> bool:
    # Substitutions hold other strings too (regions, paths); an image has a tag or digest, and a
    # registry path or a key that says IMAGE. `$` values are Cloud Build's to expand, not ours.
    if not isinstance(value, str) or "$" in value:
        return False
    try:
        ref = refs.parse(value)
    except ValueError:
        return False
    return bool(ref.tag or ref.digest) and ("IMAGE" in name or "/" in ref.name)
