from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from cigen.model import AMD64, ARM64, Project, arch
from cigen.targets.github import private as github_private
from cigen.targets.github.expr import BRANCH_BUILD, TAG_BUILD, fenced, publishing, unless_tag
from cigen.targets.github.jobs import Job, Step, checkout_step
from cigen.targets.github.pins import uses
from cigen.targets.github.sign import SIGN_REASON, sign_steps

IMAGE_JOB = "image"
BUILD_STEP = "build"  # the build step's id, whose `digest` output is signed or merged
IMAGE_TIMEOUT = 60  # minutes: a cold build compiles every dependency in the builder stage
# Repository variables (not secrets: neither value is confidential) for Workload Identity.
GCP_PROVIDER_VAR = "GCP_WORKLOAD_IDENTITY_PROVIDER"
GCP_ACCOUNT_VAR = "GCP_SERVICE_ACCOUNT"
USERNAME_SECRET = "REGISTRY_USERNAME"  # noqa: S105 (the secret's name, not its value)
PASSWORD_SECRET = "REGISTRY_PASSWORD"  # noqa: S105 (the secret's name, not its value)
PUBLISH_VAR = "PUBLISH"
PUBLISHES = f"env.{PUBLISH_VAR} == 'true'"
# metadata-action's type=match runs this as a JavaScript RegExp on the pushed tag's name and
# tags the image with the group: the tag with one leading v dropped (v1.4.2 -> 1.4.2,
# release-7 -> release-7). docker/metadata-action v6.2.0, src/meta.ts (procMatch).
VERSION_PATTERN = "^v?(.*)$"
# Which runs of an image job push. "publishing": the one image job, which pushes on the runs that
# PUBLISH names and only builds on the others; with github.environment (publish.py) "always": the
# publish job, which runs only on those, and "never": the build of every other run beside it.
Pushes = Literal["publishing", "always", "never"]


# Said on the permission's line, where a reviewer (and zizmor's pedantic persona) looks.
PERMISSION_REASONS = {
    "packages": "push the image to ghcr.io with GITHUB_TOKEN",
    "id-token": "OIDC token for Workload Identity Federation",
}


def permission_reasons(project: Project) -> dict[str, str]:
    """PERMISSION_REASONS, the id-token one naming what this workflow's OIDC tokens are for (a
    comment goes on every line that says `id-token: write`)."""
    if not project.publish.sign:
        return dict(PERMISSION_REASONS)
    token_uses = ["Workload Identity Federation"] if project.github.auth == "gcp" else []
    return {**PERMISSION_REASONS,
            "id-token": "OIDC token for " + " and ".join([*token_uses, SIGN_REASON])}


def permissions(project: Project, signs: bool = False) -> dict[str, str]:
    """A pushing job's grants; `signs`: it signs what it pushed (sign.py)."""
    granted = {"contents": "read"}
    if project.github.auth == "ghcr":
        granted["packages"] = "write"
    if project.github.auth == "gcp" or signs:
        granted["id-token"] = "write"
    return granted


def runner(project: Project, platform: str) -> str:
    """The runner label that builds `platform` natively: no emulation (docs/multi-arch.md)."""
    return project.github.arm_runs_on if platform == ARM64 else project.github.runs_on


def image_job(project: Project, needs: list[str], pushes: Pushes = "publishing",
              head: Mapping[str, Any] | None = None, platform: str | None = None) -> Job:
    """The job that builds the image; `head` (a split job's name, `if` and environment) goes
    after its needs. `platform`: one platform's build of a multi-platform image, pushed by
    digest only, which platforms.py merges into the tagged list; None: the image of
    image.platforms' one platform, tagged, and signed with publish.sign."""
    signs = platform is None and pushes != "never" and project.publish.sign
    built = platform or project.image.platforms[0]
    job: Job = {
        "name": f"Container image ({arch(platform)})" if platform else "Container image",
        # publish.after: [] waits for nothing; the workflow schema refuses an empty needs list
        **({"needs": list(needs)} if needs else {}),  # a copy: no YAML alias between jobs
        **(head or {}),
        "runs-on": runner(project, built),
        "timeout-minutes": IMAGE_TIMEOUT,
        "permissions": permissions(project, signs) if pushes != "never" else {"contents": "read"},
    }
    if platform and pushes != "never":
        # What the merge job reads: the platform image's digest (build-push-action output).
        job["outputs"] = {"digest": fenced(f"steps.{BUILD_STEP}.outputs.digest")}
    if pushes == "publishing":
        # One definition of "this run publishes", read by the login, push and cache-to.
        job["env"] = {PUBLISH_VAR: fenced(publishing(project))}
    digest = fenced(f"steps.{BUILD_STEP}.outputs.digest")
    job["steps"] = [
        checkout_step(project.github),
        {"name": "Set up Docker Buildx",
         "uses": uses("docker/setup-buildx-action", project.github)},
        *login_steps(project, pushes),
        *github_private.image_steps(project),
        metadata_step(project),
        _build_step(project, pushes, platform, signs),
        *(sign_steps(project, digest, _when(pushes)) if signs else []),
    ]
    return job


