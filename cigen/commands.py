from __future__ import annotations

import sys
from pathlib import Path

from cigen import files, targets
from cigen.descriptor import load_descriptor
from cigen.errors import CigenError
from cigen.model import Project


def _plan(config: Path, names: list[str]) -> tuple[Project, targets.Files]:
    project = load_descriptor(config, tuple(names))
    chosen = targets.selected(project, names)
    if "dockerfile" in chosen and not project.image.generate:
        raise CigenError(
            f"{config}: image.generate is false: {project.image.dockerfile} is yours, "
            "so there is no dockerfile target to render"
        )
    return project, targets.render(project, chosen)


def render(config: Path, names: list[str], force: bool = False) -> int:
    _, planned = _plan(config, names)
    changed = files.write(planned, config.parent, force=force)
    for path in changed:
        print(f"wrote {path}")
    if not changed:
        print(f"{len(planned)} files already current")
    return 0


def check(config: Path, names: list[str]) -> int:
    _, planned = _plan(config, names)
    found = files.drift(planned, config.parent)
    for d in found:
        what = {"missing": "missing", "stale": "stale or hand-edited", "mode": "not executable"}
        print(f"{d.path}: {what[d.kind]}", file=sys.stderr)
        if d.diff:
            sys.stderr.write(d.diff if d.diff.endswith("\n") else d.diff + "\n")
    if found:
        fix = "cigen render" if config.name == "cigen.yaml" else f"cigen render -c {config}"
        print(f"{len(found)} generated file(s) out of date; run: {fix}", file=sys.stderr)
        return 1
    return 0


def validate(config: Path) -> int:
    from cigen.validation import validate_outputs

    project, planned = _plan(config, [])
    found = validate_outputs(project, planned)
    for line in found:
        print(line, file=sys.stderr)
    if found:
        return 1
    print(f"{config}: valid; {len(planned)} outputs valid")
    return 0


def kaniko(dockerfile: Path, out: Path | None) -> int:
    from cigen.dockerfile.kaniko import convert

    shown = str(dockerfile)
    text = files.read(dockerfile.parent, dockerfile.name)
    if text is None:
        raise CigenError(f"{shown}: no such file")
    result = convert(text, shown)
    for note in result.notes:
        print(note, file=sys.stderr)
    if out is None:
        sys.stdout.write(result.text)
    else:
        files.write({out.name: result.text}, out.parent, force=True)
    return 0
