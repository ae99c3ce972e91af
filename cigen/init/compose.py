"""The services of the docker-compose files the tests use: those at the compose default paths,
and those a CI file starts with `-f`, itself or through a Makefile target it runs.

Fields read (compose-spec 05-services.md): image, build, environment (a map, or a list of
KEY=VALUE), ports (short `[HOST:]CONTAINER[/PROTOCOL]` or long `target`), healthcheck.test (a
string runs in the shell, as `CMD-SHELL`; a list starts with NONE, CMD or CMD-SHELL). The
default paths (03-compose-file.md): compose.yaml, compose.yml, docker-compose.yaml,
docker-compose.yml. Interpolation (12-interpolation.md): `${VAR:-default}` and `${VAR-default}`
give the default here, since init does not know the variable; `$$` is a `$`.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from pathlib import Path
from typing import Any

from cigen.init.services import Declared
from cigen.init.yamlfiles import items, line, load, mapping, text

DEFAULTS = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
_DEFAULTED = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}")


def files(root: Path, started: list[str]) -> list[str]:
    """The compose files to read: the default ones present, then the ones a CI file starts
    with -f (itself or through a Makefile target it runs), each once; a path outside the
    repository is not read."""
    found = [rel for rel in DEFAULTS if (root / rel).is_file()]
    for rel in started:
        clean = posixpath.normpath(rel.removeprefix("./"))
        if not clean.startswith(("/", "..")) and "$" not in clean and clean not in found:
            found.append(clean)
    return found


def read(root: Path, rel: str, warnings: list[str], notes: list[str]) -> list[Declared]:
    data = load(root, rel, warnings)
    found = []
    for name, spec in mapping(mapping(data).get("services")).items():
        where = f"{rel}:{line(data['services'], name)}"
        spec = mapping(spec)
        image = _interpolate(text(spec.get("image")) or "")
        ports = tuple(p for p in (_port(v) for v in items(spec.get("ports"))) if p)
        health = _health(mapping(spec.get("healthcheck")).get("test"))
        if "build" in spec or not image:
            notes.append(f"{where}: service {name} is built here, not pulled: not a service of "
                         "the checks")
        elif not ports and not health:
            notes.append(f"{where}: service {name} publishes no port and has no healthcheck, so "
                         "it reads as a one-off task, not a server the tests connect to: not "
                         "carried over (run it as an erlang.setup step if the tests need it)")
        else:
            for key in ("command", "entrypoint"):
                if key in spec:
                    notes.append(f"{where}: service {name}: its {key} is not carried over "
                                 "(erlang.services runs an image as it is); check the service "
                                 "starts as the tests need")
            found.append(Declared(str(name), image, where, _environment(spec.get("environment")),
                                  ports, health, f"services.{name} image {image}"))
    return found


def _interpolate(value: str) -> str:
    return _DEFAULTED.sub(lambda m: m.group(1), value).replace("$$", "$")


def _environment(node: Any) -> tuple[tuple[Any, Any], ...]:
    if isinstance(node, list):
        pairs = [str(entry).split("=", 1) for entry in node if isinstance(entry, str)]
        return tuple((p[0], _interpolate(p[1]) if len(p) > 1 else None) for p in pairs)
    return tuple((k, _interpolate(v) if isinstance(v, str) else v)
                 for k, v in mapping(node).items())


def _port(value: Any) -> int | None:
    """The container port: the part after the last `:` of the short form, `target` of the
    long one; a range is not one port."""
    if isinstance(value, dict):
        value = value.get("target")
    port = (text(value) or "").rsplit(":", 1)[-1].split("/", 1)[0]
    return int(port) if port.isdigit() and 0 < int(port) < 65536 else None


def _health(test: Any) -> str | None:
    if isinstance(test, str):
        return _interpolate(test)
    words = [str(w) for w in items(test)]
    if words[:1] == ["CMD-SHELL"] and len(words) == 2:
        return _interpolate(words[1])
    if words[:1] == ["CMD"] and len(words) > 1:
        return shlex.join(_interpolate(w) for w in words[1:])
    return None
