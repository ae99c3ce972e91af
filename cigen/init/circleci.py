"""What .circleci/config.yml says: OTP (a job's primary image), services (the secondary
images of a docker executor), the checks run (rebar3 orb jobs, rebar3 commands), set-up steps
before an orb check, where images are pushed, branch filters.

Keys read (circleci.com/docs/configuration-reference): orbs, executors.<name>.docker, jobs.
<name>.{docker, environment, steps}, commands.<name>.steps, workflows.<name>.jobs[*].<job>.
{pre-steps, filters.branches.only}. In a docker executor the first image is the primary
container where steps run; the others are service containers reachable on localhost, each
with optional `name` and `environment` (a map; lists of one-key maps are read too).
CIRCLE_PROJECT_USERNAME and CIRCLE_PROJECT_REPONAME are CircleCI's built-in variables for the
repository's owner and name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cigen.init import images, shell
from cigen.init.facts import Said, Seen
from cigen.init.services import Declared
from cigen.init.yamlfiles import items, line, load, mapping, seen, text

FILE = ".circleci/config.yml"
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
_CACHE_PATH = re.compile(r"^(?:~/)?(?!/)(?!.*(?:^|/)\.\.(?:/|$))[A-Za-z0-9._@+/-]+$")
_CACHE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # both as the schema's setupStep


def read(root: Path, warnings: list[str], repository: tuple[str, str] | None,
         name: str) -> Said:
    said = Said()
    data = load(root, FILE, warnings)
    if not isinstance(data, dict):
        return said
    known = {"CIRCLE_PROJECT_USERNAME": repository[0], "CIRCLE_PROJECT_REPONAME":
             repository[1]} if repository else {}
    for group in ("executors", "jobs"):
        for key, spec in mapping(data.get(group)).items():
            if isinstance(spec, dict):
                _docker(spec, said, f"{group}.{key}")
    for spec in [*mapping(data.get("jobs")).values(), *mapping(data.get("commands")).values()]:
        env = {**known, **_environment(mapping(spec).get("environment"))}
        for step in items(mapping(spec).get("steps")):
            _run(step, said, env, name)
    rebar3 = [alias for alias, ref in mapping(data.get("orbs")).items()
              if str(ref).startswith("tsloughter/rebar3@")]
    for workflow in mapping(data.get("workflows")).values():
        for entry in items(mapping(workflow).get("jobs")):
            _workflow_job(entry, said, rebar3, {**known})
    return said


def _docker(spec: dict[Any, Any], said: Said, where: str) -> None:
    containers = items(spec.get("docker"))
    for i, container in enumerate(containers):
        image = mapping(container).get("image")
        if not isinstance(image, str):
            continue
        at = f"{FILE}:{line(containers, i)}"
        if i == 0 and images.otp(image):
            said.otp.append(Seen(images.otp(image), at, f"{where} image {image}"))
            said.env += [Seen((k, v), at, f"{where} environment {k}")
                         for k, v in _environment(container.get("environment")).items()]
        elif i > 0:
            for key in ("entrypoint", "command"):
                if key in container:
                    said.notes.append(f"{at}: service {image}: its {key} is not carried over "
                                      "(erlang.services runs an image as it is); check the "
                                      "service starts as the tests need")
            said.services.append(Declared(
                str(container.get("name") or ""), image, at,
                tuple(_environment(container.get("environment")).items()), (), None,
                f"{where} secondary image {image}"))


def _environment(node: Any) -> dict[str, Any]:
    if isinstance(node, list):  # - KEY: value
        return {k: v for entry in node for k, v in mapping(entry).items()}
    return dict(mapping(node))


def _expand(script: str, env: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        found = text(env.get(match.group(1)))
        return found if found is not None else match.group()
    return _VARIABLE.sub(value, script)


def _run(step: Any, said: Said, env: dict[str, Any], name: str) -> Seen | None:
    """The checks, pushes and compose files of a run step; the step as a Seen."""
    run = mapping(step).get("run") if isinstance(step, dict) else None
    command = mapping(run).get("command") if isinstance(run, dict) else run
    if not isinstance(command, str):
        return None
    script = _expand(command, {**env, **_environment(mapping(run).get("environment"))})
    at = seen(FILE, step, "run", command).where
    shell.scan(script, at, said)
    said.pushes += [Seen(f"{registry}/{name}", at, f"build_images.sh -r {registry}")
                    for registry in shell.book_registry(script)]
    return Seen(command, at, "run")


def _workflow_job(entry: Any, said: Said, rebar3: list[Any], env: dict[str, Any]) -> None:
    for job, params in mapping(entry).items() if isinstance(entry, dict) else []:
        branches = mapping(mapping(mapping(params).get("filters")).get("branches"))
        only = branches.get("only")
        for i, branch in enumerate(items(only) if isinstance(only, list) else [only]):
            if isinstance(branch, str):
                node, key = (only, i) if isinstance(only, list) else (branches, "only")
                said.branches.append(seen(FILE, node, key, branch, f"{job} filters.branches.only"))
        alias, _, check = str(job).partition("/")
        if alias in rebar3 and check in shell.CHECKS:
            said.checks.append(seen(FILE, entry, job, check, f"orb job {job}"))
            _setup(check, items(mapping(params).get("pre-steps")), said, env)
    if isinstance(entry, str):
        alias, _, check = entry.partition("/")
        if alias in rebar3 and check in shell.CHECKS:
            said.checks.append(Seen(check, FILE, f"orb job {entry}"))


def _setup(check: str, steps: list[Any], said: Said, env: dict[str, Any]) -> None:
    """The run steps in an orb check's pre-steps become erlang.setup of that check; a
    save_cache of one directory they fill becomes the first one's cache."""
    saved = [mapping(step.get("save_cache")) for step in steps
             if isinstance(step, dict) and "save_cache" in step]
    cache = _cache(saved[0]) if len(saved) == 1 else None
    if saved and cache is None:
        said.notes.append(f"{FILE}: the save_cache in the pre-steps of {check} is not carried "
                          "over: erlang.setup's cache is one directory under ~/ or the "
                          "checkout, with a key of letters, digits, '.', '_' and '-'")
    for step in steps:
        run = _run(step, Said(), env, "")
        if run is None:
            continue
        node = mapping(mapping(step).get("run"))
        if "${{" in run.value or "${{" in str(node.get("name") or ""):
            said.notes.append(f"{run.where}: a pre-step of {check} holds ${{{{, which GitHub "
                              "would evaluate: not carried over to erlang.setup")
            continue
        first_line = run.value.strip().splitlines()[0] if run.value.strip() else "run"
        entry: dict[str, Any] = {"name": str(node.get("name") or first_line[:60]),
                                 "run": run.value.rstrip("\n") + "\n"}
        if cache:
            entry["cache"], cache = cache, None
        said.setup.append((check, entry, run))


def _cache(save: dict[Any, Any]) -> dict[str, str] | None:
    paths = items(save.get("paths"))
    key = text(save.get("key"))
    if len(paths) == 1 and isinstance(paths[0], str) and _CACHE_PATH.match(paths[0]) and \
            key and _CACHE_KEY.match(key):
        return {"path": paths[0], "key": key}
    return None
