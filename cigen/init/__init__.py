from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from cigen import inputs
from cigen.core import Plan
from cigen.errors import CigenError, DescriptorError
from cigen.init.infer import HINT_BYTES, Fact, Findings, infer
from cigen.init.write import DEFAULT_BRANCH as _DEFAULT_BRANCH
from cigen.init.write import publish_branch as _branch

_HEADER = """\
cigen.yaml: the one file cigen renders this service's CI and container build files from.
Written by `cigen init` from what the repository says; check each value and the note beside it,
then run `cigen pin` (pin the images by digest) and `cigen render`.
Every key, with its default: `cigen schema`."""
_NO_REGISTRY = "NOT FOUND: no CI file pushes an image, no GitHub remote; set where images go"
_NO_OTP = "NOT FOUND in the Dockerfile, .tool-versions or the CI files: set it"
_USER_DOCKERFILE = "Dockerfile exists: it stays yours; cigen derives the Kaniko variant"
_LIBRARY = """\
NO RELEASE: rebar.config has no relx release, so this is a library: CI runs the checks
only, with no Dockerfile, no image job and nothing published (docs/targets.md, "A library").
To build an image, add a relx release, replace image: false with the image's keys (or drop it)
and add registry:."""


def init(directory: Path) -> int:
    """Write a starter cigen.yaml for the rebar3 project in `directory`; never overwrite one.
    A project in a subfolder of its git repository gets it at the repository's root."""
    from cigen.init import subfolder

    root, folder = subfolder.placement(directory)
    target = root / "cigen.yaml"
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
    found = infer(directory, root)
    text = render(found, folder)
    plan = _create(target, text)
    from cigen.init import report

    report.show(found, text, plan, root, target)
    if folder != ".":
        print(f"The project is {folder} of the git repository at {root}: GitHub and CircleCI "
              f"read CI files only at its root, so cigen.yaml is there, with directory: "
              f"{folder}; run cigen in {root}")
    return 0


def render(found: Findings, folder: str = ".") -> str:
    """The descriptor text, each inferred value with a note saying where it came from;
    `folder`: the project's folder from the descriptor's, the repository's root."""
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    from cigen.init import write
    from cigen.yamlio import dump

    doc = CommentedMap()
    doc.yaml_set_start_comment(_HEADER)
    doc["version"] = 1
    _put(doc, "name", found.name, "NOT FOUND: no relx release; the folder's name")
    library = not found.releases
    if not library:  # a library has no image to push
        if found.image_name.value:
            _put(doc, "image_name", found.image_name, "")
        _put(doc, "registry", found.registry, _NO_REGISTRY)
    targets = _targets(found)
    if targets.value:
        doc["targets"] = list(targets.value)
        doc.yaml_set_comment_before_after_key("targets", before=targets.source)
    doc["erlang"] = CommentedMap()
    otp = Fact(DoubleQuotedScalarString(found.otp.value), found.otp.source)
    _put(doc["erlang"], "otp", otp, _NO_OTP, 2)
    write.erlang(found, doc["erlang"])
    image = False if library else _image(found, CommentedMap())
    if image is False:
        doc["image"] = False
        doc.yaml_set_comment_before_after_key("image", before=_LIBRARY)
    elif image:
        doc["image"] = image
    branch, after = _branch(found), write.publish_after(found)
    if (branch.value != _DEFAULT_BRANCH or after.value) and not library:
        doc["publish"] = CommentedMap()
        if branch.value != _DEFAULT_BRANCH:
            _put(doc["publish"], "branches", Fact([branch.value], branch.source), "", 2)
        if after.value:
            _put(doc["publish"], "after", after, "", 2)
    organizations, hosts = found.private.value
    if organizations or hosts:
        private = CommentedMap()
        if organizations:
            private["hex_organizations"] = list(organizations)
        if hosts:
            private["git_hosts"] = list(hosts)
        doc["private"] = private
        doc.yaml_set_comment_before_after_key("private", before=found.private.source)
    if found.destination.value and not library:
        doc["cloudbuild"] = CommentedMap()
        write.put(doc["cloudbuild"], "destination", found.destination, 2)
    if folder != ".":
        from cigen.init import subfolder

        subfolder.adapt(doc, folder, library)
    return str(dump(doc))


def _targets(found: Findings) -> Fact:
    """The targets the CI files name (none: every target). With private dependencies Cloud
    Build builds with buildx, its default then (docs/private-dependencies.md)."""
    return found.targets


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
