"""Private dependencies in the BuildKit Dockerfile (`private` in the descriptor).

The Hex config that holds the organisation keys comes in as a BuildKit secret mount and the SSH
agent as an ssh mount, on each RUN that fetches dependencies: neither is ever in a layer, a
build argument or the cache. The SSH client, known_hosts and the URL rewrite are set up in the
builder, which the runner does not build on. This is the chapter's design ("Private
dependencies"); docs/private-dependencies.md has each CI's side.
"""

from __future__ import annotations

from cigen.model import Project
from cigen.targets.dockerfile.system import Run
from cigen.targets.private import trust_commands

HEX_SECRET = "hex_config"  # noqa: S105 (a secret id, not a secret): every CI passes it so
# rebar3 reads repository keys from hex.config in its global config folder (~/.config/rebar3).
HEX_CONFIG = "/root/.config/rebar3/hex.config"
SSH_PACKAGES = ("openssh-client", "git")


def mounts(project: Project) -> tuple[str, ...]:
    """The --mount values of a RUN that fetches dependencies; required: a build without the
    secret or the agent fails there, not later with a puzzling fetch error."""
    found = []
    if project.private.hex_organizations:
        found.append(f"type=secret,id={HEX_SECRET},target={HEX_CONFIG},required=true")
    if project.private.git_hosts:
        found.append("type=ssh,required=true")
    return tuple(found)


def packages(project: Project) -> tuple[str, ...]:
    return SSH_PACKAGES if project.private.git_hosts else ()


def ssh_setup(project: Project) -> Run | None:
    """SSH for the hosts of private git dependencies, in the builder (never the runner)."""
    hosts = project.private.git_hosts
    return Run((), " && ".join(trust_commands(hosts, "/root/.ssh"))) if hosts else None
