from __future__ import annotations

import shlex
from typing import Any

from cigen import yamlio
from cigen.core import Output, Plan, Problem
from cigen.model import Project
from cigen.targets import checks, environment
from cigen.targets.base import banner, planned
from cigen.targets.circleci import buildscript
from cigen.targets.circleci import jobs as circleci_checks
from cigen.targets.circleci import platforms as circleci_platforms
from cigen.targets.circleci import private as circleci_private
from cigen.targets.circleci import services as circleci_services
from cigen.targets.circleci.jobs import job_name

CONFIG = ".circleci/config.yml"
IMAGE_JOB = "docker-build-and-push"
GCR_ORB = "gcp-gcr"
# Artifact Registry hosts; the gcp-gcr orb's gcr-auth takes them as `registry-url` (gcr.io hosts
# need nothing: gcloud configures all of them by default).
_ARTIFACT_REGISTRY = "-docker.pkg.dev"


def plan(project: Project) -> Plan:
    return planned(problems(project), lambda: (
        Output(CONFIG, banner(project) + yamlio.dump(config(project)), "circleci",
               schema="circle-ci", origin=("targets",)),
        *(() if project.library else (  # a library builds no image
            Output(buildscript.PATH, buildscript.render(project), "circleci", executable=True,
                   origin=("targets",)),)),
    ))


def problems(project: Project) -> list[Problem]:
    return [*environment.problems(project), *circleci_services.problems(project),
            *checks.problems(project.erlang.checks), *_directory_problems(project)]


def _directory_problems(project: Project) -> list[Problem]:
    # The orb's jobs check out into the job's working directory and run rebar3 there, and its
    # caches and crash dump are at ~/project (tsloughter/rebar3_orb src/orb.yml at 0.8.1:
    # `checkout`, with_deps_cache's ~/project/_build/default/lib, on_fail_store_crashdump's
    # ~/project/rebar3.crashdump); no job takes a working directory, and an executor's would
    # receive the checkout itself, so the project's folder would be one level deeper.
    if project.directory == ".":
        return []
    return [Problem(("directory",), f"{project.directory}: the rebar3 orb's CircleCI jobs run "
                    "rebar3 at the repository's root only; remove circleci from targets "
                    "(docs/targets.md, \"A project in a subfolder\")")]


def config(project: Project) -> dict[str, Any]:
    data: dict[str, Any] = {"version": 2.1, "orbs": _orbs(project)}
    executors = circleci_checks.executors(project)
    if executors:
        data["executors"] = executors
    own = circleci_checks.own_jobs(project)
    jobs = circleci_checks.workflow_jobs(project)
    if not project.library:  # a library's workflow is the checks
        own.update(_image_jobs(project))
        jobs += _image_workflow_jobs(project)
    if own:  # a 2.1 config whose workflow runs only orb jobs needs no `jobs` (its schema
        # requires only `version`: check-jsonschema's vendored circle-ci.json)
        data["jobs"] = own
    data["workflows"] = {project.circleci.workflow: {"jobs": jobs}}
    escaped: dict[str, Any] = _literal(data)
    return escaped


