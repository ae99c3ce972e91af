"""The rules that pick one value when several files state one, each conflict kept with the rule
that settled it. docs/pin-and-init.md tables the order."""

from __future__ import annotations

import re
from typing import Any

from cigen.init import images
from cigen.init.facts import Conflict, Fact, Seen

DEFAULT_OTP = "26.2.5"
OTP_RULE = ("an exact release (three numbers or more) comes before a line such as 26; then the "
            "Dockerfile's builder, .tool-versions, CircleCI, GitHub, Cloud Build, in that order")
OS_RULE = ("the package manager the Dockerfile's builder stage runs (apk: alpine; apt: debian) "
           "comes before its image's tag, and the Dockerfile before cloudbuild.yaml")
REGISTRY_RULE = ("where the CI files push, CircleCI first, then GitHub, then Cloud Build; a "
                 "variable ($PROJECT_ID) matches any path component")
_VARIABLE_PART = re.compile(r"\$\{\{[^}]*\}\}|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?")


def numbers(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in version.split("."))


def agrees(a: str, b: str) -> bool:
    """26 and 26.0.2 agree (one is a line the other is in); 26.0.2 and 26.2.5 do not."""
    x, y = numbers(a), numbers(b)
    return x[:len(y)] == y or y[:len(x)] == x


def otp(candidates: list[Seen], minimum: Seen | None, conflicts: list[Conflict]) -> Fact:
    if not candidates:
        return Fact(DEFAULT_OTP)
    exact = [c for c in candidates if len(numbers(c.value)) >= 3]
    chosen = (exact or candidates)[0]
    conflicts += [Conflict("erlang.otp", chosen, c, OTP_RULE) for c in _first_each(candidates)
                  if not agrees(c.value, chosen.value)]
    if minimum and numbers(chosen.value)[:len(numbers(minimum.value))] < numbers(minimum.value):
        conflicts.append(Conflict("erlang.otp", chosen, minimum, "rebar3 stops on an OTP older "
                                  "than minimum_otp_vsn; set erlang.otp to one it takes"))
    return chosen.fact()


def os(candidates: list[Seen], conflicts: list[Conflict]) -> Fact:
    if not candidates:
        return Fact(None)
    chosen = candidates[0]
    conflicts += [Conflict("image.os", chosen, c, OS_RULE) for c in _first_each(candidates)
                  if c.value != chosen.value]
    return chosen.fact()


def first(key: str, candidates: list[Seen], rule: str, conflicts: list[Conflict]) -> Fact:
    """The first candidate; every later one that says otherwise is a conflict."""
    if not candidates:
        return Fact(None)
    chosen = candidates[0]
    conflicts += [Conflict(key, chosen, c, rule) for c in _first_each(candidates)
                  if c.value != chosen.value]
    return chosen.fact()


def _first_each(candidates: list[Seen]) -> list[Seen]:
    """One candidate per value: a file that says 26 in three places conflicts once."""
    found: dict[Any, Seen] = {}
    for candidate in candidates:
        found.setdefault(candidate.value, candidate)
    return list(found.values())


def registry(pushes: list[Seen], name: str, conflicts: list[Conflict]) -> tuple[Fact, Fact]:
    """(registry, image_name) from the references the CI files push. A reference with a
    variable left in its registry part is not written as registry, but agrees with one it
    matches."""
    places = [(seen, found) for seen in pushes if (found := images.pushed_to(seen.value))]
    concrete = [(s, (r, i)) for s, (r, i) in places
                if not images.has_variable(r) and images.is_registry(r)]
    if not concrete:
        return Fact(None), Fact(None)
    chosen, (prefix, image) = concrete[0]
    keep = Seen(prefix, chosen.where, chosen.said)
    image_name = image if image != name and images.is_image_name(image) else None
    for seen, (other, _) in places:
        if not matches(other, prefix):
            conflicts.append(Conflict("registry", keep, Seen(other, seen.where, seen.said),
                                      REGISTRY_RULE))
    return keep.fact(), Fact(image_name, chosen.note if image_name else "")


def matches(pattern: str, value: str) -> bool:
    parts = _VARIABLE_PART.split(pattern)
    regex = "[^/]+".join(re.escape(part) for part in parts)
    return re.fullmatch(regex, value) is not None
