from __future__ import annotations

from typing import Any

from cigen.core import Problem
from cigen.model import Project, Service, SetupStep
from cigen.targets import environment

# A docker executor's containers share one network namespace: services are on localhost.
LOCALHOST = "localhost"

Step = str | dict[str, Any]


def executor_name(project: Project) -> str:
    # The chapter's project named its executor after its service: erlang_postgres.
    return "erlang_" + "_".join(s.name.replace("-", "_") for s in project.erlang.services)


def containers(project: Project) -> list[dict[str, Any]]:
    """The secondary containers: one per service, after the primary that runs the steps."""
    return [_container(service) for service in project.erlang.services]


def _container(service: Service) -> dict[str, Any]:
    out: dict[str, Any] = {"image": service.image}
    env = environment.literal(service.env)
    if env:
        out["environment"] = env
    return out


def host_env(project: Project) -> dict[str, str]:
    return environment.hosts(project.erlang.services, lambda _: LOCALHOST)


def pre_steps(project: Project, check: str) -> list[Step]:
    """Steps the orb's job runs first: wait for the services, then the check's setup."""
    setup = project.erlang.setup.get(check, ())
    # The orb's job checks the code out only after its pre-steps; setup commands need it.
    checkout: list[Step] = ["checkout"] if setup else []
    steps = [step for entry in setup for step in _setup(entry)]
    return [*checkout, *_wait(environment.for_check(project, check)), *steps]


def _wait(running: tuple[Service, ...]) -> list[Step]:
    # CircleCI has no health checks, and the primary container may lack the service's own
    # client (pg_isready): wait until the ports accept connections instead.
    probes = [environment.port_probe(LOCALHOST, port) for s in running for port in s.ports]
    if not probes:
        return []
    names = ", ".join(s.name for s in running if s.ports)
    return [{"run": {"name": f"Wait for {names}", "command": environment.wait_script(probes)}}]


def _setup(step: SetupStep) -> list[Step]:
    run: Step = {"run": {"name": step.name, "command": step.run}}
    cache = step.cache
    if cache is None:
        return [run]
    return [
        {"restore_cache": {"keys": [cache.key]}},
        run,
        {"save_cache": {"key": cache.key, "paths": [cache.path]}},
    ]


def problems(project: Project) -> list[Problem]:
    found = []
    for i, service in enumerate(project.erlang.services):
        for key in environment.secrets(service.env):
            found.append(Problem(("erlang", "services", i, "env", key), "CircleCI cannot pass "
                                 "a secret to a service container (project and context "
                                 "variables reach only the primary one)"))
    return found
