"""The containers the tests need, as the CI files and compose files declare them, turned into
erlang.services entries the schema takes; what cannot be carried over is said, not guessed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cigen.init import images
from cigen.init.facts import Conflict, Seen

_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLACEHOLDER = re.compile(r"__[A-Z][A-Z0-9_]*__|\{\{|<[a-z_-]+>")  # __VERSION__, {{ v }}
_HEALTH = re.compile(r"^(?!.*\$\{\{)[^\"\\\r\n]+$")  # as the schema's service.health


@dataclass(frozen=True)
class Declared:
    """A service container as one file declares it."""

    name: str
    image: Any
    where: str  # file:line
    env: tuple[tuple[Any, Any], ...] = ()
    ports: tuple[int, ...] = ()
    health: str | None = None
    said: str = field(default="")

    def seen(self) -> Seen:
        return Seen(self.image, self.where, self.said or f"service {self.name}")


def service_name(declared: str, image: str) -> str | None:
    """A name the schema takes: the declared one in lower case with _ as -, else the image's
    last path component."""
    for text in (declared, images.split(image)[0].rsplit("/", 1)[-1]):
        name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
        if _NAME.match(name):
            return name
    return None


def choose(declared: list[Declared], notes: list[str], conflicts: list[Conflict],
           github: bool) -> tuple[list[dict[str, Any]], list[str]]:
    """erlang.services from the declarations in precedence order (CI files before compose
    files): one entry per name, the first declaration's image; ports, health and env a later
    declaration of the same image adds are kept."""
    from cigen.targets.environment import unpinned

    chosen: dict[str, tuple[Declared, dict[str, Any]]] = {}
    sources: dict[str, list[str]] = {}
    for item in declared:
        name = service_name(item.name, str(item.image))
        problem = _image_problem(item.image, unpinned)
        if name is None or problem:
            notes.append(f"{item.where}: service {item.name or item.image} not carried over: "
                         f"{problem or 'no service name can be made of it'}; add it to "
                         "erlang.services yourself if the tests need it")
            continue
        if name in chosen:
            first, entry = chosen[name]
            if images.split(first.image)[0] != images.split(item.image)[0]:
                conflicts.append(Conflict(f"erlang.services {name}", first.seen(), item.seen(),
                                          "a CI file's service comes before a compose file's, "
                                          "and the first file read before the next"))
                continue
            added = _merge(entry, _entry(item, name, notes))
            if added:
                sources[name].append(f"{' and '.join(added)} from {item.where}")
            continue
        chosen[name] = (item, _entry(item, name, notes))
        sources[name] = [f"{name}: {item.where}"]
    for name, (item, entry) in list(chosen.items()):
        if "ports" in entry:
            continue
        if github:  # cigen's GitHub jobs reach a service only through its mapped ports
            notes.append(f"{item.where}: service {name} not carried over: no port known, and "
                         "GitHub Actions reaches a service only through mapped ports; add it "
                         "with its ports")
            del chosen[name], sources[name]
        elif "health" not in entry:
            notes.append(f"{item.where}: service {name}: no port and no health command known, "
                         "so CI does not wait for it to be ready; add its ports")
    return [entry for _, entry in chosen.values()], [", ".join(v) for v in sources.values()]


def _image_problem(image: Any, unpinned: Any) -> str | None:
    if not isinstance(image, str) or not images.is_image_ref(image):
        return f"{image!r} is not an image reference cigen takes"
    if _PLACEHOLDER.search(image):
        return f"{image} holds a placeholder that a generator fills in, not a version"
    problem: str | None = unpinned(image)
    return problem


def _entry(item: Declared, name: str, notes: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "image": item.image}
    env = _env(item, notes)
    if env:
        entry["env"] = env
    if item.ports:
        entry["ports"] = list(dict.fromkeys(item.ports))
    if item.health and _HEALTH.match(item.health):
        entry["health"] = item.health
    elif item.health:
        notes.append(f"{item.where}: service {name}: its health command is not one line "
                     "without \", \\ or ${{; not carried over")
    return entry


def _env(item: Declared, notes: list[str]) -> dict[str, str]:
    from cigen.targets.environment import looks_secret

    env: dict[str, str] = {}
    for key, value in item.env:
        text = _text(value)
        why = ("is not an environment variable name" if not _ENV_NAME.match(str(key)) else
               "has no value in the file" if text is None else
               "is named like a secret: keep it in the CI's secret store" if looks_secret(
                   str(key)) else
               "holds a CI expression" if "${{" in text or "$(" in text else None)
        if why:
            notes.append(f"{item.where}: service {item.name or item.image}: {key} {why}; not "
                         "carried over")
        else:
            env[str(key)] = str(text)
    return env


def _text(value: Any) -> str | None:
    from cigen.init.yamlfiles import text

    if isinstance(value, bool):
        return "true" if value else "false"
    return text(value)


def _merge(entry: dict[str, Any], later: dict[str, Any]) -> list[str]:
    """What a later declaration of the same image adds: ports, health, more variables."""
    added: list[str] = [k for k in ("ports", "health") if k not in entry and k in later]
    entry.update({k: later[k] for k in added})
    more = {k: v for k, v in later.get("env", {}).items() if k not in entry.get("env", {})}
    if more:
        entry["env"] = {**entry.get("env", {}), **more}
        added.append("env " + ", ".join(more))
    return added
