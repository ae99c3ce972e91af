"""The keys `cigen init` writes from the CI, compose and rebar3 files: the erlang toolchain and
checks, the services and set-up of the checks, where Cloud Build pushes, the image name. Each
is written only when it differs from the schema's default, with its source beside or above it."""

from __future__ import annotations

import textwrap
from typing import Any

from cigen.init.facts import Fact
from cigen.init.infer import BRANCH, DEFAULT_CHECKS, Findings

DEFAULT_BRANCH = "main"  # the schema's publish.branches default
_WIDTH = 96


def publish_branch(found: Findings) -> Fact:
    """The branch that publishes: the default branch found, when the schema takes its name."""
    if found.branch.value is None or not BRANCH.match(found.branch.value):
        return Fact(DEFAULT_BRANCH)
    return found.branch


def erlang(found: Findings, node: Any) -> None:
    """erlang.rebar3, release_profile, checks, services and setup, into the erlang mapping."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    if found.rebar3.value:
        put(node, "rebar3", Fact(DoubleQuotedScalarString(found.rebar3.value),
                                 found.rebar3.source), 2)
    if found.release_profile.value:
        put(node, "release_profile", found.release_profile, 2)
    if found.env.value:
        block(node, "env", dict(found.env.value), "env: " + found.env.source, 2)
    if tuple(found.checks.value) != DEFAULT_CHECKS:
        block(node, "checks", list(found.checks.value), found.checks.source, 2)
    if found.services.value:
        block(node, "services", [dict(s) for s in found.services.value],
              "services: " + found.services.source, 2)
    if found.setup.value:
        block(node, "setup", {k: list(v) for k, v in found.setup.value.items()},
              found.setup.source, 2)


def publish_after(found: Findings) -> Fact:
    """publish.after when ct, its default, is not a check: eunit when it is one, else every
    check (the image job must wait for checks that run)."""
    checks = list(found.checks.value)
    if "ct" in checks:
        return Fact(None)
    if "eunit" in checks:
        return Fact(["eunit"], "ct is not a check: the image waits for eunit")
    return Fact(checks, "ct is not a check: the image waits for every check")


def put(mapping: Any, key: str, fact: Fact, indent: int = 0) -> None:
    """`key: value  # source`; a source too long for the line goes above it."""
    from cigen.yamlio import dump

    mapping[key] = fact.value
    line = dump({key: fact.value}).splitlines()[0]
    if indent + len(line) + 4 + len(fact.source) <= _WIDTH + 30:
        mapping.yaml_add_eol_comment(fact.source, key, column=indent + len(line) + 2)
    else:
        above(mapping, key, fact.source, indent)


def block(mapping: Any, key: str, value: Any, source: str, indent: int = 0) -> None:
    mapping[key] = value
    above(mapping, key, source, indent)


def above(mapping: Any, key: str, source: str, indent: int = 0) -> None:
    lines = textwrap.wrap(source, _WIDTH - indent, break_on_hyphens=False,
                          break_long_words=False)
    mapping.yaml_set_comment_before_after_key(key, before="\n".join(lines), indent=indent)
