from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator

from cigen.core import Output, Plan, Problem
from cigen.model import Project
from cigen.targets import environment, fit
from cigen.targets.base import banner, per_project, planned
from cigen.targets.dockerfile import ignore as dockerfile_ignore
from cigen.targets.dockerfile import insertions, private
from cigen.targets.dockerfile.system import USER_ID, Run, add_user, install, release_tools

# The latest stable 1.x frontend: Docker guarantees backward compatibility within the major
# version, and RUN --mount has been stable since 1.2, so a minor pin would only forgo fixes.
SYNTAX = "# syntax=docker/dockerfile:1\n"
SOURCE_DIR = "/app/src"
# Build output outside the source: the bind-mounted source is read-only.
REBAR_BASE_DIR = "/app/_build"
REBAR_CACHE = "type=cache,id=hex-cache,sharing=locked,target=/root/.cache/rebar3"
# A bind mount of the build context onto WORKDIR, instead of COPY . . (absolute: buildah before
# 1.29 refuses the relative `target=.`).
CONTEXT = f"target={SOURCE_DIR}"
RELEASE_DIR = "/opt/rel"
# Dockerfile ENV values are read line by line; a line break cannot be written in one.
_LINE_BREAK = re.compile(r"[\r\n]")
_PACKAGE_OPERATOR = re.compile(r"[a-z0-9][a-z0-9+._-]*([=~<>]{1,2})?")  # name, operator
_WRONG_OS = {
    "alpine": ("debian", "ubuntu", "bookworm", "bullseye", "trixie"),
    "debian": ("alpine",),
}


def plan(project: Project) -> Plan:
    return planned(problems(project), lambda: (
        Output(project.image.dockerfile, dockerfile_text(project), "dockerfile",
               origin=("image", "dockerfile")),
        Output(project.in_directory(dockerfile_ignore.PATH), dockerfile_ignore.text(project),
               "dockerfile", origin=("image", "generate")),
    ))


@per_project  # the cloudbuild target converts this text into its Kaniko variant
def dockerfile_text(project: Project) -> str:
    """The BuildKit Dockerfile: stages builder, prod_compiled, releaser and runner."""
    return SYNTAX + banner(project) + "\n".join("".join(stage) for stage in _stages(project))


def conversion_problems(project: Project, messages: Iterable[str]) -> tuple[Problem, ...]:
    """The Kaniko conversion's problems with this Dockerfile: those in the descriptor's own
    instructions at their insertion point, the rest at image.dockerfile."""
    lines = insertions.spans(SYNTAX + banner(project), _stages(project))
    return tuple(insertions.located(project, lines, message) for message in messages)


def _stages(project: Project) -> tuple[list[str], ...]:
    return (_builder(project), _prod_compiled(project), _releaser(project), _runner(project))


def problems(project: Project) -> list[Problem]:
    return [*_env_problems(project), *_package_problems(project), *_os_problems(project),
            *fit.image_problems(project)]


def _builder(project: Project) -> list[str]:
    image = project.image
    lines = [
        f"FROM {image.base} AS builder\n",
        f"WORKDIR {SOURCE_DIR}\n",
        f"ENV REBAR_BASE_DIR={REBAR_BASE_DIR}\n",
    ]
    packages = tuple(dict.fromkeys((*image.build_packages, *private.packages(project))))
    if packages:
        lines.append(_run(install(image.os, packages)))
    ssh = private.ssh_setup(project)
    if ssh:
        lines.append(_run(ssh))
    lines += insertions.at(project, "builder")
    # Dependencies get their own layer: it is rebuilt only when rebar.config or rebar.lock change.
    # COPY fails on a missing file. `rebar3 compile` writes a missing rebar.lock, even with no
    # dependencies (compile runs the lock provider: rebar_prv_compile, rebar_prv_lock and
    # rebar_config:maybe_write_lock_file/3 in rebar3's source), so only a new project, or one
    # that keeps it out of git, has none. The loader looks (Project.rebar_lock).
    lines.append("COPY rebar.config rebar.lock ./\n" if project.rebar_lock
                 else "COPY rebar.config ./\n")
    lines.append(_run(Run((REBAR_CACHE, *private.mounts(project)), "rebar3 compile")))
    return lines + insertions.at(project, "builder_end")


def _prod_compiled(project: Project) -> list[str]:
    profile = project.erlang.release_profile
    return [
        "FROM builder AS prod_compiled\n",
        _run(Run((CONTEXT, REBAR_CACHE, *private.mounts(project)),
                 f"rebar3 as {profile} compile")),
    ]


