from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator, Mapping

from cigen.core import KeyPath, Problem
from cigen.model import EnvValue, Project, Secret, Service
from cigen.targets import fit

# Services run alongside the checks that run code; xref, dialyzer and cover only read it.
SERVICE_CHECKS = ("eunit", "ct")
# Words in a variable name that mark a secret (the issue's *TOKEN*, *SECRET*, *KEY*). PASSWORD is
# left out on purpose: a throwaway test database's password is no secret.
SECRET_WORDS = ("TOKEN", "SECRET", "KEY")
WAIT_TRIES, WAIT_SECONDS = 60, 2  # how long a check waits for its services: two minutes


def for_check(project: Project, check: str) -> tuple[Service, ...]:
    """The services the job of `check` runs with."""
    return project.erlang.services if check in SERVICE_CHECKS else ()


def used(project: Project) -> bool:
    """Whether any check runs with the services."""
    return any(for_check(project, check) for check in project.erlang.checks)


def looks_secret(name: str) -> bool:
    upper = name.upper()
    return any(word in upper for word in SECRET_WORDS)


def literal(env: Mapping[str, EnvValue]) -> dict[str, str]:
    return {key: value for key, value in env.items() if isinstance(value, str)}


def secrets(env: Mapping[str, EnvValue]) -> list[str]:
    return [key for key, value in env.items() if isinstance(value, Secret)]


def hosts(services: tuple[Service, ...], host: Callable[[Service], str]) -> dict[str, str]:
    """<NAME>_HOST -> where that service is reached from the check's steps."""
    return {service.host_var: host(service) for service in services}


def port_probe(host: str, port: int) -> str:
    """A command that succeeds once host:port accepts a connection (bash's /dev/tcp)."""
    return "bash -c " + shlex.quote(f"exec 2>/dev/null 3<>/dev/tcp/{host}/{port}")


def wait_script(probes: list[str]) -> str:
    """A bash script that runs each probe until it succeeds, for two minutes at most."""
    limit = f"{WAIT_TRIES * WAIT_SECONDS // 60} minutes"
    lines = [
        "ready() {",
        f"  for _ in $(seq {WAIT_TRIES}); do",
        '    if "$@"; then return 0; fi',
        f"    sleep {WAIT_SECONDS}",
        "  done",
        f'  echo "not ready within {limit}: $*" >&2',
        "  return 1",
        "}",
        *(f"ready {probe}" for probe in probes),
    ]
    return "\n".join(lines) + "\n"


def problems(project: Project) -> list[Problem]:
    """What every CI target refuses: secrets in the file, unpinned images, unused services, and
    combinations the compatibility table rules out."""
    erlang = project.erlang
    found = [*fit.toolchain_problems(project), *fit.image_problems(project)]
    found += _env_problems(erlang.env, ("erlang", "env"))
    for i, service in enumerate(erlang.services):
        found += _env_problems(service.env, ("erlang", "services", i, "env"))
        problem = unpinned(service.image)
        if problem:
            found.append(Problem(("erlang", "services", i, "image"), problem))
        if service.host_var in erlang.env:
            found.append(Problem(("erlang", "env", service.host_var), f"cigen sets "
                                 f"{service.host_var} to the host of service {service.name}; "
                                 "rename this variable", at_key=True))
    if erlang.services and not used(project):
        found.append(Problem(("erlang", "services"), "only eunit and ct run with services, and "
                             "erlang.checks has neither; remove the services or add a check"))
    return found


def _env_problems(env: Mapping[str, EnvValue], path: KeyPath) -> Iterator[Problem]:
    for key, value in env.items():
        if isinstance(value, Secret) and value.name != key:
            yield Problem((*path, key, "secret"), f'"{value.name}" is not {key}: CI hands a '
                          f"secret over under its own name; write {key}: {{secret: {key}}}")
        elif isinstance(value, str) and looks_secret(key):
            yield Problem((*path, key), f"{key} is named like a secret (TOKEN, SECRET or KEY), "
                          "so its value may not be in the file; keep it in the CI's secret "
                          f"store and write {key}: {{secret: {key}}}")


def unpinned(image: str) -> str | None:
    if "@sha256:" in image:
        return None
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:  # no colon, or only a registry port's
        return f'"{image}" has no tag; pin a release, e.g. {image}:<version>, or a digest'
    if tag == "latest":
        return f'"{image}" moves with every release; pin a version tag or a digest'
    return None
