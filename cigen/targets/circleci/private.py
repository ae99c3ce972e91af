"""Private dependencies on CircleCI (`private` in the descriptor).

SSH keys come from the project's settings (Additional SSH Keys, one per git host):
`add_ssh_keys` without fingerprints adds them all and configures SSH to use them (CircleCI
configuration reference, add_ssh_keys). The Hex config is the text of the HEX_CONFIG variable
(project or context); it is written to rebar3's global config folder of the job's container,
never into the checkout, and reaches the image build as a BuildKit secret.
"""

from __future__ import annotations

from typing import Any

from cigen.model import Project
from cigen.targets.private import trust_commands

Step = str | dict[str, Any]
HEX_CONFIG_VARIABLE = "HEX_CONFIG"


def check_steps(project: Project) -> list[Step]:
    """What a check job does first, before its checkout: keys, host keys, the Hex config."""
    steps: list[Step] = []
    hosts = project.private.git_hosts
    if hosts:
        steps += ["add_ssh_keys", _run("Fetch private git dependencies over SSH",
                                       "".join(f"{c}\n" for c in trust_commands(hosts, "~/.ssh")))]
    if project.private.hex_organizations:
        steps.append(_run("Write the Hex config for the private organisations", _HEX_CONFIG))
    return steps


_HEX_CONFIG = f"""\
if [ -z "${{{HEX_CONFIG_VARIABLE}:-}}" ]; then
  echo "{HEX_CONFIG_VARIABLE} is not set: add the text of a hex.config with the organisation \
keys to the project's or the context's variables" >&2
  exit 1
fi
umask 077
mkdir -p ~/.config/rebar3
printf '%s\\n' "${HEX_CONFIG_VARIABLE}" > ~/.config/rebar3/hex.config
"""


def image_steps(project: Project) -> list[Step]:
    return ["add_ssh_keys"] if project.private.git_hosts else []


def build_prefix(project: Project) -> str:
    """The image build forwards an SSH agent (buildx --ssh default): one is started with the
    keys add_ssh_keys wrote (~/.ssh/id_rsa_<fingerprint>)."""
    return 'eval "$(ssh-agent -s)" && ssh-add ~/.ssh/id_rsa_* && ' if project.private.git_hosts \
        else ""


def _run(name: str, command: str) -> dict[str, Any]:
    return {"run": {"name": name, "command": command}}
