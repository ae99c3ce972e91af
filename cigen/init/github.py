"""What the GitHub Actions workflows say: OTP and rebar3 (erlef/setup-beam's inputs, a job
container), service containers, the checks run, where images are pushed, branch filters.

Keys read (docs.github.com, "Workflow syntax for GitHub Actions"): on.<push|pull_request>.
branches, env, jobs.<id>.env, .strategy.matrix (with include), .container.image, .services.<id>
.{image, env, ports, options}, .steps[*].{uses, with, run}. Action inputs read: erlef/setup-beam
otp-version and rebar3-version (its action.yml); docker/build-push-action tags and
docker/metadata-action images (their action.yml: "List of tags", "List of Docker images to use
as base name for tags").
"""

from __future__ import annotations

import re
from itertools import islice
from pathlib import Path
from typing import Any

from cigen.init import images, shell
from cigen.init.facts import Said, Seen
from cigen.init.services import Declared
from cigen.init.yamlfiles import items, line, load, mapping, seen, text

FOLDER = ".github/workflows"
_EXPRESSION = re.compile(r"\$\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")
_VERSION = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_HEALTH_CMD = re.compile(r"--health-cmd[= ]+(?:\"([^\"]*)\"|'([^']*)'|(\S+))")
_MAX_ROWS = 256  # matrix combinations looked at


def files(root: Path) -> list[str]:
    folder = root / FOLDER
    found = sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
    return [p.relative_to(root).as_posix() for p in found if p.is_file()]


def read(root: Path, warnings: list[str], repository: tuple[str, str] | None) -> Said:
    said = Said()
    # Image references are lower case (Docker's reference grammar), so the repository's name
    # is put in as an image reference would hold it.
    context = {"github.repository": "/".join(repository).lower(), "github.repository_owner":
               repository[0].lower()} if repository else {}
    for rel in files(root):
        data = load(root, rel, warnings)
        if isinstance(data, dict):
            _workflow(rel, data, said, context)
    return said


def _workflow(rel: str, data: dict[Any, Any], said: Said, context: dict[str, str]) -> None:
    on = mapping(data.get("on", data.get(True)))
    for event in ("push", "pull_request"):
        node = mapping(on.get(event))
        for i, branch in enumerate(items(node.get("branches"))):
            if isinstance(branch, str):
                said.branches.append(seen(rel, node["branches"], i, branch,
                                          f"on.{event}.branches"))
    env = _env(data.get("env"), context)
    for job_id, job in mapping(data.get("jobs")).items():
        if isinstance(job, dict):
            _job(rel, str(job_id), job, said, {**env, **_env(job.get("env"), context)})


def _env(node: Any, context: dict[str, str]) -> dict[str, str]:
    return {f"env.{k}": resolve(found, context) for k, value in mapping(node).items()
            if (found := text(value)) is not None}


def resolve(value: str, context: dict[str, str]) -> str:
    """`${{ matrix.otp }}`, `${{ env.X }}`, `${{ github.repository }}` replaced where known;
    any other expression stays as written."""
    return _EXPRESSION.sub(lambda m: context.get(m.group(1), m.group()), value)


def _job(rel: str, job_id: str, job: dict[Any, Any], said: Said, env: dict[str, str]) -> None:
    rows = _rows(mapping(job.get("strategy")).get("matrix"))
    container = job.get("container")
    image = mapping(container).get("image") if isinstance(container, dict) else container
    versions = [v for row in rows if isinstance(image, str) and
                (v := images.otp(resolve(image, {**env, **row})))]
    if versions:
        newest = max(versions, key=lambda v: tuple(map(int, v.split("."))))
        said.otp.append(seen(rel, job, "container", newest, f"container {image}" +
                             _newest(versions)))
    for service_id, spec in mapping(job.get("services")).items():
        said.services.append(_service(rel, job["services"], service_id, spec, env))
    for step in items(job.get("steps")):
        if isinstance(step, dict):
            _step(rel, step, said, [{**env, **row} for row in rows])


