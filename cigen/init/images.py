"""What an image reference says: the OTP release and OS of an erlang image, where an image
is pushed."""

from __future__ import annotations

import re

_VERSION_TAG = re.compile(r"([0-9]+(?:\.[0-9]+)*)(?![0-9])")
_VARIABLE = re.compile(r"\$\{\{|\$\{?[A-Za-z_]")


def split(ref: str) -> tuple[str, str]:
    """(repository, tag) of a reference; the digest dropped, the tag "" when none."""
    name = ref.split("@", 1)[0]
    repository, colon, tag = name.rpartition(":")
    if not colon or "/" in tag:
        return name, ""
    return repository, tag


def is_erlang(ref: str) -> bool:
    """An image of Erlang/OTP: the official erlang image, a mirror of it, or one named so
    (circleci/erlang, cimg/erlang, hexpm/erlang)."""
    return "erlang" in split(ref)[0].rsplit("/", 1)[-1].lower()


def otp(ref: str) -> str | None:
    """The OTP release an erlang image's tag names (`26.2.5-alpine`: 26.2.5), else None."""
    repository, tag = split(ref)
    found = _VERSION_TAG.match(tag)
    return found.group(1) if found and is_erlang(ref) else None


def os_family(ref: str) -> str | None:
    """alpine or debian, as the reference tells (cigen/compat.py reads official and mirrored
    images, Debian codenames and Alpine versions in tags); None when it does not."""
    from cigen import compat

    release = compat.image_release(ref)
    if release is not None:
        return release.family
    repository, tag = split(ref)
    if "alpine" in tag.lower() or repository.rsplit("/", 1)[-1] == "alpine":
        return "alpine"
    return None


def has_variable(text: str) -> bool:
    """A CI variable still in it: $X, ${X} (CircleCI, Cloud Build) or ${{ x }} (GitHub)."""
    return bool(_VARIABLE.search(text))


def pushed_to(ref: str) -> tuple[str, str] | None:
    """(registry, image name) of a reference an image is pushed to: everything before its last
    path component, and that component. A first component that is no host (no `.` or `:`, not
    localhost) is a Docker Hub account (acme/app: docker.io/acme); a bare name is a local one."""
    repository = split(ref)[0].strip()
    prefix, slash, image = repository.rpartition("/")
    if not slash or not prefix or not image:
        return None
    host = prefix.split("/", 1)[0]
    if not ("." in host or ":" in host or host == "localhost" or "$" in host):
        prefix = f"docker.io/{prefix}"
    return prefix, image


def is_registry(text: str) -> bool:
    return bool(re.fullmatch(_pattern("registry"), text))


def is_image_name(text: str) -> bool:
    return bool(re.fullmatch(_pattern("image_name"), text))


def is_image_ref(text: str) -> bool:
    from cigen import schema

    return bool(re.fullmatch(schema.schema()["$defs"]["imageRef"]["pattern"], text))


def _pattern(key: str) -> str:
    from cigen import schema

    return str(schema.schema()["properties"][key]["pattern"])
