"""image.platforms with more than one platform: a native build per platform, then one list.

Each platform builds in a job of its own, `image-<arch>`, on a runner of that architecture
(github.runs_on for linux/amd64, github.arm_runs_on for linux/arm64): nothing is emulated. On
publishing runs it pushes its image by digest only, no tag, and hands the digest on as a job
output. The `image` job then runs on publishing runs only: it computes the tags as the one
image job does (metadata-action, same rules), and `docker buildx imagetools create` makes the
manifest list of the platform digests under every tag. This is the "Distribute build across
multiple runners" recipe of docker/docs (content/manuals/build/ci/github-actions/
multi-platform.md), with job outputs instead of artifact files to carry the digests, and
native runners instead of QEMU.

imagetools create keeps each source's SBOM and provenance attestation manifests in the new list
(docker/buildx v0.36.1 util/imagetools/create.go), and writes the list's descriptor, digest
included, to its --metadata-file (commands/imagetools/create.go; the flag exists since buildx
v0.32.0, GitHub's Ubuntu 24.04 images have 0.36.1: actions/runner-images
images/ubuntu/Ubuntu2404-Readme.md): that digest is what publish.sign signs, never a tag that
another run could have moved since.

With github.environment (publish.py) the split is kept per platform: `image-<arch>` builds on
every other run and never pushes, `publish-<arch>` (the environment's) pushes by digest, and
`publish` (the environment's) makes the list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cigen.model import Project, arch
from cigen.targets.github.expr import fenced
from cigen.targets.github.image import (
    Pushes,
    image_job,
    login_steps,
    metadata_step,
    permissions,
)
from cigen.targets.github.jobs import Job, Step
from cigen.targets.github.pins import uses
from cigen.targets.github.sign import sign_steps

LIST_STEP = "list"  # the merge step's id, whose `digest` output is signed
MERGE_TIMEOUT = 15  # minutes: copies no layer, only writes the list's manifest


def platform_jobs(project: Project, prefix: str, needs: list[str], pushes: Pushes = "publishing",
                  head: Mapping[str, Any] | None = None) -> dict[str, Job]:
    """`<prefix>-<arch>`: one build job per platform of image.platforms."""
    out = {}
    for platform in project.image.platforms:
        named = dict(head or {})
        if "name" in named:  # the head's name, per platform
            named["name"] = f"{named['name']} ({arch(platform)})"
        out[f"{prefix}-{arch(platform)}"] = image_job(project, needs, pushes, named, platform)
    return out


def merge_job(project: Project, prefix: str, head: Mapping[str, Any]) -> Job:
    """The job that makes the tagged list of the `<prefix>-<arch>` jobs' digests; `head` (its
    name, `if` and environment) goes after its needs. It runs on publishing runs only, so it
    logs in, pushes and signs unconditionally."""
    platforms = project.image.platforms
    signs = project.publish.sign
    job: Job = {
        "name": "Container image",
        "needs": [f"{prefix}-{arch(platform)}" for platform in platforms],
        **head,
        "runs-on": project.github.runs_on,
        "timeout-minutes": MERGE_TIMEOUT,
        "permissions": permissions(project, signs),
        "steps": [
            # imagetools reads and writes the registry itself, through the login's credentials
            {"name": "Set up Docker Buildx",
             "uses": uses("docker/setup-buildx-action", project.github)},
            *login_steps(project, "always"),
            metadata_step(project),
            _create_step(project, prefix),
            *(sign_steps(project, fenced(f"steps.{LIST_STEP}.outputs.digest"), {})
              if signs else []),
        ],
    }
    return job


def digest_var(platform: str) -> str:
    return f"DIGEST_{arch(platform).upper()}"


def _create_step(project: Project, prefix: str) -> Step:
    platforms = project.image.platforms
    signs = project.publish.sign
    metadata = '"$RUNNER_TEMP/image-list.json"'
    # Every value arrives in the environment, none is spliced into the script. The tags are
    # metadata-action's `tags` output, one a line (docker/metadata-action README.md, outputs);
    # mapfile reads them as they are, with no word splitting or globbing.
    sources = " \\\n  ".join(f'"$IMAGE@${digest_var(p)}"' for p in platforms)
    script = (
        'mapfile -t tags <<< "$IMAGE_TAGS"\n'
        "args=()\n"
        'for tag in "${tags[@]}"; do\n'
        '  if [ -n "$tag" ]; then args+=(--tag "$tag"); fi\n'
        "done\n"
        # docker/buildx v0.36.1 docs/reference/buildx_imagetools_create.md: -t/--tag
        # (repeatable), --metadata-file, sources that already exist in the registry.
        "docker buildx imagetools create "
        + (f"--metadata-file {metadata} " if signs else "")
        + '"${args[@]}" \\\n  ' + sources + "\n"
    )
    if signs:
        # The list's digest: "containerimage.descriptor" of the metadata file (same page).
        script += (f"digest=\"$(jq -r '.\"containerimage.descriptor\".digest' {metadata})\"\n"
                   'echo "digest=$digest" >> "$GITHUB_OUTPUT"\n')
    env = {
        "IMAGE": project.image_repo,
        "IMAGE_TAGS": "${{ steps.meta.outputs.tags }}",
        **{digest_var(p): fenced(f"needs.{prefix}-{arch(p)}.outputs.digest") for p in platforms},
    }
    return {
        "name": "Create and push the manifest list",
        **({"id": LIST_STEP} if signs else {}),
        "env": env,
        "run": script,
    }


def image_jobs(project: Project, needs: list[str], publishes: str,
               environment: str | None) -> dict[str, Job]:
    """The platform jobs and the merge job; `publishes`: the expression of a publishing run."""
    if environment is None:
        return {**platform_jobs(project, "image", needs),
                "image": merge_job(project, "image", {"if": fenced(publishes)})}
    return {
        **platform_jobs(project, "image", needs, "never", {"if": fenced(f"!({publishes})")}),
        **platform_jobs(project, "publish", needs, "always", {
            "name": "Publish image", "if": fenced(publishes), "environment": environment}),
        "publish": merge_job(project, "publish", {
            "name": "Publish image", "if": fenced(publishes), "environment": environment}),
    }
