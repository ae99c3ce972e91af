"""`github.environment`: publishing from a job of its own that references a GitHub environment.

Without it one `image` job builds on every run and logs in and pushes on publishing runs only
(image.py). zizmor's auditor persona then reports docker-login's secrets (secrets-outside-env):
it passes a job's secrets only when the job has an `environment` (zizmorcore/zizmor
crates/zizmor/src/audit/secrets_outside_env.rs: `job.environment.is_some()`). An environment on
that one job would also hold every pull request's build to the environment's protection rules
and record a deployment for it ("All deployment protection rules must pass before a job
referencing the environment is sent to a runner": github/docs
data/reusables/actions/jobs/section-using-environments-for-jobs.md), and a branch policy would
refuse a pull request's refs/pull/<n>/merge outright (content/actions/reference/
workflows-and-actions/deployments-and-environments.md, "Deployment branches and tags").

So the image job is split on complementary job conditions:

- `image` runs on every run that does not publish (pull requests): it builds the image, never
  logs in and names no environment;
- `publish` runs only on publishing runs (pushes of publish.branches and of publish.tags tags),
  with `environment: <name>`: it logs in, builds and pushes. Environment secrets are given only
  to jobs that reference the environment, after its protection rules pass (same page,
  "Environment secrets"), and a secret of the environment takes precedence over a repository
  secret of the same name (content/actions/reference/security/secrets.md, "Naming your
  secrets"), so the registry secrets can live in the environment alone.

Both wait for the publish.after checks, as the one image job does. The check jobs are left as
they are: they run on pull requests, which an environment would gate in the same way.

A multi-platform image (platforms.py) keeps the same split per platform: `image-<arch>` and
`publish-<arch>`, then `publish`, with the environment, makes the tagged list.
"""

from __future__ import annotations

from cigen.model import Project
from cigen.targets.github import platforms
from cigen.targets.github.expr import fenced, publishing
from cigen.targets.github.image import IMAGE_JOB, image_job
from cigen.targets.github.jobs import Job

PUBLISH_JOB = "publish"


def image_jobs(project: Project, needs: list[str]) -> dict[str, Job]:
    """The image job, or with github.environment the image and publish jobs."""
    environment = project.github.environment
    publishes = publishing(project)
    if project.image.multi_platform:
        return platforms.image_jobs(project, needs, publishes, environment)
    if environment is None:
        return {IMAGE_JOB: image_job(project, needs)}
    # A job's `if` may use the github context (workflow syntax, jobs.<job_id>.if); fenced, as
    # YAML would read a leading `!` as a tag.
    return {
        IMAGE_JOB: image_job(project, needs, "never", {"if": fenced(f"!({publishes})")}),
        PUBLISH_JOB: image_job(project, needs, "always", {
            "name": "Publish image", "if": fenced(publishes), "environment": environment}),
    }
