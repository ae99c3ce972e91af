"""Checks on an OTP release that setup-beam cannot install on the job's runner.

setup-beam installs OTP from builds.hex.pm, which has builds for ubuntu-22.04 from 24.2 and for
ubuntu-24.04 from 24.3 (setup-beam README, docs/compatibility.md); older releases were built only
for the retired ubuntu-20.04. Such a job keeps its runner and runs rebar3 in the official
`erlang:<otp>` image instead, as CircleCI does. Not a `container:` job: JavaScript actions
(checkout, cache) run inside a job container with the runner's Node.js, which needs a newer
glibc than the Debian stretch and buster images of OTP 20-23 have. Here checkout, cache and
services stay on the runner and only rebar3 runs in the image.
"""

from __future__ import annotations

from typing import Any

from cigen import compat
from cigen.model import Project
from cigen.targets.github import private as github_private

Step = dict[str, Any]

BIN = "$HOME/.local/cigen/bin"
IMAGE_VAR = "ERLANG_IMAGE"  # the image's variable: the step's, or a matrix job's (matrix_steps)
# The rebar3 escript setup-beam would install: the asset of rebar3's GitHub release.
_DOWNLOAD = "https://github.com/erlang/rebar3/releases/download/$REBAR3_VERSION/rebar3"


def needed(project: Project) -> bool:
    """Whether setup-beam cannot install the OTP release on the job's runner."""
    return compat.setup_beam_installs(project.github.runs_on, project.erlang.otp) is False


def image(project: Project) -> str:
    return f"erlang:{project.erlang.otp}"


def steps(project: Project, env_names: list[str]) -> list[Step]:
    """Put a `rebar3` on PATH that runs the pinned rebar3 in the erlang image."""
    return [{
        "name": f"Run rebar3 {project.erlang.rebar3} in {image(project)}",
        "env": {"ERLANG_IMAGE": image(project), "REBAR3_VERSION": project.erlang.rebar3},
        "run": _install(image(project), env_names, github_private.docker_flags(project)),
    }]


def matrix_steps(project: Project, env_names: list[str], otp: str, rebar3: str) -> list[Step]:
    """The same in a strategy.matrix job (github/matrix.py), where `otp` and `rebar3` are
    expressions: the wrapper runs the image the job's ERLANG_IMAGE names when it runs, as
    matrix values stay out of `run:` text."""
    return [{
        "name": f"Run rebar3 {rebar3} in erlang:{otp}",
        "env": {"REBAR3_VERSION": rebar3},
        "run": _install(f'"${IMAGE_VAR}"', env_names, github_private.docker_flags(project)),
    }]


def _install(image_ref: str, env_names: list[str], private: str) -> str:
    # The wrapper is written verbatim (quoted heredoc) and expands its variables when it runs.
    passed = "".join(f" -e {name}" for name in env_names)  # names are [A-Za-z_][A-Za-z0-9_]*
    wrapper = (
        "#!/bin/sh\n"
        'exec docker run --rm --network host --user "$(id -u):$(id -g)" -e HOME=/tmp'
        f'{passed} -v "$PWD:$PWD" -w "$PWD" -v "$HOME/.cache/rebar3:/tmp/.cache/rebar3"'
        f' -v "{BIN}/rebar3.escript:/usr/local/bin/rebar3:ro"{private} {image_ref} rebar3 "$@"\n'
    )
    return (
        f'mkdir -p "{BIN}" "$HOME/.cache/rebar3"\n'
        f'curl -fsSL --retry 3 -o "{BIN}/rebar3.escript" "{_DOWNLOAD}"\n'
        f"cat > \"{BIN}/rebar3\" <<'EOF'\n{wrapper}EOF\n"
        f'chmod +x "{BIN}/rebar3" "{BIN}/rebar3.escript"\n'
        'docker pull --quiet "$ERLANG_IMAGE"\n'
        f'echo "{BIN}" >> "$GITHUB_PATH"\n'
    )
