"""`github.secrets_environment`: the jobs that read secrets reference a GitHub environment.

zizmor's auditor persona reports every `secrets.*` but GITHUB_TOKEN in a job that names no
environment (zizmorcore/zizmor crates/zizmor/src/audit/secrets_outside_env.rs: a job with
`environment` passes). The check jobs and the pull-request image build read erlang.env's
`{secret: NAME}` values and private's HEX_CONFIG and SSH_PRIVATE_KEY, and they run on pull
requests, so the publishing environment (github.environment, publish.py) with its protection
rules is the wrong one for them. This second environment is meant to have none: environment
secrets reach only the jobs that reference the environment, and take precedence over repository
secrets of the same name (github/docs content/actions/reference/security/secrets.md, "Naming
your secrets"). A job that references an environment is sent to a runner after the
environment's protection rules pass, and GitHub records a deployment for it (github/docs
data/reusables/actions/jobs/section-using-environments-for-jobs.md).
"""

from __future__ import annotations

import json
import re
from typing import Any

from cigen.core import Problem
from cigen.model import Project

# A secret other than the token GitHub creates for each run.
_SECRET = re.compile(r"\bsecrets\.(?!GITHUB_TOKEN\b)[A-Za-z_]")


def reads_secrets(job: dict[str, Any]) -> bool:
    return _SECRET.search(json.dumps(job, default=str)) is not None


def with_environment(project: Project, jobs: dict[str, Any]) -> dict[str, Any]:
    """The jobs, each one that reads a secret and names no environment now naming
    github.secrets_environment (after its permissions, where a reader looks for access)."""
    name = project.github.secrets_environment
    if name is None:
        return jobs
    return {job_id: _named(job, name) if reads_secrets(job) and "environment" not in job
            else job for job_id, job in jobs.items()}


def problems(project: Project, jobs: dict[str, Any]) -> list[Problem]:
    if project.github.secrets_environment is None or any(map(reads_secrets, jobs.values())):
        return []
    return [Problem(("github", "secrets_environment"),
                    "no job of the workflow reads a secret (other than GITHUB_TOKEN) without "
                    "an environment, so this one would hold nothing: leave the key out")]


def _named(job: dict[str, Any], name: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in job.items():
        out[key] = value
        if key == "permissions":
            out["environment"] = name
    out.setdefault("environment", name)
    return out
