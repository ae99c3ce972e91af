from __future__ import annotations

from typing import Any

from cigen.model import Project, Release
from cigen.targets import checks, environment
from cigen.targets.circleci import private as circleci_private
from cigen.targets.circleci import services as circleci_services
from cigen.targets.releases import for_release, slug

ORB = "rebar3"
# The orb's own executor defaults to the legacy circleci/erlang:22.0.3 image, so every check job
# gets an executor on the official `erlang:<otp>` image (it has git for `checkout`). The orb's
# executor takes only `image` and `tag` (0.8.x also sets OTP_VERSION from `tag` for its cache
# keys); anything more (environment, service containers) needs an executor of our own.
ORB_EXECUTOR = f"{ORB}/erlang"
OWN_EXECUTOR = "erlang"
IMAGE = "erlang"

Executor = str | dict[str, Any]


class Expansion(str):
    """A `<< ... >>` of cigen's own (a job parameter), which the config writes unescaped."""


# erlang.matrix: every check job is a matrix job over one executor per release, named
# <executor>-<release, dots as dashes> (executor names allow no dots: CircleCI's config schema,
# executors propertyNames). Matrix parameters must be job parameters, and the orb's jobs take
# only `executor` (tsloughter/rebar3_orb src/orb.yml at 0.8.1, `setup`); the merged coverage
# job takes it too. A matrix's alias defaults to the name of the job invoked, and `requires` of
# the alias waits for every job of the matrix (circleci.com/docs/configuration-reference,
# workflows.jobs.matrix, "Dependencies and matrix jobs"), so `requires: [rebar3/compile]` and
# the image job's requires stay as they are. A job parameter of type executor, used as
# `executor: << parameters.<name> >>` and given executor names in the matrix, is CircleCI's own
# example (circleci.com/docs/guides/orchestrate/using-matrix-jobs, "Use matrix jobs to run
# multiple OS tests").


def job_name(check: str) -> str:
    return f"{ORB}/{check}"


def job_names(project: Project) -> dict[str, str]:
    """Check -> the workflow job that runs it: the orb's, or ours for a merged coverage job."""
    return {check: job_name(check) if len(group) == 1 else job
            for job, group in checks.groups(project.erlang.checks).items() for check in group}


def workflow_jobs(project: Project) -> list[dict[str, Any]]:
    """The orb's jobs for `erlang.checks`, after `rebar3/compile`, as the chapter wires them;
    a coverage job of our own where `cover` is checked (see `own_jobs`)."""
    jobs = [_job(project, "compile", None)]
    for job, group in checks.groups(project.erlang.checks).items():
        if len(group) == 1:
            jobs.append(_job(project, group[0], "compile"))
        else:
            params = {**_matrix(project, group), "requires": [job_name("compile")]}
            jobs.append({job: _filtered(project, params)})
    return jobs


def _executor_param(project: Project, check: str) -> dict[str, Any]:
    return _matrix(project, (check,)) or {"executor": check_executor(project, check)}


def _matrix(project: Project, group: tuple[str, ...]) -> dict[str, Any]:
    """The job's matrix of one executor per release (none without erlang.matrix)."""
    if not project.erlang.matrix:
        return {}
    names = [release_executor(project, _serviced(project, group), r)
             for r in project.erlang.releases]
    return {"matrix": {"parameters": {"executor": names}}}


def release_executor(project: Project, check: str, release: Release) -> str:
    """The executor of `check` on `release`, in a matrix."""
    own = check_executor(for_release(project, release), check)
    return f"{own if isinstance(own, str) else OWN_EXECUTOR}-{slug(release.otp)}"


def _job(project: Project, check: str, after: str | None) -> dict[str, Any]:
    # A fresh executor value per job: a shared one would be dumped as a YAML anchor and aliases.
    params: dict[str, Any] = _executor_param(project, check)
    pre_steps = [*circleci_private.check_steps(project),
                 *circleci_services.pre_steps(project, check)]
    if pre_steps:
        params["pre-steps"] = pre_steps
    if after is not None:
        params["requires"] = [job_name(after)]
    return {job_name(check): _filtered(project, params)}


def tag_filter(project: Project) -> dict[str, Any]:
    """CircleCI runs a job on a tag push only when the job and every job it requires name the
    tag in `filters.tags` (circleci.com/docs/workflows, "Executing workflows for a git tag")."""
    return {"only": [_regex(pattern) for pattern in project.publish.tags]}


def _regex(pattern: str) -> str:
    prefix, star, _ = pattern.partition("*")
    escaped = prefix.replace(".", "\\.")  # a tag pattern holds letters, digits, . _ - and *
    return f"/^{escaped}.*/" if star else f"/^{escaped}$/"


def _filtered(project: Project, params: dict[str, Any]) -> dict[str, Any]:
    return {**params, "filters": {"tags": tag_filter(project)}} if project.publish.tags else params


def _no_output_timeout(project: Project, check: str) -> dict[str, str]:
    minutes = project.erlang.timeouts.get(check)
    return {"no_output_timeout": f"{minutes}m"} if minutes else {}


def own_jobs(project: Project) -> dict[str, Any]:
    """Config-level jobs: the merged coverage job, when `cover` is checked. The orb's jobs take
    only an executor and run eunit and ct without --cover (tsloughter/rebar3_orb, src/orb.yml at
    0.8.1), so its rebar3/cover would find no coverdata. This job runs the covered checks with
    --cover and then `rebar3 cover` inside the orb's own dependency cache, as GitHub's workflow
    runs them in one job."""
    return {job: _coverage_job(project, job, group)
            for job, group in checks.groups(project.erlang.checks).items() if len(group) > 1}


def _serviced(project: Project, group: tuple[str, ...]) -> str:
    """The check whose executor a job of `group` runs on: one with the services, if any."""
    return next((c for c in group if environment.for_check(project, c)), group[0])


def _coverage_job(project: Project, job: str, group: tuple[str, ...]) -> dict[str, Any]:
    serviced = _serviced(project, group)
    steps: list[Any] = [*circleci_private.check_steps(project), "checkout"]
    for check in group:  # each check's service wait and setup commands, once each
        steps += [s for s in circleci_services.pre_steps(project, check) if s not in steps]
    runs = [{"run": {"name": f"rebar3 {c}", "command": checks.command(c, group),
                      **_no_output_timeout(project, c)}} for c in group]
    steps += [{f"{ORB}/with_deps_cache": {"steps": runs}},
              {f"{ORB}/on_fail_store_crashdump": {"cmd": job}}]
    if "ct" in group:  # what the orb's ct job keeps: JUnit results and the ct logs
        steps += [{"store_test_results": {"path": "~/project/_build/test/logs/"}},
                  {"store_artifacts": {"path": "~/project/_build/test/logs",
                                       "destination": "common_test"}}]
    steps.append({"store_artifacts": {"path": "~/project/_build/test/cover",
                                      "destination": "cover"}})
    if project.erlang.matrix:  # the executor comes from the workflow's matrix
        return {"parameters": {"executor": {"type": "executor"}},
                "executor": Expansion("<< parameters.executor >>"), "steps": steps}
    return {"executor": check_executor(project, serviced), "steps": steps}


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
    """Config-level executors: ours, when the orb's cannot carry what the checks need; with
    erlang.matrix, ours for every release."""
    if project.erlang.matrix:
        return {f"{name}-{slug(r.otp)}": executor for r in project.erlang.releases
                for name, executor in _executors(for_release(project, r), True).items()}
    return _executors(project, needs_own_executor(project))


def _executors(project: Project, own: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if own:
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
