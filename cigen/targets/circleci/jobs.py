from __future__ import annotations

from typing import Any

from cigen.model import Project
from cigen.targets import environment
from cigen.targets.circleci import services as circleci_services

ORB = "rebar3"
# The orb's own executor defaults to the legacy circleci/erlang:22.0.3 image, so every check job
# gets an executor on the official `erlang:<otp>` image (it has git for `checkout`). The orb's
# executor takes only `image` and `tag` (0.8.x also sets OTP_VERSION from `tag` for its cache
# keys); anything more (environment, service containers) needs an executor of our own.
ORB_EXECUTOR = f"{ORB}/erlang"
OWN_EXECUTOR = "erlang"
IMAGE = "erlang"

Executor = str | dict[str, Any]


def job_name(check: str) -> str:
    return f"{ORB}/{check}"


def upstream(check: str) -> str:
    """The check a job waits for: the orb's cover attaches the workspace that ct persists."""
    return "ct" if check == "cover" else "compile"


def workflow_jobs(project: Project) -> list[dict[str, Any]]:
    """The orb's jobs for `erlang.checks`, after `rebar3/compile`, as the chapter wires them."""
    jobs = [_job(project, "compile", None)]
    jobs += [_job(project, check, upstream(check)) for check in project.erlang.checks]
    return jobs


def _job(project: Project, check: str, after: str | None) -> dict[str, Any]:
    # A fresh executor value per job: a shared one would be dumped as a YAML anchor and aliases.
    params: dict[str, Any] = {"executor": check_executor(project, check)}
    pre_steps = circleci_services.pre_steps(project, check)
    if pre_steps:
        params["pre-steps"] = pre_steps
    if after is not None:
        params["requires"] = [job_name(after)]
    return {job_name(check): params}


def needs_own_executor(project: Project) -> bool:
    # Secrets are left out: CircleCI adds project variables to every job by itself.
    return bool(environment.literal(project.erlang.env))


def check_executor(project: Project, check: str = "compile") -> Executor:
    if environment.for_check(project, check):
        return circleci_services.executor_name(project)
    if needs_own_executor(project):
        return OWN_EXECUTOR
    return {"name": ORB_EXECUTOR, "image": IMAGE, "tag": project.erlang.otp}


def executors(project: Project) -> dict[str, Any]:
    """Config-level executors: ours, when the orb's cannot carry what the checks need."""
    out: dict[str, Any] = {}
    if needs_own_executor(project):
        out[OWN_EXECUTOR] = {"docker": _containers(project), "environment": _environment(project)}
    if environment.used(project):
        docker = [*_containers(project), *circleci_services.containers(project)]
        env = {**_environment(project), **circleci_services.host_env(project)}
        out[circleci_services.executor_name(project)] = {"docker": docker, "environment": env}
    return out


def _environment(project: Project) -> dict[str, str]:
    # OTP_VERSION keeps the orb's cache keys per OTP release, as its own executor does.
    return {"OTP_VERSION": project.erlang.otp, **environment.literal(project.erlang.env)}


def _containers(project: Project) -> list[dict[str, Any]]:
    # The primary container runs the steps; service containers follow it in the executor.
    return [{"image": f"{IMAGE}:{project.erlang.otp}"}]
