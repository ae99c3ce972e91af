from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from cigen import manifest, targets
from cigen.core import Output, Plan, Problem, normalise

if TYPE_CHECKING:
    from pathlib import Path

    from cigen.descriptor import Descriptor
    from cigen.model import Project


def build(project: Project, names: Iterable[str] = ()) -> Plan:
    """Every output of the named targets (none: the descriptor's), or every problem found.

    A full build (no names) also writes the manifest of generated files.
    """
    names = tuple(names)
    plan = Plan(problems=tuple(_unavailable(project, names)))
    for name in targets.selected(project, names):
        plan += targets.load(name).plan(project)
    outputs = _distinct(plan.outputs)
    found = plan.problems + tuple(_misplaced(outputs))
    if not found and project.overrides:
        outputs, patched = _overridden(project, outputs)
        found += tuple(patched)
    if found:
        return Plan(problems=found)
    if not names:
        from cigen.targets.base import origin

        text = manifest.render(outputs, origin(project))
        outputs = (*outputs, Output(manifest.PATH, text, "manifest"))
    return Plan(tuple(sorted(outputs, key=lambda o: o.key)))


def load(config: Path, names: Iterable[str] = (), source: str | None = None
         ) -> tuple[Descriptor, Plan]:
    """Read the descriptor (or take its text, `source`) and build; any problem raises one
    DescriptorError with them all."""
    from cigen.descriptor import load

    descriptor = load(config, source)
    plan = build(descriptor.project, names)
    if plan.problems:
        raise descriptor.error(plan.problems)
    return descriptor, plan


def _overridden(project: Project, outputs: tuple[Output, ...]
                ) -> tuple[tuple[Output, ...], list[Problem]]:
    """The outputs with `overrides` applied; a patched file must still pass its schema."""
    from cigen import overrides, validation

    patched, found = overrides.apply(outputs, project.overrides)
    changed = {o.key for o, before in zip(patched, outputs, strict=True) if o.text != before.text}
    # every output goes to validation: a target's lint reads its files together
    for problem in validation.validate_outputs(project, patched) if changed else ():
        path, _, why = problem.partition(": ")
        if normalise(path) in changed:
            found.append(Problem(("overrides", _override_key(project, path)),
                                 f"the patched file fails its check: {why}", at_key=True))
    return patched, found


def _override_key(project: Project, path: str) -> str:
    return next((key for key, _ in project.overrides if normalise(key) == normalise(path)), path)


def _unavailable(project: Project, names: tuple[str, ...]) -> Iterator[Problem]:
    if "dockerfile" in names and project.library:
        yield Problem(("image",), "is false: a library has no Dockerfile, so there is no "
                      "dockerfile target to render")
    elif "dockerfile" in names and not project.image.generate:
        yield Problem(("image", "generate"), f"is false: {project.image.dockerfile} is yours, "
                      "so there is no dockerfile target to render")


def _distinct(outputs: tuple[Output, ...]) -> tuple[Output, ...]:
    """One output per file and text: two targets may write one file when they agree."""
    seen: dict[tuple[str, str], Output] = {}
    for output in outputs:
        seen.setdefault((output.key, output.text), output)
    return tuple(seen.values())


def _misplaced(outputs: tuple[Output, ...]) -> Iterator[Problem]:
    """Paths that leave the project, enter .git, or name one file twice (`./x` and `x`, or `X`
    and `x` on a case-insensitive file system)."""
    owner: dict[str, Output] = {manifest.PATH: Output(manifest.PATH, "", "the manifest")}
    folders = {str(p).casefold(): o for o in outputs for p in PurePosixPath(o.key).parents}
    for output in outputs:
        holder = folders.get(output.key.casefold())
        if holder is not None:
            yield Problem(output.origin, f"{output.path} is a file, and {holder.target} writes "
                          f"{holder.path} inside it as a folder; choose another path")
        key = output.key
        if key.startswith(("/", "../")) or key in ("..", "."):
            yield Problem(output.origin, f"{output.path} is not inside the project's folder")
        elif key == ".git" or key.startswith(".git/"):
            yield Problem(output.origin, f"{output.path} is inside .git, which git manages")
        other = owner.setdefault(key.casefold(), output)
        if other is not output:  # said at both keys: either may be the one to change
            for one, two in ((output, other), (other, output)):
                yield Problem(one.origin, f"{one.path} is also written by {two.target} as "
                              f"{two.path}; choose another path")
