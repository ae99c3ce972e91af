from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from cigen import files, inputs
from cigen.core import Plan, is_generated
from cigen.errors import CigenError, DescriptorError
from cigen.init.infer import BRANCH, HINT_BYTES, Fact, Findings, infer

_HEADER = """\
cigen.yaml: the one file cigen renders this service's CI and container build files from.
Written by `cigen init` from what the repository says; check each value and the note beside it,
then run `cigen pin` (pin the images by digest) and `cigen render`.
Every key, with its default: `cigen schema`."""
_NO_REGISTRY = "NOT FOUND: no GitHub remote; set where images are pushed"
_NO_OTP = "NOT FOUND in .tool-versions, workflows, CircleCI or Dockerfile: set it"
_USER_DOCKERFILE = "Dockerfile exists: it stays yours; cigen derives the Kaniko variant"
_DEFAULT_BRANCH = "main"  # the schema's publish.branches default
# A CI branch filter that is a pattern (GitHub globs, CircleCI /regex/): init does not judge it.
_PATTERN = re.compile(r"[*?+!\[\]]|^/")
_LIBRARY = """\
NO RELEASE: rebar.config has no relx release, so this looks like a library. cigen always
generates an image build (the Dockerfile, the CircleCI and GitHub image jobs, Cloud Build's
build), and it will fail on every run: cigen cannot describe a pipeline without an image yet
(docs/pin-and-init.md, "A library"). Add a relx release to build one."""


def init(directory: Path) -> int:
    """Write a starter cigen.yaml for the rebar3 project in `directory`; never overwrite one."""
    target = directory / "cigen.yaml"
    if target.exists():
        raise CigenError(
            f"{target}: exists; cigen init never replaces it (move it away to start over)"
        )
    try:
        inputs.read(directory / "rebar.config", HINT_BYTES)
    except FileNotFoundError:
        raise CigenError(f"{directory}: no rebar.config; cigen init reads a rebar3 project"
                         ) from None
    except OSError as e:
        raise CigenError(f"{directory / 'rebar.config'}: cannot read: {e.strerror}") from e
    found = infer(directory)
    text = render(found)
    plan = _create(target, text)
    print(f"wrote {target}; what it guessed, and from where:")
    for line in _guesses(found):
        print(f"  {line}")
    todo = [*_unsure(found), *_collisions(plan, directory)]
    if todo:
        print("Check:")
        for line in todo:
            print(f"  - {line}")
    print("Then run: cigen pin && cigen render")
    return 0


def render(found: Findings) -> str:
    """The descriptor text, each inferred value with a note saying where it came from."""
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    from cigen.yamlio import dump

    doc = CommentedMap()
    doc.yaml_set_start_comment(_HEADER)
    doc["version"] = 1
    _put(doc, "name", found.name, "NOT FOUND: no relx release; the folder's name")
    if not found.releases:
        doc.yaml_set_comment_before_after_key("name", before=_LIBRARY)
    _put(doc, "registry", found.registry, _NO_REGISTRY)
    targets = _targets(found)
    if targets.value:
        doc["targets"] = list(targets.value)
        doc.yaml_set_comment_before_after_key("targets", before=targets.source)
    doc["erlang"] = CommentedMap()
    otp = Fact(DoubleQuotedScalarString(found.otp.value), found.otp.source)
    _put(doc["erlang"], "otp", otp, _NO_OTP, 2)
    image = _image(found, CommentedMap())
    if image:
        doc["image"] = image
    branch = _branch(found)
    if branch.value != _DEFAULT_BRANCH:
        doc["publish"] = CommentedMap()
        _put(doc["publish"], "branches", Fact([branch.value], branch.source), "", 2)
    organizations, hosts = found.private.value
    if organizations or hosts:
        private = CommentedMap()
        if organizations:
            private["hex_organizations"] = list(organizations)
        if hosts:
            private["git_hosts"] = list(hosts)
        doc["private"] = private
        doc.yaml_set_comment_before_after_key("private", before=found.private.source)
    return str(dump(doc))


def _targets(found: Findings) -> Fact:
    """The targets the CI files name (none: every target). With private dependencies Cloud
    Build builds with buildx, its default then (docs/private-dependencies.md)."""
    return found.targets


def _branch(found: Findings) -> Fact:
    """The branch that publishes: git's default branch, when the schema takes its name."""
    if found.branch.value is None or not BRANCH.match(found.branch.value):
        return Fact(_DEFAULT_BRANCH)
    return found.branch


