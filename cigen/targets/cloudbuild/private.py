"""Private dependencies on Cloud Build (`private` in the descriptor).

Two Secret Manager secrets (cloudbuild.hex_config_secret, cloudbuild.ssh_key_secret) reach only
the steps that fetch dependencies, as secretEnv: the run_checks steps and the image build. What
the build shares, and why each key stays where it is put:

- Each step is its own container, discarded after the step; what later steps see is /workspace
  (the source, and the image's build context) and the build volumes
  (https://cloud.google.com/build/docs/configuring-builds/pass-data-between-steps). Cloud Build
  also sets HOME to /builder/home and keeps that folder between steps
  (GoogleCloudPlatform/cloud-builders issue 86, a Cloud Build engineer's answer; google/oss-fuzz
  pull request 6069). So a run_checks step writes nothing there: it moves HOME to a folder of its
  own container, where rebar3 reads the Hex config (its global config folder is
  $HOME/.config/rebar3: erlang/rebar3 apps/rebar/src/rebar_dir.erl, global_config_dir, and
  rebar_hex_repos.erl, auth_config_file) and git its global config. Steps that run at once
  would otherwise race on one ~/.gitconfig, and the keys would outlive the step.
- The SSH key goes from the environment into an ssh-agent of the step, never onto a disk; ssh
  finds ~/.ssh through the passwd entry, not $HOME (openssh-portable misc.c, tilde_expand), so
  git is told where the scanned host keys are (GIT_SSH_COMMAND). The agent dies with the step's
  container. The erlang images have git and openssh-client (buildpack-deps scm).
- The image build (builder: buildx) passes the Hex config with `--secret id=hex_config,env=` and
  the key with `--ssh default=<key file>`: buildx reads a key file into an in-memory agent
  (docker/buildx v0.36.1 docs/reference/buildx_build.md, "--secret" type=env and "--ssh";
  vendor/github.com/moby/buildkit/session/sshforward/sshprovider/agentprovider.go). The file is
  made by mktemp in the step container's /tmp, outside /workspace, and removed when the step
  ends. A secret or ssh mount is never part of a layer, so neither reaches the image or the
  registry cache.
- Kaniko: neither executor forwards an SSH key, and the maintained fork documents its secret
  mounts as "not stored securely during the build and may be recoverable by other RUN steps"
  (osscontainertools/kaniko README.md, "Flag --secret"; CHANGELOG.md, v1.27.0): it writes the
  secret into the filesystem it snapshots while the RUN runs (pkg/commands/run.go). cigen
  refuses Kaniko with private dependencies.
"""

from __future__ import annotations

from cigen.model import Project
from cigen.targets.dockerfile.private import HEX_SECRET

HEX_CONFIG = "HEX_CONFIG"
SSH_KEY = "SSH_PRIVATE_KEY"
# The run_checks steps' own HOME: in the step's container, neither /workspace nor /builder/home.
HOME = "/tmp/cigen-home"  # noqa: S108 (a path inside the step's container)
KANIKO = ("Kaniko cannot take private dependencies safely: neither executor forwards an SSH key, "
          "and the maintained fork documents its secret mounts as not stored securely; use "
          "cloudbuild.builder: buildx (the default with private dependencies), see "
          "docs/private-dependencies.md")


def secrets(project: Project) -> dict[str, str]:
    """The availableSecrets of the private dependencies, by variable name."""
    cb = project.cloudbuild
    found = {}
    if project.private.hex_organizations and cb.hex_config_secret:
        found[HEX_CONFIG] = cb.hex_config_secret
    if project.private.git_hosts and cb.ssh_key_secret:
        found[SSH_KEY] = cb.ssh_key_secret
    return found


def secret_env(project: Project) -> list[str]:
    return list(secrets(project))


def checks_script(project: Project) -> str:
    """bash, before a run_checks step's own command (`exec "$@"`): the step's HOME, the Hex
    config, the host keys, the https-to-SSH rewrite and the agent. Shell text, not yet escaped
    for Cloud Build."""
    private = project.private
    lines = ["set -eu", f"export HOME={HOME}", 'install -d -m 0700 "$HOME"']
    if private.hex_organizations:
        lines += ['mkdir -p "$HOME/.config/rebar3"',
                  f'(umask 077 && printf \'%s\\n\' "${HEX_CONFIG}" > '
                  '"$HOME/.config/rebar3/hex.config")',
                  f"unset {HEX_CONFIG}"]
    hosts = private.git_hosts
    if hosts:
        # Trust on first use, as the Dockerfile's builder does. The schema allows only letters,
        # digits, - and . in a host: nothing needs quoting.
        lines += ['install -d -m 0700 "$HOME/.ssh"',
                  f'ssh-keyscan {" ".join(hosts)} >> "$HOME/.ssh/known_hosts"',
                  *(f"git config --global url.git@{h}:.insteadOf https://{h}/" for h in hosts),
                  'export SSH_AUTH_SOCK="$HOME/.ssh/agent.sock"',
                  f'env -u {SSH_KEY} ssh-agent -a "$SSH_AUTH_SOCK" > /dev/null',
                  f'printf \'%s\\n\' "${SSH_KEY}" | ssh-add -',
                  f"unset {SSH_KEY}",
                  'export GIT_SSH_COMMAND="ssh -o UserKnownHostsFile=$HOME/.ssh/known_hosts"']
    return "\n".join([*lines, 'exec "$@"']) + "\n"


def buildx_flags(project: Project) -> list[str]:
    """buildx flags that need no shell: the Hex config, read from the step's environment."""
    if not project.private.hex_organizations:
        return []
    return [f"--secret=id={HEX_SECRET},env={HEX_CONFIG}"]


def buildx_key(project: Project) -> tuple[list[str], list[str]]:
    """(lines before `docker buildx build`, its raw --ssh flag) for the SSH key; Cloud Build
    text, `$$` for the shell's `$`."""
    if not project.private.git_hosts:
        return [], []
    lines = ['key="$$(mktemp)"', "trap 'rm -f \"$$key\"' EXIT",
             f"printf '%s\\n' \"$${SSH_KEY}\" > \"$$key\"", f"unset {SSH_KEY}"]
    return lines, ['--ssh=default="$$key"']