def _releaser(project: Project) -> list[str]:
    image, name = project.image, project.name
    profile = project.erlang.release_profile
    tarball = f'"$REBAR_BASE_DIR"/{profile}/rel/{name}/{name}-*.tar.gz'
    lines = ["FROM prod_compiled AS releaser\n"]
    tools = release_tools(image.os)
    if tools:
        # The builder made the apk cache link when it installed packages itself.
        link = not image.build_packages and not private.packages(project)
        lines.append(_run(install(image.os, tools, link_apk_cache=link)))
    lines.append(f"RUN mkdir -p {RELEASE_DIR}\n")
    # relx builds the one release it is given, and refuses to pick among several names
    # (cigen/descriptor/rebar_config.py): only then is the release named.
    relname = f" --relname {name}" if len(project.release_names) > 1 else ""
    release = f"rebar3 as {profile} tar{relname} && tar -zxvf {tarball} -C {RELEASE_DIR}"
    lines.append(_run(Run((CONTEXT, REBAR_CACHE, *private.mounts(project)), release)))
    return lines


def _runner(project: Project) -> list[str]:
    image, name = project.image, project.name
    lines = [f"FROM {image.runner} AS runner\n", f"WORKDIR /opt/{name}\n", _env(project)]
    if image.runtime_packages:
        lines.append(_run(install(image.os, image.runtime_packages)))
    # The release stays root-owned and read-only to the user; it writes only to /tmp
    # (RELX_OUT_FILE_PATH), so a read-only root filesystem works too.
    lines += [
        _run(add_user(image.os)),
        *insertions.at(project, "runner"),  # as root, with the user made: it may own a folder
        f"COPY --from=releaser {RELEASE_DIR} .\n",
        f"USER {USER_ID}:{USER_ID}\n",
    ]
    if image.ports:
        lines.append(f"EXPOSE {' '.join(map(str, image.ports))}\n")
    lines.append(f"ENTRYPOINT {json.dumps([f'/opt/{name}/bin/{name}'])}\n")
    lines.append(f"CMD {json.dumps(['foreground'])}\n")
    return lines + insertions.at(project, "runner_end")


def _run(run: Run) -> str:
    """RUN with each --mount on its own continuation line, then the command."""
    parts = [f"--mount={mount}" for mount in run.mounts] + [run.command]
    return "RUN " + " \\\n    ".join(parts) + "\n"


def _env(project: Project) -> str:
    env = project.image.env
    # COOKIE and RELX_OUT_FILE_PATH first, as in the chapter, then the user's in their order.
    first = ("COOKIE", "RELX_OUT_FILE_PATH")
    names = [*first, *(key for key in env if key not in first)]
    return "ENV " + " \\\n    ".join(f"{key}={env_value(env[key])}" for key in names) + "\n"


def env_value(value: str) -> str:
    """A double-quoted Dockerfile ENV value: \\, " and $ escaped, so it is taken literally."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def _env_problems(project: Project) -> Iterator[Problem]:
    for key, value in project.image.env.items():
        if _LINE_BREAK.search(value):
            message = "contains a line break; a Dockerfile ENV value cannot"
            yield Problem(("image", "env", key), message)
        elif "\x00" in value:  # BuildKit's parser ends the line there, quote still open
            yield Problem(("image", "env", key), "contains a NUL character; a Dockerfile ENV "
                          "value cannot")


def _package_problems(project: Project) -> Iterator[Problem]:
    if project.image.os != "debian":
        return  # apk takes =, <, >, <=, >= and ~ constraints
    for key in ("build_packages", "runtime_packages"):
        for i, package in enumerate(getattr(project.image, key)):
            match = _PACKAGE_OPERATOR.match(package)
            if match and match.group(1) not in (None, "="):
                message = f'"{package}": apt-get pins a version only as name=version'
                yield Problem(("image", key, i), message)


def _os_problems(project: Project) -> Iterator[Problem]:
    image = project.image
    for key in ("base", "runner"):
        ref = getattr(image, key)
        if ref is None:
            continue  # no runner: fit.image_problems asks for one
        unpinned = environment.unpinned(ref)
        if unpinned:  # a floating image rebuilds into another OS release without notice
            yield Problem(("image", key), unpinned)
        last = ref.rsplit("/", 1)[-1].lower()
        wrong = next((w for w in _WRONG_OS[image.os] if w in last), None)
        if wrong:
            message = f'names "{wrong}", but image.os is {image.os}; set image.os to match'
            yield Problem(("image", key), message)