def _rows(matrix: Any) -> list[dict[str, str]]:
    """The matrix combinations as `matrix.<key>` contexts: the product of its lists, then each
    include entry (enough to find the versions a job installs)."""
    if not isinstance(matrix, dict):
        return [{}]
    product: list[dict[str, str]] = [{}]
    for key, values in matrix.items():
        if key not in ("include", "exclude") and isinstance(values, list):
            product = list(islice(({**row, f"matrix.{key}": str(v)} for row in product for v in
                                   (text(value) for value in values) if v is not None),
                                  _MAX_ROWS))
    include = [{f"matrix.{k}": str(v) for k, value in mapping(entry).items()
                if (v := text(value)) is not None} for entry in items(matrix.get("include"))]
    plain = [key for key in matrix if key not in ("include", "exclude")]
    return ([*product, *include] if plain else include)[:_MAX_ROWS] or [{}]


def _step(rel: str, step: dict[Any, Any], said: Said, rows: list[dict[str, str]]) -> None:
    uses = str(step.get("uses") or "")
    inputs = mapping(step.get("with"))
    if uses.startswith("erlef/setup-beam"):
        _setup_beam(rel, inputs, said, rows)
    elif uses.startswith("docker/build-push-action"):
        said.pushes += _listed(rel, inputs, "tags", rows[0])
    elif uses.startswith("docker/metadata-action"):
        said.pushes += _listed(rel, inputs, "images", rows[0])
    run = step.get("run")
    if isinstance(run, str):
        script = resolve(run, rows[0])
        shell.scan(script, seen(rel, step, "run", None).where, said)


def _setup_beam(rel: str, inputs: dict[Any, Any], said: Said, rows: list[dict[str, str]]) -> None:
    raw_otp, raw_rebar3 = text(inputs.get("otp-version")), text(inputs.get("rebar3-version"))
    pairs = [(resolve(raw_otp or "", row), resolve(raw_rebar3 or "", row)) for row in rows]
    pairs = [(otp, rebar3) for otp, rebar3 in pairs if _VERSION.fullmatch(otp)]
    if not pairs:
        return
    otp, rebar3 = max(pairs, key=lambda p: tuple(int(n) for n in p[0].split(".")))
    said.otp.append(seen(rel, inputs, "otp-version", otp, f"setup-beam otp-version {raw_otp}" +
                         _newest([p[0] for p in pairs])))
    if _VERSION.fullmatch(rebar3):
        said.rebar3.append(seen(rel, inputs, "rebar3-version", rebar3,
                                f"setup-beam rebar3-version {raw_rebar3}"))


def _newest(versions: list[str]) -> str:
    several = sorted(set(versions), key=lambda v: tuple(map(int, v.split("."))))
    return f"; the newest of {', '.join(several)}" if len(several) > 1 else ""


def _listed(rel: str, inputs: dict[Any, Any], key: str, context: dict[str, str]) -> list[Seen]:
    value = inputs.get(key)
    entries = [str(v) for v in items(value)] if isinstance(value, list) else \
        re.split(r"[\n,]", str(value or ""))
    refs = [resolve(entry.strip(), context) for entry in entries if entry.strip()]
    return [seen(rel, inputs, key, ref, f"{key}: {ref}") for ref in refs]


def _service(rel: str, node: Any, service_id: Any, spec: Any, env: dict[str, str]) -> Declared:
    spec = spec if isinstance(spec, dict) else {"image": spec}
    ports = tuple(p for p in (_port(v) for v in items(spec.get("ports"))) if p)
    health = _HEALTH_CMD.search(str(spec.get("options") or ""))
    values = [(k, resolve(v, env) if isinstance(v, str) else v)
              for k, v in mapping(spec.get("env")).items()]
    at = line(node, service_id)
    return Declared(str(service_id), spec.get("image"), f"{rel}:{at}" if at else rel,
                    tuple(values), ports, next((g for g in health.groups() if g), None)
                    if health else None, f"services.{service_id}")


def _port(value: Any) -> int | None:
    """The container port of `5432:5432`, `5432` or `5432/tcp` (GitHub maps it to the same
    port on the runner when cigen writes it)."""
    port = (text(value) or "").rsplit(":", 1)[-1].split("/", 1)[0]
    return int(port) if port.isdigit() and 0 < int(port) < 65536 else None