def login_steps(project: Project, pushes: Pushes = "publishing") -> list[Step]:
    """Registry login, only on runs that push: pull requests build with no credentials."""
    if pushes == "never":
        return []
    host = project.registry_host
    login = {"name": f"Log in to {host}", **_when(pushes),
             "uses": uses("docker/login-action", project.github)}
    if project.github.auth == "ghcr":
        return [{**login, "with": {"registry": host, "username": "${{ github.actor }}",
                                   "password": "${{ secrets.GITHUB_TOKEN }}"}}]
    if project.github.auth == "docker-login":
        return [{**login, "with": {"registry": host,
                                   "username": fenced(f"secrets.{USERNAME_SECRET}"),
                                   "password": fenced(f"secrets.{PASSWORD_SECRET}")}}]
    return [_gcp_auth_step(project, pushes), {**login, "with": {
        "registry": host, "username": "oauth2accesstoken",
        "password": "${{ steps.gcp.outputs.access_token }}"}}]


def _when(pushes: Pushes) -> dict[str, str]:
    """The `if` of a login step: none in a job that runs only to push."""
    return {"if": PUBLISHES} if pushes == "publishing" else {}


def _gcp_auth_step(project: Project, pushes: Pushes) -> Step:
    return {
        "name": "Authenticate to Google Cloud",
        "id": "gcp",
        **_when(pushes),
        "uses": uses("google-github-actions/auth", project.github),
        "with": {
            "workload_identity_provider": fenced(f"vars.{GCP_PROVIDER_VAR}"),
            "service_account": fenced(f"vars.{GCP_ACCOUNT_VAR}"),
            "token_format": "access_token",
            # The default writes a credentials file into the workspace: the build context.
            "create_credentials_file": False,
        },
    }


def metadata_tags(project: Project) -> str:
    """metadata-action's tag rules (docker/metadata-action README.md, "tags input"): tags as the
    other targets write them. No `latest`: release lines (release/2.x) would move it back.

    - the bare commit SHA, not on tag builds (`enable=`): a release is built without cache, so
      its digest differs and must not replace the branch's image under the same SHA tag;
    - the branch, `/` made `-` (type=ref,event=branch acts on refs/heads/ only);
    - on a push of a publish.tags tag, its version (type=match acts on refs/tags/ only).
    """
    rules = [f"type=sha,format=long,prefix=,enable={fenced(BRANCH_BUILD)}",
             "type=ref,event=branch"]
    if project.publish.tags:
        rules.append(f"type=match,pattern={VERSION_PATTERN},group=1")
    return "\n".join(rules) + "\n"


def metadata_step(project: Project) -> Step:
    return {
        "name": "Image tags and labels",
        "id": "meta",
        "uses": uses("docker/metadata-action", project.github),
        "with": {"images": project.image_repo, "tags": metadata_tags(project),
                 "flavor": "latest=false"},
    }