def _image(found: Findings, image: Any) -> Any:
    if found.os.value == "debian":
        _put(image, "os", found.os, "", 2)
    if found.user_dockerfile:
        _put(image, "generate", Fact(False, _USER_DOCKERFILE), "", 2)
    if found.from_git.value is False:
        _put(image, "keep_git", Fact(False, f"{found.from_git.source}: not from git"), "", 2)
    return image


def _put(mapping: Any, key: str, fact: Fact, missing: str, indent: int = 0) -> None:
    from cigen.yamlio import dump

    mapping[key] = fact.value
    line = dump({key: fact.value}).splitlines()[0]  # the key's line as it will be written
    mapping.yaml_add_eol_comment(fact.source or missing, key, column=indent + len(line) + 2)


def _create(target: Path, text: str) -> Plan:
    # Validate and build through the real loader before the file exists, then create it
    # exclusively.
    from cigen.plan import load

    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".cigen-init.", suffix=".yaml")
    except OSError as e:
        raise CigenError(f"{target}: cannot write: {e.strerror}") from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        _, plan = load(Path(tmp))
        with open(target, "x", encoding="utf-8", newline="") as f:
            f.write(text)
    except DescriptorError as e:
        raise DescriptorError([p.replace(tmp, str(target)) for p in e.problems]) from None
    except FileExistsError:
        raise CigenError(f"{target}: exists; cigen init never replaces it") from None
    except OSError as e:
        raise CigenError(f"{target}: cannot write: {e.strerror}") from e
    finally:
        os.unlink(tmp)
    return plan


def _guesses(found: Findings) -> list[str]:
    rows = [
        ("name", found.name),
        ("registry", found.registry),
        ("erlang.otp", found.otp),
        ("image.os", found.os),
        ("targets", found.targets),
        ("version from git", found.from_git),
        ("publish.branches", found.branch),
    ]
    lines = [
        f"{key}: {_shown(fact.value)}".ljust(40) + (fact.source or "not found: a placeholder")
        for key, fact in rows
        if fact.value is not None
    ]
    if found.user_dockerfile:
        lines.append("image.generate: false".ljust(40) + "Dockerfile exists")
    layout = "umbrella" if found.umbrella else "single application"
    lines.append(f"layout: {layout}" + (f" ({', '.join(found.apps)})" if found.apps else ""))
    return lines


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return ", ".join(value) if isinstance(value, tuple) else str(value)


def _unsure(found: Findings) -> list[str]:
    out = []
    if not found.registry.source:
        out.append("registry: no GitHub remote; set the registry and owner images are pushed to")
    if not found.otp.source:
        out.append(f"erlang.otp: nothing names an OTP version; {found.otp.value} is a placeholder")
    if not found.releases:
        out.append("no relx release: the image jobs will fail on every run (see the note at "
                   "name: in cigen.yaml)")
    elif found.name.value != found.releases[0]:
        out.append(f"name: {found.name.value} is not the relx release's name, "
                   f"{found.releases[0]}: the image build looks for a release called "
                   f"{found.name.value}; rename the release in rebar.config to match")
    if len(found.releases) > 1:
        out.append(f"name: {found.releases[0]} of the relx releases {', '.join(found.releases)} "
                   "(the first in the top-level relx section, else in a profile's); to ship "
                   "another, set name: to it. With several release names `rebar3 tar` builds "
                   "one only when given --relname, which the generated Dockerfile does not "
                   "pass yet: the image build fails until one name is left")
    if found.os.value is None:
        out.append("image.os: alpine (the default); use debian if the service needs glibc")
    return [*out, *_branch_checks(found)]


def _branch_checks(found: Findings) -> list[str]:
    out = []
    branch = _branch(found)
    if found.branch.value is not None and branch is not found.branch:
        out.append(f"publish.branches: git's default branch {found.branch.value} is not a "
                   "branch name cigen takes; set publish.branches")
    elif branch.value != _DEFAULT_BRANCH and found.branch.source.endswith("(no origin/HEAD)"):
        out.append(f"publish.branches: {branch.value} is the branch checked out, as git has no "
                   "origin/HEAD; make sure it is the default branch (`git remote set-head "
                   "origin --auto` sets origin/HEAD)")
    for path, names in found.ci_branches:
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


def _collisions(plan: Plan, root: Path) -> list[str]:
    """Files `cigen render` would write that exist and are not cigen's: it would refuse them."""
    mine = [
        o.path
        for o in plan.outputs
        if (text := files.read(root, o.path)) is not None and not is_generated(text)
    ]
    return [
        f"{rel} exists and is not cigen's: move it away (or render --force) once "
        "cigen.yaml says the same"
        for rel in mine
    ]
