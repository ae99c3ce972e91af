from __future__ import annotations

import shlex
from typing import Any

from cigen.core import KeyPath, Problem
from cigen.model import Project, Service
from cigen.targets import environment
from cigen.targets.cloudbuild import substitutions as subst

# Every build step runs on this Docker network, so a container started on it is reachable
# from the check steps by its name.
NETWORK = "cloudbuild"
READY_STEP = "services-ready"
STOP_STEP = "services-stop"

Step = dict[str, Any]


def host_env(project: Project, check: str) -> dict[str, str]:
    return environment.hosts(environment.for_check(project, check), lambda service: service.name)


def start_steps(project: Project) -> list[Step]:
    """One `docker run` per service, started with the build, then a step that waits for them."""
    if not environment.used(project):
        return []
    started = [_start(project, service) for service in project.erlang.services]
    probes = [probe for service in project.erlang.services for probe in _probes(service)]
    wait = subst.escape(environment.wait_script(probes))
    ready: Step = {"id": READY_STEP, "name": project.cloudbuild.docker_image,
                   "entrypoint": "bash", "args": ["-c", wait],
                   "waitFor": [step["id"] for step in started]}
    return [*started, ready] if probes else started


def ready_ids(project: Project) -> list[str]:
    """What a step that needs the services waits for."""
    if any(_probes(service) for service in project.erlang.services):
        return [READY_STEP]
    return [f"service-{service.name}" for service in project.erlang.services]


def _start(project: Project, service: Service) -> Step:
    args = ["run", "--detach", f"--network={NETWORK}", f"--name={service.name}"]
    args += [f"--env={key}={subst.escape(value)}"
             for key, value in environment.literal(service.env).items()]
    secret = environment.secrets(service.env)
    args += [f"--env={key}" for key in secret]  # docker copies it from the step's environment
    step: Step = {"id": f"service-{service.name}", "name": project.cloudbuild.docker_image,
                  "args": [*args, service.image], "waitFor": ["-"]}
    if secret:
        step["secretEnv"] = secret
    return step


def _probes(service: Service) -> list[str]:
    if service.health:
        # The health command runs where its client is: inside the service's own container.
        return [f"docker exec {service.name} sh -c {shlex.quote(service.health)}"]
    return [environment.port_probe(service.name, port) for port in service.ports]


def stop_step(project: Project, after: str) -> Step:
    names = [service.name for service in project.erlang.services]
    return {"id": STOP_STEP, "name": project.cloudbuild.docker_image,
            "args": ["rm", "--force", "--volumes", *names], "waitFor": [after]}


def problems(project: Project) -> list[Problem]:
    """Secrets the run_checks steps or the services need must be in cloudbuild.secrets."""
    if not project.cloudbuild.run_checks:
        return []
    known = project.cloudbuild.secrets
    wanted: list[tuple[KeyPath, str]] = [(("erlang", "env", key), key)
                                      for key in environment.secrets(project.erlang.env)]
    for i, service in enumerate(project.erlang.services):
        wanted += [(("erlang", "services", i, "env", key), key)
                   for key in environment.secrets(service.env)]
    return [Problem(path, f"Cloud Build takes this secret from Secret Manager: add "
                    f"cloudbuild.secrets.{key}: projects/<project>/secrets/<secret>/versions/<n>")
            for path, key in wanted if key not in known]