def _literal(node: Any) -> Any:
    """`node` with every `<<` in a value written `\\<<`: a 2.1 config expands `<< ... >>`
    (parameters, pipeline values) in any string and fails on an unclosed `<<`, so a heredoc in
    a setup command or an env value would break it. cigen's own config uses no `<<` but its
    Expansions."""
    if isinstance(node, circleci_checks.Expansion):
        return str(node)
    if isinstance(node, str):
        return node.replace("<<", "\\<<")
    if isinstance(node, dict):
        return {key: _literal(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_literal(item) for item in node]
    return node


def _orbs(project: Project) -> dict[str, str]:
    gcr = project.circleci.registry_auth in ("gcr", "gcr-oidc")
    used = [circleci_checks.ORB] + ([GCR_ORB] if gcr else [])
    return {alias: project.circleci.orbs[alias] for alias in used}


def _image_jobs(project: Project) -> dict[str, Any]:
    """docker-build-and-push; with image.platforms of two, a native job per platform first,
    and docker-build-and-push merges their digests (cigen/targets/circleci/platforms.py)."""
    steps, build, options = _build_steps(project)
    if not project.image.multi_platform:
        return {IMAGE_JOB: {"machine": {"image": project.circleci.machine_image}, "steps": [
            *steps, *circleci_platforms.cosign_steps(project),
            circleci_platforms.signed_build(project, "Build and push the image", build)]}}
    jobs = {circleci_platforms.job_name(p): circleci_platforms.platform_job(project, p, steps,
                                                                             build)
            for p in circleci_platforms.platforms(project)}
    jobs[IMAGE_JOB] = circleci_platforms.merge_job(project, _auth_steps(project),
                                                   f"{buildscript.PATH} -m{options}")
    return jobs


def _build_steps(project: Project) -> tuple[list[Any], str, str]:
    """The image job's steps before its build, its build command, and the script's options
    that name the image (target and registry)."""
    # A machine executor has Docker and buildx preinstalled; the docker-container builder is
    # what can push a build with its cache inlined.
    # No -t for a user's last stage without a name: the script's default is then "", and buildx
    # sends no target for an empty --target (docker/buildx build/build.go, toSolveOpt), so
    # BuildKit builds the last stage.
    target = f" -t {shlex.quote(project.image.target)}" if project.image.target else ""
    options = f"{target} -r {shlex.quote(project.registry)}"
    build = circleci_private.build_prefix(project) + f"{buildscript.PATH} -p{options}"
    steps = [
        "checkout",
        *circleci_private.image_steps(project),
        *_auth_steps(project),
        _run("Create a buildx builder", "docker buildx create --use --driver docker-container"),
    ]
    return steps, build, options


def _auth_steps(project: Project) -> list[Any]:
    auth, host = project.circleci.registry_auth, project.registry_host
    if auth in ("gcr", "gcr-oidc"):
        # gcr-auth's use_oidc trades the service account key for the job's OIDC token through
        # workload identity federation (CircleCI-Public/gcp-gcr-orb, src/commands/gcr-auth.yml
        # at v0.16.10).
        params: dict[str, Any] = {"use_oidc": True} if auth == "gcr-oidc" else {}
        if host.endswith(_ARTIFACT_REGISTRY):
            params["registry-url"] = host
        return [{f"{GCR_ORB}/gcr-auth": params} if params else f"{GCR_ORB}/gcr-auth"]
    if auth == "docker-login":
        login = ('echo "$DOCKER_PASSWORD" | docker login --username "$DOCKER_LOGIN"'
                 f" --password-stdin {shlex.quote(host)}")
        return [_run("Log in to the registry", login)]
    return []


def _run(name: str, command: str) -> dict[str, Any]:
    return {"run": {"name": name, "command": command}}


def _image_workflow_jobs(project: Project) -> list[dict[str, Any]]:
    """The image job after the checks; with image.platforms of two, each platform's job after
    the checks, and docker-build-and-push after the platform jobs (which wait for the checks,
    so it still runs only after them), with the same branch and tag filters and context: a
    job runs on a tag only when every job it requires does too."""
    names = circleci_checks.job_names(project)
    waits = list(dict.fromkeys(names.get(c, job_name(c)) for c in _image_job_waits_for(project)))
    if not project.image.multi_platform:
        return [{IMAGE_JOB: _image_job_params(project, waits)}]
    builds = [circleci_platforms.job_name(p) for p in circleci_platforms.platforms(project)]
    return [*({job: _image_job_params(project, waits)} for job in builds),
            {IMAGE_JOB: _image_job_params(project, builds)}]


def _image_job_params(project: Project, waits: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {"requires": list(waits)}
    if project.circleci.context is not None:
        params["context"] = project.circleci.context
    filters: dict[str, Any] = {}
    if project.publish.branches:
        filters["branches"] = {"only": list(project.publish.branches)}
    if project.publish.tags:
        filters["tags"] = circleci_checks.tag_filter(project)
    if filters:
        params["filters"] = filters
    return params


def _image_job_waits_for(project: Project) -> list[str]:
    """ct (when checked) and every `publish.after` check; with neither, at least compile."""
    checks = project.erlang.checks
    waits = (["ct"] if "ct" in checks else []) + list(project.publish.after)
    return list(dict.fromkeys(waits)) or ["compile"]
