from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from cigen.model import Project, Release
from cigen.targets import environment
from cigen.targets.cloudbuild import auth, private, release, timeouts
from cigen.targets.cloudbuild import services as svc
from cigen.targets.cloudbuild import substitutions as subst
from cigen.targets.releases import for_release

Step = dict[str, Any]
BaseArgs = Sequence[tuple[str, str]]

IMAGE_STEP = "image"
COMPILE_STEP = "compile"
BUILDER_STEP = "buildx-builder"
# Steps come in this order whatever erlang.checks says: a step may wait only for earlier ones.
_ORDER = ("xref", "dialyzer", "eunit", "ct", "cover")
_TEST_PROFILE = ("eunit", "ct")  # both build into _build/test, so they must not run at once
_COVERED = ("eunit", "ct")  # `rebar3 cover` reads the coverdata these write with --cover


def arg_key(arg: str) -> str:
    """The substitution that feeds a base-image ARG: BASE_IMAGE -> _BASE_IMAGE."""
    return "_" + re.sub(r"[^A-Z0-9_]", "_", arg.upper())


def destinations(project: Project) -> tuple[str, ...]:
    """Every reference pushed: the destination, then one per extra tag; made tag-safe."""
    cb = project.cloudbuild
    repo = subst.split_ref(cb.destination)[0]
    refs = (cb.destination, *(f"{repo}:{tag}" for tag in cb.tags))
    return tuple(dict.fromkeys(subst.tag_safe(ref) for ref in refs))


def substitutions(project: Project, base_args: BaseArgs) -> dict[str, str]:
    """Defaults for the base-image ARGs, the user's (replacing or adding), the tag-safe refs."""
    merged = {arg_key(name): ref for name, ref in base_args}
    merged.update(project.cloudbuild.substitutions)
    cb = project.cloudbuild
    for name in subst.ref_keys((cb.destination, *cb.tags)):
        merged[subst.safe_key(name)] = subst.safe_value(name)
    return merged


def steps(project: Project, base_args: BaseArgs) -> list[Step]:
    """The steps of the config that branch builds run."""
    return _steps(project, base_args, releasing=False)


def release_steps(project: Project, base_args: BaseArgs) -> list[Step]:
    """The steps of the release config: no layer cache, and <image>:<version> pushed too."""
    return _steps(project, base_args, releasing=True)


def _steps(project: Project, base_args: BaseArgs, *, releasing: bool) -> list[Step]:
    cb = project.cloudbuild
    if project.library:  # no image: the checks are the whole build
        return check_steps(project)
    kaniko = cb.builder == "kaniko"
    if kaniko:
        image = kaniko_step(project, base_args, releasing)
    else:
        image = buildx_step(project, releasing)
    setup = _setup(project, releasing)
    after = [release.retag_step(project, destinations(project)[0], repository(project))
             ] if releasing and kaniko else []
    if not cb.run_checks:
        return [*(step for _, step in setup), image, *after]
    # Beside the checks: the setup steps one after the other, then the image step.
    ids = [step_id for step_id, _ in setup]
    chained = [{"id": step_id, **step, "waitFor": [previous]}
               for (step_id, step), previous in zip(setup, ["-", *ids], strict=False)]
    image = {"id": IMAGE_STEP, **image, "waitFor": _image_waits(project, ids[-1:])}
    after = [{"id": release.TAG_STEP, **step, "waitFor": [IMAGE_STEP]} for step in after]
    return [*check_steps(project), *chained, image, *after]


def repository(project: Project) -> str:
    """The repository of the destination: where <image>:<version> goes."""
    return subst.split_ref(subst.tag_safe(project.cloudbuild.destination))[0]


def _setup(project: Project, releasing: bool) -> list[tuple[str, Step]]:
    """(id, step) of the steps before the image step: release check, login, buildx builder."""
    checks = [(release.CHECK_STEP, release.check_step(project))] if releasing else []
    logins = [(auth.STEP_ID, step) for step in auth.login_steps(project)]
    builders = [(BUILDER_STEP, step) for step in _buildx_setup(project)]
    return [*checks, *logins, *builders]


def kaniko_step(project: Project, base_args: BaseArgs, releasing: bool = False) -> Step:
    cb = project.cloudbuild
    args = [*_target(project), f"--dockerfile=./{project.image.kaniko_dockerfile}"]
    if project.directory != ".":  # Kaniko's context is /workspace/ whatever the step's dir is
        # (GoogleContainerTools/kaniko cmd/executor/cmd/root.go: --context, default
        # /workspace/; --dockerfile is found from the working directory first)
        args.append(f"--context=dir:///workspace/{project.directory}")
    args += [f"--build-arg={name}=${arg_key(name)}" for name, _ in base_args]
    args += [f"--destination={ref}" for ref in destinations(project)]
    if cb.cache and not releasing:  # a release reads no cache a branch build wrote
        args += ["--cache=true", f"--cache-ttl={cb.cache_ttl}"]
        if cb.cache_repo:
            args.append(f"--cache-repo={cb.cache_repo}")
    return auth.with_config(project, {"name": cb.kaniko_image, "args": args})


