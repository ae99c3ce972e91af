from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.compat import context_digest, for_buildah

# `docker` for ci/build_images.sh in the end-to-end test: maps `docker buildx build` onto
# `buildah build`. Unknown options fail, so the script cannot pass on something the shim
# silently dropped. Environment: CIGEN_SHIM_BUILDAH (JSON argv prefix with the storage
# flags), CIGEN_SHIM_LOG (where each call and its translation are appended).
_VALUED = {"--file": "file", "-f": "file", "--target": "target", "--tag": "tags", "-t": "tags",
           "--build-arg": "build_args", "--cache-from": "cache_from", "--cache-to": "cache_to"}
_FLAGS = {"--push": "push", "--load": "load", "--no-cache": "no_cache"}
# BuildKit's attestations (publish.sbom): buildah makes none, so they are noted, not mapped.
_ATTESTATIONS = ("--sbom", "--provenance")


class Usage(Exception):
    pass


@dataclass
class Buildx:
    context: str = ""
    file: str = "Dockerfile"
    target: str = ""
    push: bool = False
    load: bool = False
    no_cache: bool = False
    tags: list[str] = field(default_factory=list)
    build_args: list[str] = field(default_factory=list)
    cache_from: list[str] = field(default_factory=list)
    cache_to: list[str] = field(default_factory=list)
    attestations: list[str] = field(default_factory=list)


def parse(argv: Sequence[str]) -> Buildx:
    if list(argv[:2]) != ["buildx", "build"]:
        raise Usage(f"only `docker buildx build` is mapped, not `docker {' '.join(argv)}`")
    call, args = Buildx(), list(argv[2:])
    while args:
        word = args.pop(0)
        name, has_value, value = word.partition("=")
        if name in _FLAGS and not has_value:
            setattr(call, _FLAGS[name], True)
        elif name in _ATTESTATIONS and has_value:
            call.attestations.append(word)
        elif name in _VALUED:
            _set(call, _VALUED[name], value if has_value else _next(args, name))
        elif word.startswith("-") or call.context:
            raise Usage(f"unsupported argument {word!r}")
        else:
            call.context = word
    if not call.context:
        raise Usage("no build context")
    return call


def _next(args: list[str], name: str) -> str:
    if not args:
        raise Usage(f"{name} needs a value")
    return args.pop(0)


def _set(call: Buildx, attribute: str, value: str) -> None:
    current = getattr(call, attribute)
    if isinstance(current, list):
        current.append(value)
    else:
        setattr(call, attribute, value)


def commands(call: Buildx, buildah: list[str], dockerfile: Path) -> list[list[str]]:
    """The buildah commands that do what the buildx call asks."""
    build = [*buildah, "build", "--isolation", "chroot", "--layers", "--pull=never",
             "--file", str(dockerfile)]
    build += [f"--build-arg={arg}" for arg in call.build_args]
    build += ["--target", call.target] if call.target else []
    build += ["--no-cache"] if call.no_cache else []
    for tag in call.tags:
        build += ["--tag", tag]
    pushes = [[*buildah, "push", "--tls-verify=false", tag, f"docker://{tag}"]
              for tag in call.tags] if call.push else []
    return [[*build, call.context], *pushes]


def notes(call: Buildx) -> list[str]:
    ignored = [f"ignored --cache-from={c} (buildah's layer cache is local)"
               for c in call.cache_from]
    ignored += [f"ignored --cache-to={c} (buildah keeps its layer cache locally)"
                for c in call.cache_to]
    ignored += [f"ignored {a} (buildah makes no BuildKit attestation)"
                for a in call.attestations]
    if call.load:
        ignored.append("--load: the image is in buildah's local storage, docker's analogue")
    return ignored


def main(argv: Sequence[str]) -> int:
    log = Path(os.environ["CIGEN_SHIM_LOG"])
    try:
        call = parse(argv)
    except Usage as problem:
        _log(log, {"argv": list(argv), "notes": [], "buildah": [], "error": str(problem)})
        print(f"docker shim: {problem}", file=sys.stderr)
        return 125
    context = Path(call.context)
    dockerfile = Path(os.environ.get("TMPDIR", "/tmp"), "Dockerfile.cigen-shim")
    # buildx reads --file relative to the working directory, not to the context
    dockerfile.write_text(for_buildah(Path(call.file).read_text(), context_digest(context)))
    planned = commands(call, json.loads(os.environ["CIGEN_SHIM_BUILDAH"]), dockerfile)
    _log(log, {"argv": list(argv), "notes": notes(call), "buildah": planned, "error": ""})
    for command in planned:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, check=False)  # noqa: S603
        if done.returncode != 0:
            return done.returncode
    return 0


def _log(path: Path, record: dict[str, object]) -> None:
    with path.open("a") as out:
        out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
