from __future__ import annotations

from typing import Any

from cigen.core import Output, Plan, Problem
from cigen.model import Project, is_gcp_host
from cigen.targets import checks as rebar3_checks
from cigen.targets import environment
from cigen.targets.base import banner, planned
from cigen.targets.github import matrix as github_matrix
from cigen.targets.github import secrets as github_secrets
from cigen.targets.github import services as github_services
from cigen.targets.github.expr import PULL_REQUEST, fenced
from cigen.targets.github.image import permission_reasons
from cigen.targets.github.jobs import LOOKUP_ONLY, check_jobs, job_ids
from cigen.targets.github.pins import Note, annotate, comments, uses_notes
from cigen.targets.github.publish import image_jobs
from cigen.yamlio import dump

WORKFLOW_DIR = ".github/workflows/"

def plan(project: Project) -> Plan:
    return planned(problems(project), lambda: (
        Output(project.github.workflow_file, render(project), "github",
               schema="github-workflows", origin=("github", "workflow_file")),
        *_refresh_outputs(project),
    ))


def _refresh_outputs(project: Project) -> tuple[Output, ...]:
    """The scheduled refresh workflow (github.refresh), when the descriptor asks for it."""
    if project.github.refresh is None:
        return ()
    from cigen.targets.github import refresh

    return (Output(project.github.refresh.workflow_file, refresh.render(project), "github",
                   schema="github-workflows", origin=("github", "refresh", "workflow_file")),)


def render(project: Project) -> str:
    data = workflow(project)
    notes = [*uses_notes(_uses(data), project.github), *_cache_notes(project),
             *_permission_notes(project)]
    return banner(project) + annotate(dump(data), comments(notes))


def workflow(project: Project) -> dict[str, Any]:
    """The workflow as plain data (comments are added to its text by `render`)."""
    jobs = (github_matrix.check_jobs if project.erlang.matrix else check_jobs)(project)
    ids = job_ids(project.erlang.checks)
    needs = list(dict.fromkeys(ids[check] for check in project.publish.after))
    return {
        "name": "CI",
        "on": triggers(project),
        "permissions": {},  # each job grants itself only what it needs
        # A project in a subfolder (directory): every run step runs there (GitHub docs, workflow
        # syntax, defaults.run.working-directory); actions take their paths from the workspace.
        **({"defaults": {"run": {"working-directory": project.directory}}}
           if project.directory != "." else {}),
        "concurrency": {
            "group": "${{ github.workflow }}-${{ github.ref }}",
            # Superseded pull request runs stop; a run that may publish always finishes.
            "cancel-in-progress": fenced(PULL_REQUEST),
        },
        # a library (image: false) has the check jobs only
        "jobs": github_secrets.with_environment(
            project, {**jobs, **({} if project.library else image_jobs(project, needs))}),
    }


def triggers(project: Project) -> dict[str, Any]:
    # A push filtered on only one of branches and tags runs for none of the other (GitHub docs,
    # workflow syntax, on.push.<branches|tags>): `branches` is always given, and without
    # publish.tags leaving `tags` out is what keeps tag pushes from starting the workflow.
    push: dict[str, Any] = {"branches": list(project.publish.branches) or ["**"]}
    if project.publish.tags:
        push["tags"] = list(project.publish.tags)
    return {"push": push, "pull_request": None}


def _uses(data: dict[str, Any]) -> list[str]:
    steps = [step for job in data["jobs"].values() for step in job["steps"]]
    return [step["uses"] for step in steps if "uses" in step]


def _cache_notes(project: Project) -> list[Note]:
    # zizmor takes a push to a branch named like "release" for a release and then flags every
    # cache; these jobs publish nothing, and on tags (releases) restore nothing.
    if not any("release" in branch.lower() for branch in project.publish.branches):
        return []
    reason = ("zizmor: ignore[cache-poisoning] -- test job: publishes nothing, "
              "restores no cache on tags")
    return [(("lookup-only", LOOKUP_ONLY), reason)]


def _permission_notes(project: Project) -> list[Note]:
    return [((scope, "write"), why) for scope, why in permission_reasons(project).items()]


def problems(project: Project) -> list[Problem]:
    from cigen.targets.github import refresh

    found = [*environment.problems(project), *github_services.problems(project),
             *_check_problems(project), *_github_problems(project), *refresh.problems(project)]
    if found or project.github.secrets_environment is None:
        return found
    return github_secrets.problems(project, workflow(project)["jobs"])


def _check_problems(project: Project) -> list[Problem]:
    return rebar3_checks.problems(project.erlang.checks)


def _github_problems(project: Project) -> list[Problem]:
    found = []
    path = project.github.workflow_file
    if not path.startswith(WORKFLOW_DIR) or "/" in path[len(WORKFLOW_DIR):] \
            or not path.endswith((".yml", ".yaml")):
        found.append(Problem(("github", "workflow_file"),
                             f"GitHub runs only {WORKFLOW_DIR}<name>.yml or .yaml files"))
    host, auth = project.registry_host, project.github.auth
    if auth == "ghcr" and host != "ghcr.io":
        found.append(Problem(("github", "auth"), f"ghcr logs in to ghcr.io, not {host}"))
    if auth == "gcp" and not is_gcp_host(host):
        found.append(Problem(("github", "auth"),
                             f"gcp logs in to gcr.io or Artifact Registry, not {host}"))
    return found
