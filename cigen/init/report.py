"""What `cigen init` prints: every value it wrote and where it came from, what it could not
find, the conflicts and the rule that settled each, what it did not carry over, the files that
did not parse, the CI files `render --force` will replace, and the next command."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cigen.core import Plan, printable
from cigen.init.facts import Fact
from cigen.init.infer import Findings

_PATTERN = re.compile(r"[*?+!\[\]]|^/")  # a GitHub glob or CircleCI /regex/ branch filter
_COLUMN = 40
_IMAGE_ROWS = ("image_name", "registry", "image.os", "version from git", "publish.branches",
               "publish.after", "cloudbuild.destination")  # not a library's: it has no image


def show(found: Findings, text: str, plan: Plan, root: Path, target: Path) -> None:
    from cigen.yamlio import load_plain

    written = load_plain(text)
    replaced = collisions(plan, root)
    sections = [
        (f"wrote {target}; each value, and where it came from:", list(_rows(found, written))),
        ("Not found; set these in cigen.yaml:", _missing(found)),
        ("Conflicts; the value written, and the rule that chose it:",
         [str(c) for c in found.conflicts]),
        ("Seen and not carried over:", list(found.notes)),
        ("Files that could not be read:", list(found.warnings)),
        ("Check:", _check(found)),
        ("`cigen render --force` replaces these files, which are not cigen's (cigen.yaml must "
         "say what they do first):", replaced),
    ]
    for title, lines in sections:
        if lines or title.startswith("wrote"):
            print(title)
            bullet = "  " if title.startswith("wrote") else "  - "
            for line in lines:
                print(printable(f"{bullet}{line}"))
    force = " --force" if replaced else ""
    print(f"Next: cigen pin && cigen render{force}")


def _rows(found: Findings, written: Any) -> Iterator[str]:
    from cigen.init.write import publish_after
    from cigen.init.write import publish_branch as _branch

    rows = [
        ("name", found.name), ("image_name", found.image_name), ("registry", found.registry),
        ("targets", found.targets), ("erlang.otp", found.otp), ("erlang.rebar3", found.rebar3),
        ("erlang.release_profile", found.release_profile), ("erlang.checks", found.checks),
        ("erlang.env", Fact(tuple(found.env.value), found.env.source)),
        ("erlang.services", Fact(tuple(s["name"] for s in found.services.value),
                                 found.services.source)),
        ("erlang.setup", Fact(tuple(found.setup.value), found.setup.source)),
        ("image.os", found.os), ("version from git", found.from_git),
        ("publish.branches", _branch(found)), ("publish.after", publish_after(found)),
        ("cloudbuild.destination", found.destination),
    ]
    for key, fact in rows:
        if fact.value is None or fact.value == () or not fact.source or \
                (key in _IMAGE_ROWS and not found.releases):
            continue  # nothing found is said under "Not found"
        unwritten = "" if _has(written, key) or " " in key else " (the default; not written)"
        yield _row(f"{key}: {_shown(fact.value)}", fact.source + unwritten)
    if found.user_dockerfile:
        yield _row("image.generate: false", "Dockerfile exists")
    layout = "umbrella" if found.umbrella else "single application"
    yield f"layout: {layout}" + (f" ({', '.join(found.apps)})" if found.apps else "")
    if not found.lock:
        yield "rebar.lock: none" + (" (the generated Dockerfile copies rebar.config alone)"
                                    if found.releases and not found.user_dockerfile else "")


def _row(value: str, source: str) -> str:
    return value + " " * max(2, _COLUMN - len(value)) + source


def _has(data: Any, dotted: str) -> bool:
    for key in dotted.split("."):
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return ", ".join(map(str, value)) if isinstance(value, tuple | list) else str(value)


def _missing(found: Findings) -> list[str]:
    out = []
    if not found.registry.source and found.releases:
        out.append("registry: no CI file pushes an image and there is no GitHub remote; set "
                   "the registry and owner images are pushed to")
    if not found.otp.source:
        out.append(f"erlang.otp: nothing names an OTP release; {found.otp.value} is a "
                   "placeholder")
    if not found.name.source:
        out.append(f"name: no relx release and no single application; {found.name.value} is "
                   "the folder's name")
    if found.os.value is None and found.releases:
        out.append("image.os: alpine (the default); use debian if the service needs glibc")
    return out


def _check(found: Findings) -> list[str]:
    out = []
    if not found.releases:
        out.append("no relx release: a library (image: false), whose CI runs the checks only "
                   "(see the note at image: in cigen.yaml)")
    if len(found.releases) > 1:
        out.append(f"name: {found.releases[0]} of the relx releases {', '.join(found.releases)} "
                   "(the first in the top-level relx section, else in a profile's); to ship "
                   "another, set name: to it. With several release names `rebar3 tar` builds "
                   "one only when given --relname, so the generated Dockerfile passes "
                   "--relname <name>")
    if found.registry.source.startswith("git remote") and found.releases:
        out.append(f"registry: {found.registry.value} is a guess from the git remote: no CI "
                   "file pushes an image")
    if found.otp.source and len(str(found.otp.value).split(".")) < 3:
        out.append(f"erlang.otp: {found.otp.value} is a line, not a release: CI installs the "
                   "newest of it; an exact release (e.g. 26.2.5) pins it")
    return [*out, *_branch_checks(found)]


def _branch_checks(found: Findings) -> list[str]:
    from cigen.init.write import DEFAULT_BRANCH as _DEFAULT_BRANCH
    from cigen.init.write import publish_branch as _branch

    out: list[str] = []
    branch = _branch(found)
    if not found.releases:
        pass  # a library publishes from no branch
    elif found.branch.value is not None and branch is not found.branch:
        out.append(f"publish.branches: git's default branch {found.branch.value} is not a "
                   "branch name cigen takes; set publish.branches")
    elif branch.value != _DEFAULT_BRANCH and found.branch.source.endswith("(no origin/HEAD)"):
        out.append(f"publish.branches: {branch.value} is the branch checked out, as git has no "
                   "origin/HEAD; make sure it is the default branch (`git remote set-head "
                   "origin --auto` sets origin/HEAD)")
    for path, names in found.ci_branches if found.releases else ():
        if branch.value not in names and not any(_PATTERN.search(n) for n in names):
            out.append(f"publish.branches: {branch.value}, but {path} runs on pushes to "
                       f"{', '.join(names)}: make the two agree")
    if found.lock_ignored:
        out.append("rebar.lock is ignored by git, so CI's checkout will not have it, while "
                   "the generated Dockerfile copies it whenever it exists where you render: "
                   "commit it")
    if found.config_script:
        out.append("rebar.config.script exists: rebar3 runs it over rebar.config, cigen init "
                   "read only rebar.config")
    return out


def collisions(plan: Plan, root: Path) -> list[str]:
    """Files `cigen render` would write that exist and are not cigen's: render refuses to
    replace them without --force."""
    from cigen import files
    from cigen.core import is_generated

    return [o.path for o in plan.outputs
            if (text := files.read(root, o.path)) is not None and not is_generated(text)]
