"""erlang.matrix on GitHub Actions: each check job runs once per OTP release, by a strategy.matrix
whose `include` lists every release with the values that differ between them.

- `include` alone makes one job per entry ("If you don't specify any matrix variables, all
  configurations under include will run": github/docs data/reusables/actions/jobs/
  matrix-add-with-include.md); a matrix makes at most 256 jobs (data/reusables/actions/
  usage-matrix-limits.md), hence erlang.matrix's 255 releases at most.
- fail-fast is off: by default a failing release cancels the others (data/reusables/actions/
  jobs/section-using-a-build-matrix-for-your-jobs-failfast.md), and which releases fail is what
  a matrix is run to learn.
- A job that `needs` a matrix job waits for every job of its matrix (actions/runner issue 1121:
  needs cannot name one of them), so the image job's needs stay as they are.
- Matrix values reach setup-beam through its inputs (erlef/setup-beam action.yml: otp-version,
  rebar3-version, version-type) and the container path through env, never through `run:` text.
"""

from __future__ import annotations

from typing import Any

from cigen import compat
from cigen.model import Project, Release
from cigen.targets.github import container as github_container
from cigen.targets.github import jobs as github_jobs
from cigen.targets.github.expr import fenced
from cigen.targets.github.pins import uses
from cigen.targets.releases import for_release
from cigen.yamlio import quoted

OTP = fenced("matrix.otp")
REBAR3 = fenced("matrix.rebar3")
VERSION_TYPE = "version-type"
CONTAINER = "container"  # set on the releases that run rebar3 in the erlang image, when mixed

Job = dict[str, Any]
Step = dict[str, Any]


def check_jobs(project: Project) -> dict[str, Job]:
    """The check jobs of github/jobs.py, each with a strategy.matrix over every release."""
    jobs = github_jobs.check_jobs(project, toolchain_steps)
    return {job_id: _with_matrix(project, job) for job_id, job in jobs.items()}


def _with_matrix(project: Project, job: Job) -> Job:
    out: Job = {}
    for key, value in job.items():
        if key == "name":
            value = f"{value} (OTP {OTP})"  # jobs.<job_id>.name may read the matrix context
        if key == "env" and _boxed(project):
            continue  # written after the strategy, with the image's variable first
        out[key] = value
        if key == "permissions":
            out["strategy"] = strategy(project)
            if _boxed(project):
                image = {github_container.IMAGE_VAR: f"erlang:{OTP}"}
                out["env"] = {**image, **job.get("env", {})}
    return out


def strategy(project: Project) -> dict[str, Any]:
    include = [_entry(project, release) for release in project.erlang.releases]
    return {"fail-fast": False, "matrix": {"include": include}}


def _entry(project: Project, release: Release) -> dict[str, Any]:
    entry: dict[str, Any] = {"otp": quoted(release.otp), "rebar3": quoted(release.rebar3 or "")}
    boxed = _needs_container(project, release)
    if not boxed and len(_version_types(project)) > 1:
        entry[VERSION_TYPE] = _version_type(release.otp)
    if boxed and _beam(project):
        entry[CONTAINER] = True
    return entry


def _needs_container(project: Project, release: Release) -> bool:
    return github_container.needed(for_release(project, release))


def _beam(project: Project) -> list[Release]:
    """The releases setup-beam installs on github.runs_on."""
    return [r for r in project.erlang.releases if not _needs_container(project, r)]


def _boxed(project: Project) -> list[Release]:
    """The releases whose rebar3 runs in the erlang image (github/container.py)."""
    return [r for r in project.erlang.releases if _needs_container(project, r)]


def _version_type(otp: str) -> str:
    # strict takes the version as one exact release; loose the newest of a line (jobs.py).
    return "strict" if compat.is_exact(otp) else "loose"


def _version_types(project: Project) -> set[str]:
    return {_version_type(r.otp) for r in _beam(project)}


def _when(project: Project, boxed: bool) -> dict[str, str]:
    """The step's `if` when the releases take both paths; none when they all take one."""
    if not (_beam(project) and _boxed(project)):
        return {}
    return {"if": fenced(f"matrix.{CONTAINER}" if boxed else f"!matrix.{CONTAINER}")}


def toolchain_steps(project: Project, job: str, env_names: tuple[str, ...]) -> list[Step]:
    """Checkout, then OTP and rebar3 of the job's release, then the cache keyed on it."""
    steps = [github_jobs.checkout_step(project.github)]
    if _beam(project):
        steps.append(_setup_beam(project))
    if _boxed(project):
        boxed = github_container.matrix_steps(project, list(env_names), OTP, REBAR3)
        steps += [{"name": step["name"], **_when(project, boxed=True), **step} for step in boxed]
    return [*steps, github_jobs.cache_step(project, job, _cache_otp(project))]


def _setup_beam(project: Project) -> Step:
    kinds = _version_types(project)
    lines = "loose" in kinds
    return {
        "name": "Set up Erlang/OTP and rebar3",
        # A line's release is known only once installed: the cache key reads it.
        **({"id": github_jobs.BEAM_STEP} if lines else {}),
        **_when(project, boxed=False),
        "uses": uses("erlef/setup-beam", project.github),
        "with": {
            "otp-version": OTP,
            "rebar3-version": REBAR3,
            "version-type": kinds.pop() if len(kinds) == 1 else fenced(f"matrix.{VERSION_TYPE}"),
        },
    }


def _cache_otp(project: Project) -> str:
    """The OTP release in the cache key, as github_jobs.cache_otp: the release setup-beam
    installed where a line is given (the container path has no such output: the line)."""
    if "loose" not in _version_types(project):
        return OTP
    return fenced(f"steps.{github_jobs.BEAM_STEP}.outputs.otp-version || matrix.otp")
