from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

from cigen.model import Project
from cigen.targets.cloudbuild import substitutions as subst

# Stricter than the vendored SchemaStore schema: what Cloud Build itself refuses at submit time
# (substitutions, waitFor, secrets, logging) and what cigen promises (pinned images).
Found = Iterator[tuple[str, str]]  # (where, what)
_TIMEOUT = re.compile(r"^([0-9]+)(?:\.[0-9]{0,9})?s$")
_MACHINES = ("E2_MEDIUM", "E2_STANDARD_2", "E2_HIGHCPU_8", "E2_HIGHCPU_32",
             "N1_HIGHCPU_8", "N1_HIGHCPU_32", "UNSPECIFIED")
_OWN_LOGS = ("CLOUD_LOGGING_ONLY", "NONE")
_DOCKERFILE_FLAGS = ("dockerfile", "file")  # Kaniko's and buildx's
_PUSH_FLAGS = ("destination", "tag")


def lint_text(text: str, available: Collection[str] | None = None,
               path: str = "cloudbuild.yaml") -> list[str]:
    """Problems in a rendered Cloud Build config, as `path: where: what` lines.

    `available`: the files a build of this render has; each Dockerfile a step names must be one.
    """
    from ruamel.yaml.error import YAMLError

    from cigen import yamlio

    try:
        data = yamlio.load_plain(text)
    except YAMLError as e:
        return [f"{path}: not valid YAML: {e}"]
    found = list(_shape(data))
    if not found:
        checks: tuple[Callable[[dict[str, Any]], Found], ...] = (
            _pinned, _ids, _substitutions, _timeouts, _flags, _secrets, _volumes, _options)
        found = [item for check in checks for item in check(data)]
        if available is not None:
            found += _dockerfiles(data, available)
    return [f"{path}: {where}: {what}" for where, what in found]


def lint(project: Project, files: Mapping[str, str]) -> list[str]:
    """lint_text on the configs in `files` (a render), if the cloudbuild target is in it."""
    available = set(files)
    if not project.image.generate:
        available.add(project.image.dockerfile)  # the user's own, read by the loader
    paths = (project.cloudbuild.file, project.cloudbuild.release_file)
    return [line for path in paths if path in files
            for line in lint_text(files[path], available, path)]


def _shape(data: Any) -> Found:
    if not isinstance(data, dict):
        yield "(top level)", "is not a mapping"
        return
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        yield "steps", "a build needs a list of steps"
        return
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or not isinstance(step.get("name"), str):
            yield f"steps[{i}]", "a step needs a name: the image it runs"
        elif not all(isinstance(a, str) for a in step.get("args", [])):
            yield f"steps[{i}].args", "every argument must be a string"


def _pinned(data: dict[str, Any]) -> Found:
    for i, step in enumerate(data["steps"]):
        if subst.keys(step["name"]):
            continue  # resolved at build time
        problem = subst.reference_problem(step["name"], pushed=False)
        if problem:
            yield f"steps[{i}].name", problem


def _ids(data: dict[str, Any]) -> Found:
    known = {"-"}
    for i, step in enumerate(data["steps"]):
        for dep in step.get("waitFor", []):
            if dep not in known:
                yield f"steps[{i}].waitFor", f'"{dep}" is no earlier step id'
        step_id = step.get("id")
        if step_id in known:
            yield f"steps[{i}].id", f'"{step_id}" is taken'
        if step_id is not None:
            known.add(step_id)


