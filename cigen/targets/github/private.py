"""Private dependencies on GitHub Actions (`private` in the descriptor).

Two repository secrets: HEX_CONFIG, the text of a hex.config with the organisation keys, and
SSH_PRIVATE_KEY, a key with read access to the private repositories. Each reaches only the one
step that uses it, through that step's `env`. The Hex config is written to rebar3's global config
folder (~/.config/rebar3), outside the workspace (the image's build context) and the cached
paths; the key goes from the environment into an ssh-agent, never onto a disk. The agent listens
on a socket in the runner's temporary folder, and only the steps that run the project's commands
(and the image build) are told where (SSH_AUTH_SOCK). All of it is plain `run` steps: no action
sees a secret but docker/build-push-action, which gets the Hex config for the image build.
docs/private-dependencies.md has the user's side.
"""

from __future__ import annotations

from typing import Any

from cigen.model import Project
from cigen.targets.dockerfile.private import HEX_SECRET
from cigen.targets.github.expr import fenced
from cigen.targets.private import trust_commands

Step = dict[str, Any]

HEX_CONFIG_SECRET = "HEX_CONFIG"  # noqa: S105 (the secret's name, not its value)
SSH_KEY_SECRET = "SSH_PRIVATE_KEY"  # noqa: S105 (the secret's name, not its value)
# The runner context is available in a step's env and inputs, not in a job's env (GitHub docs,
# "Contexts", context availability); actionlint checks it.
AGENT_SOCKET = fenced("runner.temp") + "/ssh-agent.sock"
# Where the old-OTP wrapper (container.py) mounts the scanned host keys, read-only, in the HOME
# it gives the container.
_KNOWN_HOSTS = "/tmp/.ssh/known_hosts"  # noqa: S108 (a path inside the container)


def agent_env(project: Project) -> dict[str, str]:
    """The env of a step that fetches private git dependencies: the agent's socket."""
    return {"SSH_AUTH_SOCK": AGENT_SOCKET} if project.private.git_hosts else {}


def check_steps(project: Project) -> list[Step]:
    """What a check job does before rebar3: host keys, the agent, the Hex config."""
    steps: list[Step] = []
    hosts = project.private.git_hosts
    if hosts:
        steps.append({"name": "Trust the private git hosts",
                      "run": "".join(f"{c}\n" for c in trust_commands(hosts, "~/.ssh"))})
        steps.append(_agent_step())
    if project.private.hex_organizations:
        steps.append({"name": "Write the Hex config for the private organisations",
                      "env": {HEX_CONFIG_SECRET: fenced(f"secrets.{HEX_CONFIG_SECRET}")},
                      "run": _HEX_CONFIG})
    return steps


def cleanup_steps(project: Project) -> list[Step]:
    """A check job's last step, even when one before failed: a self-hosted runner keeps its
    home between jobs, and the next job on it may be another repository's."""
    if not project.private.hex_organizations:
        return []
    return [{"name": "Remove the Hex config", "if": "always()",
             "run": "rm -f ~/.config/rebar3/hex.config\n"}]


def _agent_step() -> Step:
    return {"name": "Load the SSH key into an agent",
            "env": {SSH_KEY_SECRET: fenced(f"secrets.{SSH_KEY_SECRET}"),
                    "SSH_AUTH_SOCK": AGENT_SOCKET},
            "run": _AGENT}


_NOT_SET = "is not set: add it under Settings, Secrets and variables, Actions (a pull " \
    "request from a fork gets no secrets)"

_HEX_CONFIG = f"""\
if [ -z "${{{HEX_CONFIG_SECRET}:-}}" ]; then
  echo "The secret {HEX_CONFIG_SECRET} (the text of a hex.config with the organisation keys) \
{_NOT_SET}" >&2
  exit 1
fi
umask 077
mkdir -p ~/.config/rebar3
printf '%s\\n' "${HEX_CONFIG_SECRET}" > ~/.config/rebar3/hex.config
"""

# The agent outlives the step (a daemon; the runner ends it with the job) and is started
# without the key in its environment. `ssh-add -` reads the key from standard input.
_AGENT = f"""\
if [ -z "${{{SSH_KEY_SECRET}:-}}" ]; then
  echo "The secret {SSH_KEY_SECRET} (a key with read access to the private repositories) \
{_NOT_SET}" >&2
  exit 1
fi
env -u {SSH_KEY_SECRET} ssh-agent -a "$SSH_AUTH_SOCK" > /dev/null
printf '%s\\n' "${SSH_KEY_SECRET}" | ssh-add -
"""


def image_steps(project: Project) -> list[Step]:
    """Before the image build: the agent that buildx forwards (known_hosts is the builder's)."""
    return [_agent_step()] if project.private.git_hosts else []


def build_inputs(project: Project) -> dict[str, str]:
    """docker/build-push-action inputs (v7.3.0 action.yml and README, "inputs"):

    - `secret-envs` (`key=envname`): buildx `--secret id=hex_config,env=HEX_CONFIG`, the value
      read from the step's environment (@docker/actions-toolkit src/buildx/build.ts,
      Build.resolveSecretEnv), where `secrets` (`key=string`) would write it to a temporary
      file first (Build.resolveSecret);
    - `ssh`: buildx `--ssh`, `default|<id>[=<socket>|<key>[,<key>]]` (docker/buildx
      docs/reference/buildx_build.md): the default agent, at the socket the agent step made.
    """
    private = project.private
    inputs = {}
    if private.hex_organizations:
        inputs["secret-envs"] = f"{HEX_SECRET}={HEX_CONFIG_SECRET}"
    if private.git_hosts:
        inputs["ssh"] = f"default={AGENT_SOCKET}"
    return inputs


def build_env(project: Project) -> dict[str, str]:
    """The image build step's env: the Hex config for `secret-envs`, for that step only."""
    if not project.private.hex_organizations:
        return {}
    return {HEX_CONFIG_SECRET: fenced(f"secrets.{HEX_CONFIG_SECRET}")}


def docker_flags(project: Project) -> str:
    """`docker run` flags of the old-OTP wrapper (container.py), which runs rebar3 as the
    runner's uid with HOME=/tmp: the Hex config, and for git over SSH the agent's socket, the
    git config and the host keys, read-only.

    ssh exits when no passwd entry has its uid (openssh-portable ssh.c, main: "No user exists
    for uid"), so the runner's /etc/passwd is mounted; and it finds ~/.ssh through that entry,
    not $HOME (misc.c, tilde_expand), so the host keys are named by GIT_SSH_COMMAND. The
    official Debian erlang images have git and ssh (erlang/docker-erlang-otp 20/Dockerfile:
    FROM buildpack-deps:stretch, which includes its scm variant).
    """
    flags = []
    if project.private.hex_organizations:
        flags.append('-v "$HOME/.config/rebar3/hex.config:/tmp/.config/rebar3/hex.config:ro"')
    if project.private.git_hosts:
        flags += ["-v /etc/passwd:/etc/passwd:ro",
                  '-v "$SSH_AUTH_SOCK:$SSH_AUTH_SOCK" -e SSH_AUTH_SOCK',
                  '-v "$HOME/.gitconfig:/tmp/.gitconfig:ro"',
                  f'-v "$HOME/.ssh/known_hosts:{_KNOWN_HOSTS}:ro"',
                  f'-e "GIT_SSH_COMMAND=ssh -o UserKnownHostsFile={_KNOWN_HOSTS}"']
    return "".join(f" {flag}" for flag in flags)
