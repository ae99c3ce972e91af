"""What the checks need, from what the CI files run and rebar.config configures: the checks,
the rebar3 release, their environment, the services they run with, the set-up before them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cigen.init import choose, rebar, shell
from cigen.init.facts import Conflict, Fact, Said, Seen, every

DEFAULT_CHECKS = ("xref", "dialyzer", "ct")  # the schema's erlang.checks default
_CHECK_RULE = ("what the CI files run now comes before what rebar.config configures and the "
               "tests that exist")


def checks(root: Path, config: rebar.Config, said: list[Said],
           conflicts: list[Conflict]) -> Fact:
    run: dict[str, Seen] = {}
    for seen in every(said, "checks"):
        run.setdefault(seen.value, seen)
    configured = rebar.checks(config)
    suites, eunit = _tests(root, "*_SUITE.erl"), _tests(root, "*_tests.erl")
    if run:
        configured += [Seen(check, path, f"{check} tests") for check, path in
                       (("eunit", eunit), ("ct", suites)) if path]
        chosen = tuple(c for c in shell.CHECKS if c in run)
        summary = Seen(chosen, "the CI files")
        conflicts += [Conflict("erlang.checks", summary, Seen(s.value, s.where, s.said),
                               _CHECK_RULE) for s in configured if s.value not in run]
        return Fact(chosen, "what the CI files run: " + ", ".join(
            f"{c} ({run[c].where})" for c in chosen))
    found = {"xref": "cigen's default", "dialyzer": "cigen's default"}
    found.update({s.value: s.where for s in configured})
    if eunit:
        found["eunit"] = eunit
    if suites:
        found["ct"] = suites
    chosen = tuple(c for c in shell.CHECKS if c in found)
    return Fact(chosen, "no CI file runs rebar3; " + ", ".join(
        f"{c} ({found[c]})" for c in chosen))


def _tests(root: Path, pattern: str) -> str:
    for folder in ("test", "apps/*/test"):
        for path in sorted(root.glob(f"{folder}/**/{pattern}"))[:1]:
            return path.relative_to(root).as_posix()
    return ""


def env(found: list[Seen], notes: list[str], conflicts: list[Conflict]) -> Fact:
    """erlang.env: the environment of CircleCI's erlang images (ERL_FLAGS: "+S 2"), where it
    is plain text cigen may write."""
    from cigen.init.yamlfiles import text
    from cigen.targets.environment import looks_secret

    chosen: dict[str, Seen] = {}
    for seen in found:
        key, value = str(seen.value[0]), text(seen.value[1])
        if key in chosen:
            if chosen[key].value[1] != seen.value[1]:
                conflicts.append(Conflict(f"erlang.env {key}", chosen[key], seen, "the first "
                                          "executor in the file"))
        elif value is None or "$" in value or looks_secret(key) or \
                not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            notes.append(f"{seen.where}: {key} is a secret, a reference or no text; not "
                         "carried over to erlang.env")
        else:
            chosen[key] = Seen((key, value), seen.where, seen.said)
    return Fact({k: s.value[1] for k, s in chosen.items()},
                ", ".join(f"{k}: {s.where}" for k, s in chosen.items()))


def rebar3(candidates: list[Seen], otp: Fact, notes: list[str],
           conflicts: list[Conflict]) -> Fact:
    from cigen import compat

    fitting = []
    for seen in candidates:
        refusal = compat.rebar3_refusal(seen.value, otp.value)
        if refusal:
            notes.append(f"{seen.note}: rebar3 {seen.value} is not written: {refusal}")
        else:
            fitting.append(seen)
    return choose.first("erlang.rebar3", fitting, "the first of .tool-versions, then GitHub's "
                        "setup-beam", conflicts)


def services(root: Path, said: list[Said], checks: tuple[str, ...], github: bool,
             warnings: list[str], notes: list[str], conflicts: list[Conflict]) -> Fact:
    """erlang.services: CircleCI's and GitHub's service containers, then the compose files';
    `github`: the GitHub workflow will be rendered."""
    from cigen.init import compose
    from cigen.init import services as containers

    declared = [*said[0].services, *said[1].services]
    for rel in compose.files(root, every(said, "compose")):
        declared += compose.read(root, rel, warnings, notes)
    entries, sources = containers.choose(declared, notes, conflicts, github)
    if entries and not {"eunit", "ct"} & set(checks):
        notes.append("services " + ", ".join(e["name"] for e in entries) + " are not "
                     "written: only eunit and ct run with services, and neither is a check")
        return Fact(())
    return Fact(tuple(entries), "; ".join(sources))


def setup(circleci: Said, checks: tuple[str, ...]) -> Fact:
    found: dict[str, list[dict[str, Any]]] = {}
    for check, step, _ in circleci.setup:
        if check in checks:
            found.setdefault(check, []).append(step)
    wheres = [seen.where for check, _, seen in circleci.setup if check in found]
    return Fact(found, "pre-steps of the rebar3 orb jobs: " + ", ".join(wheres) if found else "")