def _target(project: Project) -> list[str]:
    # None for a user's last stage without a name: both build the last stage when given no
    # target (GoogleContainerTools/kaniko pkg/dockerfile/dockerfile.go, targetStage;
    # https://docs.docker.com/build/building/multi-stage/, "Stop at a specific build stage").
    return [f"--target={project.image.target}"] if project.image.target else []


def _buildx_setup(project: Project) -> list[Step]:
    if project.cloudbuild.builder != "buildx":
        return []
    # The default docker driver cannot export a registry cache; a docker-container builder can.
    args = ["buildx", "create", "--driver=docker-container", "--name=cigen", "--use"]
    return [auth.with_config(project, {"name": project.cloudbuild.docker_image, "args": args})]


def buildx_step(project: Project, releasing: bool = False) -> Step:
    cb = project.cloudbuild
    args = ["buildx", "build", f"--file=./{project.image.dockerfile}",
            *_target(project)]
    args += [f"--tag={ref}" for ref in destinations(project)]
    if cb.cache and not releasing:  # a release reads no cache a branch build wrote
        ref = f"{cb.cache_repo or subst.split_ref(cb.destination)[0]}:buildcache"
        args += [f"--cache-from=type=registry,ref={ref}",
                 f"--cache-to=type=registry,ref={ref},mode=max"]
    if project.publish.attest:
        # BuildKit's SBOM and provenance attestations, pushed with the image (docker/buildx
        # docs/reference/buildx_build.md, --sbom and --provenance; both since buildx 0.10.0,
        # docker/buildx#1524, older than the plugin of the default docker_image: docs/targets.md).
        args += ["--sbom=true", "--provenance=mode=max"]
    args += private.buildx_flags(project)
    lines, flags = private.buildx_key(project)
    env: list[str] = []
    if releasing:
        version_lines, version_flags, env = release.buildx_version(repository(project))
        lines, flags = [*version_lines, *lines], [*version_flags, *flags]
    context = project.directory  # the rebar3 project's folder, from /workspace
    step: Step = {"name": cb.docker_image, "args": [*args, "--push", context]}
    if lines:  # a computed tag or a key file: the build runs in bash
        words = ["docker buildx build", *map(shlex.quote, args[2:]), *flags,
                 f"--push {shlex.quote(context)}"]
        script = "\n".join(["set -eu", *lines, " \\\n  ".join(words)])
        step = {"name": cb.docker_image, "entrypoint": "bash", "args": ["-c", script]}
    if env:
        step["env"] = env
    if private.secret_env(project):
        step["secretEnv"] = private.secret_env(project)
    return auth.with_config(project, step)


def _ordered(checks: Sequence[str]) -> list[str]:
    return sorted(checks, key=_ORDER.index)


def _image_waits(project: Project, setup: list[str]) -> list[str]:
    after = [check for check in _ordered(project.erlang.checks) if check in project.publish.after]
    waits = [*after, *(c + _suffix(r) for r in project.erlang.matrix for c in after)]
    return [*waits, *setup] or ["-"]


def check_steps(project: Project) -> list[Step]:
    """compile and the services, then each check after its setup steps, wired with waitFor;
    then the same for each erlang.matrix release (`_matrix_steps`); the services stop after
    the last check that uses them."""
    out = [_rebar3(project, COMPILE_STEP, ["compile"], None), *svc.start_steps(project)]
    steps, previous_test = _release_checks(project, COMPILE_STEP)
    out += steps
    for matrix_release in project.erlang.matrix:
        steps, previous_test = _matrix_steps(project, matrix_release, previous_test)
        out += steps
    if environment.used(project):
        out.append(svc.stop_step(project, previous_test))
    return out


def _release_checks(project: Project, previous_test: str) -> tuple[list[Step], str]:
    """Each check after its setup steps, and the last test step (eunit, ct): each test step
    waits for the one before it, the first for `previous_test`."""
    checks = _ordered(project.erlang.checks)
    out: list[Step] = []
    for check in checks:
        after = _check_waits(check, checks, previous_test)
        if environment.for_check(project, check):
            after = [*after, *svc.ready_ids(project)]
        setup = _setup_steps(project, check, after)
        if setup:
            after = [setup[-1]["id"]]
        run = _rebar3(project, check, _check_args(check, checks), after)
        out += [*setup, {**run, **timeouts.step_timeout(project, check)}]
        if check in _TEST_PROFILE:
            previous_test = check
    return out, previous_test


