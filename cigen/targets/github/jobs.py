from __future__ import annotations

from typing import Any

from cigen import compat
from cigen.model import Project
from cigen.targets import checks as rebar3_checks
from cigen.targets.github import container as github_container
from cigen.targets.github import private as github_private
from cigen.targets.github import services as github_services
from cigen.targets.github.expr import TAG_BUILD, fenced
from cigen.targets.github.pins import uses
from cigen.yamlio import quoted

CHECK_TIMEOUT = 30  # minutes; a cold dialyzer PLT build is the slowest check
# On a release (tag) build the cache is looked up but never restored: see `cache_step`.
LOOKUP_ONLY = fenced(TAG_BUILD)

Job = dict[str, Any]
Step = dict[str, Any]


def job_ids(checks: tuple[str, ...]) -> dict[str, str]:
    """Check -> the id of the job that runs it."""
    return {check: job for job, group in rebar3_checks.groups(checks).items() for check in group}


def check_jobs(project: Project) -> dict[str, Job]:
    return {job: _check_job(project, job, group)
            for job, group in rebar3_checks.groups(project.erlang.checks).items()}


def _check_job(project: Project, job: str, checks: tuple[str, ...]) -> Job:
    out: Job = {
        "name": "rebar3 " + ", ".join(checks),
        "runs-on": project.github.runs_on,
        # the largest limit of the checks the job runs (erlang.timeouts)
        "timeout-minutes": max(project.erlang.timeouts.get(c, CHECK_TIMEOUT) for c in checks),
        "permissions": {"contents": "read"},
    }
    running = github_services.running(project, checks)
    env = github_services.job_env(project, running)
    if env:
        out["env"] = env
    if running:
        out["services"] = github_services.service_block(running)
    secrets = github_services.secret_env(project)
    # What the steps that run the project's commands see besides the job's env.
    step_env = {**secrets, **github_private.agent_env(project)}
    # Each check runs after its own setup steps.
    runs = [[*github_services.setup_steps(project, c, step_env), _run(c, checks, step_env)]
            for c in checks]
    steps = [*toolchain_steps(project, job, (*env, *secrets)),
             *github_private.check_steps(project)]
    out["steps"] = [*steps, *(step for run in runs for step in run),
                    *github_private.cleanup_steps(project)]
    return out


def toolchain_steps(project: Project, job: str, env_names: tuple[str, ...] = ()) -> list[Step]:
    pinned = project.github.pin_actions
    setup = (github_container.steps(project, list(env_names)) if github_container.needed(project)
             else [setup_beam_step(project)])
    return [checkout_step(pinned), *setup, cache_step(project, job)]


def setup_beam_step(project: Project) -> Step:
    erlang = project.erlang
    return {
        "name": "Set up Erlang/OTP and rebar3",
        "uses": uses("erlef/setup-beam", project.github.pin_actions),
        "with": {
            "otp-version": quoted(erlang.otp),
            "rebar3-version": quoted(erlang.rebar3 or ""),
            # strict looks the version up as one exact release, so a line such as "28" would
            # fail; loose installs the newest release of the line, as erlang:28 is on Docker Hub.
            "version-type": "strict" if compat.is_exact(erlang.otp) else "loose",
        },
    }


def checkout_step(pinned: bool) -> Step:
    # No token left in .git/config for later steps (or the image build context) to read.
    return {
        "name": "Check out",
        "uses": uses("actions/checkout", pinned),
        "with": {"persist-credentials": False},
    }


def cache_prefix(project: Project, job: str) -> str:
    """The key without the lock hash: also the restore key, so it really is the key's prefix.

    One key per job: jobs build different profiles (default, test) and dialyzer adds its PLTs
    (in _build/default and ~/.cache/rebar3), so a shared key would keep whichever job saved first.
    """
    return f"${{{{ runner.os }}}}-${{{{ runner.arch }}}}-otp-{project.erlang.otp}-rebar3-{job}-"


def cache_step(project: Project, job: str) -> Step:
    prefix = cache_prefix(project, job)
    return {
        "name": "Cache _build and ~/.cache/rebar3",
        "uses": uses("actions/cache", project.github.pin_actions),
        "with": {
            "path": "_build\n~/.cache/rebar3\n",
            "key": prefix + "${{ hashFiles('rebar.lock') }}",
            "restore-keys": prefix,
            # Release builds restore no cache, so a poisoned cache cannot reach a release.
            "lookup-only": LOOKUP_ONLY,
        },
    }


def _run(check: str, group: tuple[str, ...], env: dict[str, str]) -> Step:
    command = rebar3_checks.command(check, group)
    return {"run": command, **({"env": dict(env)} if env else {})}  # a copy: no YAML alias