def _build_step(project: Project, pushes: Pushes, platform: str | None, signs: bool) -> Step:
    env = github_private.build_env(project)  # the Hex config: this step's only
    push = fenced(PUBLISHES) if pushes == "publishing" else pushes == "always"
    built = platform or project.image.platforms[0]
    where: dict[str, Any]
    if platform and pushes != "never":
        # A platform's image goes by digest alone, no tag: the merge job tags the list
        # (docker/docs content/manuals/build/ci/github-actions/multi-platform.md, "Distribute
        # build across multiple runners"; buildx image exporter: push-by-digest, name-canonical).
        pushed = push if pushes == "publishing" else "true"
        where = {"outputs": f"type=image,name={project.image_repo},push-by-digest=true,"
                            f"name-canonical=true,push={pushed}"}
    elif platform:
        where = {"push": False}
    else:
        where = {"push": push, "tags": "${{ steps.meta.outputs.tags }}"}
    return {
        "name": "Build" if pushes == "never" else "Build and push",
        **({"id": BUILD_STEP} if platform or signs else {}),
        "uses": uses("docker/build-push-action", project.github),
        **({"env": env} if env else {}),
        "with": {
            # both from the workspace; the context is the rebar3 project's folder (directory)
            "context": project.directory,
            "file": project.image.dockerfile,
            # none for a user's last stage without a name: buildx builds the last stage
            **({"target": project.image.target} if project.image.target else {}),
            # the runner's own platform, named once it is not the default amd64
            **({"platforms": built} if platform or built != AMD64 else {}),
            **where,
            "labels": "${{ steps.meta.outputs.labels }}",
            **attestations(project),
            **cache(project, pushes, arch(platform) if platform else None),
            # A release is built from scratch: besides reading no cache, BuildKit then drops the
            # builder's cache mounts before the build (moby/buildkit pull request #1092).
            "no-cache": fenced(TAG_BUILD),
            **github_private.build_inputs(project),
        },
    }


def attestations(project: Project) -> dict[str, Any]:
    """SBOM and max provenance attestations, pushed with the image (publish.sbom): inputs
    `sbom` and `provenance` of docker/build-push-action v7.3.0 (action.yml), shorthands of
    buildx --attest=type=sbom and --attest=type=provenance,mode=max (docker/buildx v0.36.1
    docs/reference/buildx_build.md)."""
    return {"sbom": True, "provenance": "mode=max"} if project.publish.attest else {}


def cache(project: Project, pushes: Pushes = "publishing",
          scope: str | None = None) -> dict[str, str]:
    """cache-from/cache-to of the github.cache backend, on branch pushes and pull requests.

    A tag build neither reads a cache (branch runs write them all) nor writes one (no later
    release would read it). build-push-action drops the empty entries of both lists
    (docker/build-push-action src/context.ts, through @docker/actions-toolkit's Util.getList),
    so an empty value passes no --cache-from or --cache-to to buildx.

    `scope`: a platform's build of a multi-platform image (its arch), whose gha and registry
    caches are its own, so the platforms never overwrite each other's.
    """
    repo = project.image_repo
    if project.github.cache == "gha":
        # type=gha's `scope` names the cache object (default `buildkit`): builds that share
        # one overwrite each other's (docs.docker.com/build/cache/backends/gha, "scope").
        key = f",scope={scope}" if scope else ""
        return {"cache-from": unless_tag(f"'type=gha{key}'"),
                "cache-to": unless_tag(f"'type=gha{key},mode=max'")}
    if project.github.cache == "registry":
        ref = f"type=registry,ref={repo}:buildcache" + (f"-{scope}" if scope else "")
        # Only runs that logged in can write the cache image.
        sink = {"publishing": unless_tag(f"{PUBLISHES} && '{ref},mode=max'"),
                "always": unless_tag(f"'{ref},mode=max'")}
        return {"cache-from": unless_tag(f"'{ref}'"),
                **({"cache-to": sink[pushes]} if pushes in sink else {})}
    # The image of this branch (metadata-action's `version` output: its highest-priority tag).
    sources = [unless_tag(f"format('type=registry,ref={repo}:{{0}}', steps.meta.outputs.version)")]
    if project.publish.cache_from:
        ref = f"type=registry,ref={repo}:{branch_tag(project.publish.cache_from)}"
        sources.append(unless_tag(f"'{ref}'"))
    return {"cache-from": "\n".join(sources) + "\n", "cache-to": unless_tag("'type=inline'")}


def branch_tag(branch: str) -> str:
    """The image tag metadata-action gives a branch: `/` (the only character a branch name may
    have that a tag may not) becomes `-`."""
    return branch.replace("/", "-")