def _templates(data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, text) of every field Cloud Build substitutes."""
    for i, step in enumerate(data["steps"]):
        for key in ("name", "dir", "entrypoint"):
            if isinstance(step.get(key), str):
                yield f"steps[{i}].{key}", step[key]
        for key in ("args", "env"):
            for j, value in enumerate(step.get(key, [])):
                yield f"steps[{i}].{key}[{j}]", value
    for key in ("images", "tags"):
        for j, value in enumerate(data.get(key, [])):
            yield f"{key}[{j}]", value


def _substitutions(data: dict[str, Any]) -> Found:
    defined: dict[str, str] = data.get("substitutions") or {}
    loose = (data.get("options") or {}).get("substitutionOption") == "ALLOW_LOOSE"
    used: set[str] = set()
    for where, text in _templates(data):
        for key in subst.keys(text):
            used.add(key)
            if subst.unknown(key):
                yield where, f"${key} is neither a built-in nor a user substitution"
            elif subst.USER_KEY.match(key) and key not in defined and not loose:
                yield where, f"${key} is not defined in substitutions"
    for key, value in defined.items():
        if not subst.USER_KEY.match(key):
            yield f"substitutions.{key}", "a user substitution starts with _ and is upper case"
        elif key not in used and not loose:
            yield f"substitutions.{key}", "is never used; Cloud Build fails the build"
        if subst.value_keys(value) and not (data.get("options") or {}).get("dynamicSubstitutions"):
            yield f"substitutions.{key}", "names a substitution, which expands only with " \
                "options.dynamicSubstitutions: true"


def _timeouts(data: dict[str, Any]) -> Found:
    fields = [("timeout", data.get("timeout"))]
    fields += [(f"steps[{i}].timeout", s.get("timeout")) for i, s in enumerate(data["steps"])]
    for where, value in fields:
        if value is None:
            continue
        match = _TIMEOUT.match(str(value))
        if not match or not 0 < int(match.group(1)) <= subst.MAX_SECONDS:
            yield where, f'"{value}" is not a duration in seconds such as 600s, up to 86400s'


def _flags(data: dict[str, Any]) -> Found:
    for i, step in enumerate(data["steps"]):
        args = step.get("args", [])
        for j, value in subst.flags(args, "cache-ttl"):
            if not subst.is_go_duration(value):
                yield f"steps[{i}].args[{j}]", f'"{value}" is not a duration such as 8h'
        for flag in _PUSH_FLAGS:
            for j, value in subst.flags(args, flag):
                problem = subst.reference_problem(value, pushed=True)
                if problem:
                    yield f"steps[{i}].args[{j}]", problem


def _dockerfiles(data: dict[str, Any], available: Collection[str]) -> Found:
    for i, step in enumerate(data["steps"]):
        for flag in _DOCKERFILE_FLAGS:
            for j, value in subst.flags(step.get("args", []), flag):
                name = value.removeprefix("./")
                if name not in available:
                    yield f"steps[{i}].args[{j}]", f"{name} is not in this render"


def _secrets(data: dict[str, Any]) -> Found:
    manager = ((data.get("availableSecrets") or {}).get("secretManager")) or []
    defined = {entry.get("env") for entry in manager if isinstance(entry, dict)}
    used: set[str] = set()
    for i, step in enumerate(data["steps"]):
        for name in step.get("secretEnv", []):
            used.add(name)
            if name not in defined:
                yield f"steps[{i}].secretEnv", f"{name} is not in availableSecrets"
            if any(str(e).startswith(f"{name}=") for e in step.get("env", [])):
                yield f"steps[{i}].env", f"{name} is a secret and a plain variable"
    for name in sorted(n for n in defined if n not in used and n is not None):
        yield "availableSecrets", f"{name} is never used; Cloud Build fails the build"


def _volumes(data: dict[str, Any]) -> Found:
    # A named volume must be used by at least two steps, at an absolute path (cloudbuild.proto,
    # BuildStep.volumes, Volume); cigen's promise: never in /workspace, the build context.
    users: dict[str, int] = {}
    for i, step in enumerate(data["steps"]):
        for volume in step.get("volumes", []):
            users[volume.get("name")] = users.get(volume.get("name"), 0) + 1
            path = str(volume.get("path"))
            if not path.startswith("/") or path.rstrip("/") == "/workspace" or \
                    path.startswith("/workspace/"):
                yield f"steps[{i}].volumes", f"{path} is not an absolute path outside /workspace"
    for name in sorted(str(n) for n, count in users.items() if count < 2):
        yield "steps", f"volume {name} is used by one step; Cloud Build wants two or more"


def _options(data: dict[str, Any]) -> Found:
    options = data.get("options") or {}
    machine = options.get("machineType")
    if machine is not None and machine not in _MACHINES:
        yield "options.machineType", f"{machine} is not one of: {', '.join(_MACHINES)}"
    own_logs = (options.get("logging") in _OWN_LOGS or "logsBucket" in data
                or options.get("defaultLogsBucketBehavior") == "REGIONAL_USER_OWNED_BUCKET")
    if data.get("serviceAccount") and not own_logs:
        yield "options.logging", "a build with serviceAccount needs logging CLOUD_LOGGING_ONLY " \
            "or NONE, or a logsBucket"