# erlang.matrix: a further release's compile and checks run in erlang:<release> beside the other
# releases' steps, in the same /workspace, so each has a _build and a rebar3 cache of its own:
# REBAR_BASE_DIR and REBAR_CACHE_DIR (erlang/rebar3 apps/rebar/src/rebar3.erl, init_config and
# run_aux; rebar_dir.erl, global_cache_dir), inside _build, which .dockerignore keeps out of the
# image. The services are shared: with them, a release's tests wait for the previous release's.
_FIRST_TEST = "\0first-test"  # what a release's first test step waits for, until known


def _suffix(matrix_release: Release) -> str:
    return f"-otp-{matrix_release.otp}"


def _matrix_steps(project: Project, matrix_release: Release, previous_test: str
                  ) -> tuple[list[Step], str]:
    """The steps of a matrix release, ids suffixed with it, and its last test step."""
    suffix = _suffix(matrix_release)  # in the project's folder (`directory`): where _build is
    base = posixpath.normpath(f"/workspace/{project.directory}/_build/otp-{matrix_release.otp}")
    sub = for_release(project, matrix_release)
    env = {**sub.erlang.env, "REBAR_BASE_DIR": base, "REBAR_CACHE_DIR": f"{base}/.cache"}
    sub = replace(sub, erlang=replace(sub.erlang, env=MappingProxyType(env)))
    steps, last = _release_checks(sub, _FIRST_TEST)
    steps = [_rebar3(sub, COMPILE_STEP, ["compile"], ["-"]), *steps]
    ids = {step["id"] for step in steps}
    first = [COMPILE_STEP + suffix, *([previous_test] if environment.used(project) else [])]

    def ref(step_id: str) -> list[str]:
        return first if step_id == _FIRST_TEST else [step_id + suffix if step_id in ids
                                                       else step_id]

    out = [{**step, "id": step["id"] + suffix,
            **({"waitFor": [r for w in step["waitFor"] for r in ref(w)]}
               if "waitFor" in step else {})} for step in steps]
    return out, previous_test if last == _FIRST_TEST else last + suffix


def _check_waits(check: str, checks: Sequence[str], previous_test: str) -> list[str]:
    if check in _TEST_PROFILE:
        return [previous_test]
    if check == "cover":
        return [c for c in checks if c in _COVERED] or [COMPILE_STEP]
    return [COMPILE_STEP]


def _check_args(check: str, checks: Sequence[str]) -> list[str]:
    if check in _COVERED and "cover" in checks:
        return [check, "--cover"]
    return [check]


def _setup_steps(project: Project, check: str, after: list[str]) -> list[Step]:
    out: list[Step] = []
    for i, setup in enumerate(project.erlang.setup.get(check, ()), 1):
        step = _in_builder(project, f"{check}-setup-{i}", "sh", ["-c", subst.escape(setup.run)],
                           check)
        out.append({**step, "waitFor": after})
        after = [step["id"]]
    return out


def _rebar3(project: Project, step_id: str, args: list[str], after: list[str] | None) -> Step:
    step = _in_builder(project, step_id, "rebar3", args, step_id)
    return {**step, "waitFor": after} if after else step


def checks_image(project: Project) -> str:
    """The official Debian erlang image, as CircleCI's check jobs use: it has git and curl for
    git dependencies and {vsn, git}, which the slim and Alpine images remove (their Dockerfiles
    purge the fetch dependencies; docs/compatibility.md)."""
    return f"erlang:{project.erlang.otp}"


def _in_builder(project: Project, step_id: str, entrypoint: str, args: list[str],
                check: str) -> Step:
    if project.private:  # the keys first, in the step's own HOME; then the command
        script = subst.escape(private.checks_script(project))
        entrypoint, args = "bash", ["-c", script, "cigen", entrypoint, *args]
    step: Step = {"id": step_id, "name": checks_image(project), "entrypoint": entrypoint,
                  "args": args}
    if project.directory != ".":  # relative to /workspace (googleapis cloudbuild.proto,
        step["dir"] = project.directory  # BuildStep.dir: the step's working directory)
    values = {**environment.literal(project.erlang.env), **svc.host_env(project, check)}
    env = [f"{key}={subst.escape(value)}" for key, value in values.items()]
    if env:
        step["env"] = env
    secret_env = [*project.cloudbuild.secrets, *private.secret_env(project)]
    if secret_env:
        step["secretEnv"] = secret_env
    return step
