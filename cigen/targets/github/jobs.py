from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cigen import compat
from cigen.model import GitHub, Project
from cigen.targets import checks as rebar3_checks
from cigen.targets.github import container as github_container
from cigen.targets.github import private as github_private
from cigen.targets.github import services as github_services
from cigen.targets.github.expr import TAG_BUILD, fenced
from cigen.targets.github.pins import uses
from cigen.yamlio import quoted

CHECK_TIMEOUT = 30  # minutes; a cold dialyzer PLT build is the slowest check
BEAM_STEP = "beam"  # setup-beam's step id, given when the cache key reads its output
# On a release (tag) build the cache is looked up but never restored: see `cache_step`.
LOOKUP_ONLY = fenced(TAG_BUILD)

Job = dict[str, Any]
Step = dict[str, Any]
# (project, job id, names of the job's env) -> checkout, OTP and rebar3, cache
Toolchain = Callable[[Project, str, tuple[str, ...]], list[Step]]


def job_ids(checks: tuple[str, ...]) -> dict[str, str]:
    """Check -> the id of the job that runs it."""
    return {check: job for job, group in rebar3_checks.groups(checks).items() for check in group}


def check_jobs(project: Project, toolchain: Toolchain | None = None) -> dict[str, Job]:
    """The check jobs; `toolchain` sets up OTP (an erlang.matrix job's: github/matrix.py)."""
    return {job: _check_job(project, job, group, toolchain or toolchain_steps)
            for job, group in rebar3_checks.groups(project.erlang.checks).items()}


def _check_job(project: Project, job: str, checks: tuple[str, ...], toolchain: Toolchain) -> Job:
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
    steps = [*toolchain(project, job, (*env, *secrets)),
             *github_private.check_steps(project)]
    out["steps"] = [*steps, *(step for run in runs for step in run),
                    *github_private.cleanup_steps(project)]
    return out


def toolchain_steps(project: Project, job: str, env_names: tuple[str, ...] = ()) -> list[Step]:
    setup = (github_container.steps(project, list(env_names)) if github_container.needed(project)
             else [setup_beam_step(project)])
    return [checkout_step(project.github), *setup, cache_step(project, job)]


def setup_beam_step(project: Project) -> Step:
    erlang = project.erlang
    # A line's release is known only once installed: the cache key reads it (`cache_otp`).
    step_id = {} if compat.is_exact(erlang.otp) else {"id": BEAM_STEP}
    return {
        "name": "Set up Erlang/OTP and rebar3",
        **step_id,
        "uses": uses("erlef/setup-beam", project.github),
        "with": {
            "otp-version": quoted(erlang.otp),
            "rebar3-version": quoted(erlang.rebar3 or ""),
            # strict looks the version up as one exact release, so a line such as "28" would
            # fail; loose installs the newest release of the line, as erlang:28 is on Docker Hub.
            "version-type": "strict" if compat.is_exact(erlang.otp) else "loose",
        },
    }


def checkout_step(github: GitHub) -> Step:
    # No token left in .git/config for later steps (or the image build context) to read.
    return {
        "name": "Check out",
        "uses": uses("actions/checkout", github),
        "with": {"persist-credentials": False},
    }


def cache_otp(project: Project, otp: str) -> str:
    """The OTP release in the cache key: `otp` when it names one release; for a line (27) on
    setup-beam, the release it installed (its otp-version output, erlef/setup-beam action.yml),
    so a new patch release starts a new cache instead of restoring, and never saving, the old
    release's PLTs. On the container path (container.py) the key keeps the line as written."""
    if compat.is_exact(otp) or github_container.needed(project):
        return otp
    return fenced(f"steps.{BEAM_STEP}.outputs.otp-version")


def cache_prefix(otp: str, job: str) -> str:
    """The key without the lock hash: also the restore key, so it really is the key's prefix.

    One key per job: jobs build different profiles (default, test) and dialyzer adds its PLTs
    (in _build/default and ~/.cache/rebar3), so a shared key would keep whichever job saved first.
    """
    return f"${{{{ runner.os }}}}-${{{{ runner.arch }}}}-otp-{otp}-rebar3-{job}-"


def cache_key(otp: str, job: str, rebar_lock: bool, lock: str = "rebar.lock") -> str:
    """The key of a check job's cache, dialyzer's PLTs included: the OTP release `otp` (rebar3
    names PLTs `rebar3_<otp_release>_plt`, erlang/rebar3 apps/rebar/src/rebar_prv_dialyzer.erl),
    the job, and the hash of rebar.lock when the project has one. actions/cache saves nothing
    when the key was found (src/saveImpl.ts), so the key must change when what it holds would.
    `lock`: its path from the workspace, where hashFiles looks (GitHub docs, "Evaluate
    expressions in workflows and actions", hashFiles: relative to GITHUB_WORKSPACE)."""
    prefix = cache_prefix(otp, job)
    return prefix + f"${{{{ hashFiles('{lock}') }}}}" if rebar_lock else prefix.removesuffix("-")


def cache_step(project: Project, job: str, otp: str | None = None) -> Step:
    """`otp`: the OTP release in the key (an expression in a matrix); else erlang.otp's."""
    otp = otp or cache_otp(project, project.erlang.otp)
    cached: Step = {
        # rebar3 writes the project's PLT to _build/default and the base PLT to ~/.cache/rebar3
        # (tsloughter/rebar3.org content/en/docs/commands.md, dialyzer: plt_location and
        # base_plt_location), beside the compiled dependencies and the Hex packages.
        # from the workspace: defaults.run.working-directory moves only run steps (GitHub docs,
        # workflow syntax, defaults.run), not an action's paths
        "path": f"{project.in_directory('_build')}\n~/.cache/rebar3\n",
        "key": cache_key(otp, job, project.rebar_lock, project.in_directory("rebar.lock")),
    }
    if project.rebar_lock:  # a changed lock restores the last cache; rebar3 updates it
        cached["restore-keys"] = cache_prefix(otp, job)
    # Release builds restore no cache, so a poisoned cache cannot reach a release.
    cached["lookup-only"] = LOOKUP_ONLY
    return {
        "name": "Cache _build and ~/.cache/rebar3",
        "uses": uses("actions/cache", project.github),
        "with": cached,
    }


def _run(check: str, group: tuple[str, ...], env: dict[str, str]) -> Step:
    command = rebar3_checks.command(check, group)
    return {"run": command, **({"env": dict(env)} if env else {})}  # a copy: no YAML alias
