from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cigen.core import KeyPath, Problem
from cigen.model import EnvValue, Project, Service, StepCache
from cigen.targets import environment
from cigen.targets.github.expr import TAG_BUILD, fenced
from cigen.targets.github.pins import uses

# The check jobs run on the runner itself; each service port is mapped to the same runner port.
LOCALHOST = "localhost"
_HEALTH_TIMEOUT = 5  # seconds one health command may take

Step = dict[str, Any]


def running(project: Project, checks: tuple[str, ...]) -> tuple[Service, ...]:
    """The services of a job that runs `checks`."""
    return project.erlang.services if any(environment.for_check(project, c) for c in checks) else ()


def job_env(project: Project, running: tuple[Service, ...]) -> dict[str, str]:
    """What every step of a check job sees: erlang.env's plain values and the services' hosts."""
    return {**environment.literal(project.erlang.env),
            **environment.hosts(running, lambda _: LOCALHOST)}


def secret_env(project: Project) -> dict[str, str]:
    """erlang.env's secrets, for the steps that run the project's commands only (rebar3 and
    erlang.setup): a job-level value would reach every action of the job too."""
    values = project.erlang.env
    return env({name: values[name] for name in environment.secrets(values)})


def env(values: Mapping[str, EnvValue]) -> dict[str, str]:
    # A secret is expanded by GitHub into the environment, never into a script.
    return {key: value if isinstance(value, str) else fenced(f"secrets.{value.name}")
            for key, value in values.items()}


def service_block(running: tuple[Service, ...]) -> dict[str, Any]:
    return {service.name: _service(service) for service in running}


def _service(service: Service) -> dict[str, Any]:
    out: dict[str, Any] = {"image": service.image}
    if service.env:
        out["env"] = env(service.env)
    if service.ports:
        out["ports"] = [f"{port}:{port}" for port in service.ports]
    if service.health:
        out["options"] = _health_options(service.health)
    return out


def _health_options(command: str) -> str:
    # The runner waits until docker reports the container healthy; the schema keeps `"` and
    # `\` out of the command, so double quotes keep it one argument of `docker create`.
    return (f'--health-cmd "{command}" --health-interval {environment.WAIT_SECONDS}s '
            f"--health-timeout {_HEALTH_TIMEOUT}s --health-retries {environment.WAIT_TRIES}")


def setup_steps(project: Project, check: str, step_env: dict[str, str]) -> list[Step]:
    """The erlang.setup steps of `check`, each with `step_env` (secret_env and the agent's
    socket: what the project's commands need and the job's actions must not see)."""
    steps: list[Step] = []
    for setup in project.erlang.setup.get(check, ()):
        if setup.cache is not None:
            steps.append(_cache_step(project, setup.cache))
        steps.append({"name": setup.name, **({"env": dict(step_env)} if step_env else {}),
                      "run": setup.run})
    return steps


def _cache_step(project: Project, cache: StepCache) -> Step:
    return {
        "name": f"Cache {cache.path}",
        "uses": uses("actions/cache", project.github),
        # As the _build cache: release (tag) builds restore nothing a cache could have poisoned.
        "with": {"path": cache.path, "key": cache.key, "lookup-only": fenced(TAG_BUILD)},
    }


def problems(project: Project) -> list[Problem]:
    erlang = project.erlang
    found = list(_env_problems(erlang.env, ("erlang", "env")))
    for i, service in enumerate(erlang.services):
        found += _env_problems(service.env, ("erlang", "services", i, "env"))
        if not service.ports:
            found.append(Problem(("erlang", "services", i), "has no ports: GitHub Actions runs "
                                 "the checks on the runner, which reaches a service only "
                                 "through mapped ports"))
    for check, steps in erlang.setup.items():
        for i, step in enumerate(steps):
            if "${{" in step.run:
                found.append(Problem(("erlang", "setup", check, i, "run"), "has ${{, which "
                                     "GitHub would expand into the script; use a variable"))
            if "${{" in step.name:  # a step name is evaluated too, and shown in every log
                found.append(Problem(("erlang", "setup", check, i, "name"), "has ${{, which "
                                     "GitHub would evaluate; name the step in plain words"))
    return found


def _env_problems(values: Mapping[str, EnvValue], path: KeyPath) -> list[Problem]:
    found = []
    for key, value in values.items():
        if isinstance(value, str) and "${{" in value:
            found.append(Problem((*path, key), "has ${{, which GitHub would evaluate; "
                                 "write a secret as {secret: NAME}"))
        elif not isinstance(value, str) and value.name.upper().startswith("GITHUB_"):
            found.append(Problem((*path, key, "secret"), "GitHub reserves secret names "
                                 "that start with GITHUB_"))
    return found
