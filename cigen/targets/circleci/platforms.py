"""The image jobs of a multi-platform image (image.platforms) and cosign signing
(publish.sign): one native machine job per platform, pushing by digest, then one job that
merges the digests into a manifest list under the usual tags, and signs it."""
from __future__ import annotations

import shlex
from typing import Any

from cigen.model import AMD64, ARM64, Project, arch
from cigen.targets.circleci import buildscript

# cosign, installed by a checksum-verified download of the release binary. v3.0.6 and its
# sha256 values are the ones sigstore/cosign-installer's action.yml pins as its bootstrap
# version (at v4.1.2, lines 105-109); the asset names are cosign's goreleaser binaries
# (sigstore/cosign .goreleaser.yml: cosign-linux-{amd64,arm64}), at the release download URL
# the installer uses (https://github.com/sigstore/cosign/releases/download/<version>/<asset>).
COSIGN_VERSION = "v3.0.6"
COSIGN_SHA256 = {
    "x86_64": ("cosign-linux-amd64",
               "c956e5dfcac53d52bcf058360d579472f0c1d2d9b69f55209e256fe7783f4c74"),
    "aarch64": ("cosign-linux-arm64",
                "bedac92e8c3729864e13d4a17048007cfafa79d5deca993a43a90ffe018ef2b8"),
}
COSIGN_DIR = "$HOME/.cosign"  # the installer's default install-dir


def job_name(platform: str) -> str:
    """linux/arm64 -> docker-build-arm64."""
    return f"docker-build-{arch(platform)}"


def platform_job(project: Project, platform: str, steps: list[Any],
                 command: str) -> dict[str, Any]:
    """The machine job that builds `platform` natively and pushes it by digest. `steps` are
    the single-platform job's steps before its build (checkout, private keys, registry login,
    builder); `command` is its build command."""
    digest = buildscript.digest_file(platform)
    job: dict[str, Any] = {"machine": {"image": project.circleci.machine_image}}
    if platform == ARM64:
        # Arm runs on the machine executor with an arm.* resource class (circleci-docs,
        # docs/guides/modules/execution-managed/pages/using-arm.adoc).
        job["resource_class"] = project.circleci.arm_resource_class
    job["steps"] = [
        *steps,
        {"run": {"name": f"Build and push {platform} by digest",
                 "command": f"{command} -P {shlex.quote(platform)}"}},
        # Each platform job writes a file of its own: the workspace refuses two concurrent jobs
        # persisting the same path (circleci.com/docs/workspaces, "Overview").
        {"persist_to_workspace": {"root": ".", "paths": [digest]}},
    ]
    return job


def merge_job(project: Project, steps: list[Any], command: str) -> dict[str, Any]:
    """The job that joins the platforms' digests into one manifest list under the tags (and
    signs it): no build, so no builder, no private keys. `command` is the script's merge."""
    return {"machine": {"image": project.circleci.machine_image}, "steps": [
        "checkout",
        # The platform jobs' digest files, back at ci/digests/ (circleci.com/docs/workspaces).
        {"attach_workspace": {"at": "."}},
        *steps,
        *cosign_steps(project),
        {"run": {"name": "Merge the platforms into one manifest list" + _signed(project),
                 "command": _signing(project, command)}},
    ]}


def platforms(project: Project) -> list[str]:
    """The descriptor's platforms, amd64 first."""
    return sorted(project.image.platforms, key=lambda p: (p != AMD64, p))


def _signed(project: Project) -> str:
    return " and sign it" if project.publish.sign else ""


def signed_build(project: Project, name: str, command: str) -> dict[str, Any]:
    """The single-platform job's build step, signing with -s when publish.sign."""
    return {"run": {"name": name + _signed(project), "command": _signing(project, command)}}


def _signing(project: Project, command: str) -> str:
    """`command`, with -s and the job's OIDC token for Sigstore when publish.sign. cosign has
    no CircleCI provider and reads SIGSTORE_ID_TOKEN (sigstore/cosign v3.1.2,
    pkg/providers/all/all.go, pkg/cosign/env/env.go); `circleci run oidc get --claims` mints a
    token with aud sigstore, Fulcio's client id, printed to stdout (circleci-docs,
    permissions-authentication/pages/oidc-tokens-with-custom-claims.adoc). The token stays in
    the step's environment: never echoed, never written to a file."""
    if not project.publish.sign:
        return command
    return (f'PATH="{COSIGN_DIR}:$PATH"\n'
            "SIGSTORE_ID_TOKEN=$(circleci run oidc get --claims '{\"aud\":\"sigstore\"}')\n"
            "export SIGSTORE_ID_TOKEN\n"
            f"{command} -s\n")


def cosign_steps(project: Project) -> list[Any]:
    if not project.publish.sign:
        return []
    arms = "".join(f'    {machine}) asset={asset} sha256={sha} ;;\n'
                   for machine, (asset, sha) in COSIGN_SHA256.items())
    install = (
        'case "$(uname -m)" in\n'
        f"{arms}"
        '    *) echo "no cosign binary for $(uname -m)" >&2; exit 1 ;;\n'
        "esac\n"
        f'mkdir -p "{COSIGN_DIR}"\n'
        f'curl -fsSL --retry 3 -o "{COSIGN_DIR}/cosign" \\\n'
        f'    "https://github.com/sigstore/cosign/releases/download/{COSIGN_VERSION}/$asset"\n'
        f'echo "$sha256  {COSIGN_DIR}/cosign" | sha256sum --check --strict\n'
        f'chmod 0755 "{COSIGN_DIR}/cosign"\n'
    )
    return [{"run": {"name": f"Install cosign {COSIGN_VERSION} (checksum-verified)",
                     "command": install}}]
