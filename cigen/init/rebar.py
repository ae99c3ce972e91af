"""What rebar.config says: releases, profiles, the checks it configures, the oldest OTP it
builds on, private dependencies."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cigen.erlterms import Atom, ErlangSyntaxError, consult, consult_strict
from cigen.errors import CigenError
from cigen.init.facts import Fact, Seen
from cigen.init.yamlfiles import read_text

FILE = "rebar.config"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ORG = re.compile(r"[a-z0-9][a-z0-9_-]*")  # as the schema's private.hex_organizations
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")  # as the schema's private.git_hosts
# git@host:path, or ssh://[user@]host[:port]/path
_SSH_URL = re.compile(r"(?:[\w.-]+@([^:/\s]+):(?!//)|ssh://(?:[^@/\s]+@)?([^:/\s]+))")


@dataclass(frozen=True)
class Release:
    name: Any
    vsn: Any
    where: str  # "the top-level relx section", "the prod profile's relx section"
    line: int


class Config:
    """rebar.config's terms, each with the line it starts on."""

    def __init__(self, terms: list[tuple[int, Any]]) -> None:
        self.terms = terms

    def get(self, key: str) -> Any:
        return next((term[1] for _, term in self.terms if term[0] == key), None)

    def line(self, key: str) -> int | None:
        return next((line for line, term in self.terms if term[0] == key), None)

    def seen(self, key: str, value: Any, said: str) -> Seen:
        line = self.line(key)
        return Seen(value, f"{FILE}:{line}" if line else FILE, said)

    def profiles(self) -> list[tuple[Any, Any]]:
        return list(pairs(self.get("profiles")))


def read(path: Path) -> Config:
    """rebar.config, read as rebar3 reads it (rebar_config:consult_file/1 in rebar3's source:
    file:consult/1, then every term must be {Key, Value}); the first term it would refuse is
    an error at its line, so that init never guesses from half a file."""
    try:
        terms = consult_strict(read_text(path.parent, path.name) or "")
    except ErlangSyntaxError as e:
        raise CigenError(f"{path}:{e.line}: {e.message}") from None
    for line, term in terms:
        if not (isinstance(term, tuple) and len(term) == 2):
            raise CigenError(f"{path}:{line}: not a {{Key, Value}} pair, which rebar3 requires "
                             "of each term in rebar.config")
    return Config(terms)


def get(terms: Any, key: str) -> Any:
    for term in terms if isinstance(terms, list) else ():
        if isinstance(term, tuple) and len(term) == 2 and term[0] == key:
            return term[1]
    return None


def pairs(terms: Any) -> Iterator[tuple[Any, Any]]:
    for term in terms if isinstance(terms, list) else ():
        if isinstance(term, tuple) and len(term) == 2:
            yield term[0], term[1]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# Releases and the name --------------------------------------------------------------------

def releases(config: Config) -> list[Release]:
    """Each relx release: the top-level relx section's, then each profile's. The first is the
    one init names: relx builds the release it is told to, and with several names it needs
    telling (relx.erl's pick_release refuses to choose)."""
    sections = [("the top-level relx section", config.get("relx"), config.line("relx"))] + [
        (f"the {profile} profile's relx section", get(opts, "relx"), config.line("profiles"))
        for profile, opts in config.profiles()
    ]
    return [
        Release(entry[1][0], entry[1][1], where, line or 0)
        for where, section, line in sections
        for entry in _list(section)
        if isinstance(entry, tuple) and len(entry) >= 3 and entry[0] == "release"
        and isinstance(entry[1], tuple) and len(entry[1]) == 2
    ]


def name(found: list[Release], apps: tuple[str, ...], root: Path) -> Fact:
    """The first release's name; one cigen cannot take (not an atom of lowercase letters,
    digits and _, as the image's /opt/<name> and bin/<name> need) stops init at its line."""
    named = [r for r in found if isinstance(r.name, str)]
    if named:
        first = named[0]
        if not _NAME.match(first.name):
            raise CigenError(f"{root / FILE}:{first.line}: the relx release {first.name!r} is no "
                             "name cigen takes (lowercase letters, digits and _, starting with "
                             "a letter: the image runs /opt/<name>/bin/<name>); rename it")
        others = list(dict.fromkeys(str(r.name) for r in named if r.name != first.name))
        also = f", the first in {first.where}; also: {', '.join(others)}" if others else ""
        return Fact(str(first.name), f"{FILE}:{first.line} relx release {first.name}{also}")
    if len(apps) == 1:
        return Fact(atom_name(apps[0]), f"the only application, {apps[0]} (no relx release found)")
    return Fact(atom_name(root.resolve().name), "")


def atom_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    name = re.sub(r"^[0-9_]+", "", name)
    return name if _NAME.match(name) else "app"


def from_git(release: Release | None, app_srcs: list[Path]) -> Fact:
    if release is not None and _vsn_from_git(release.vsn):
        return Fact(True, f"{FILE}:{release.line} relx release version {_show(release.vsn)}")
    for path in app_srcs:  # an app's {vsn, git} runs git too, whatever the release says
        for term in consult(read_text(path.parent, path.name) or ""):
            if isinstance(term, tuple) and len(term) == 3 and _vsn_from_git(get(term[2], "vsn")):
                return Fact(True, f"{path.name}: {{vsn, git}}")
    if release is not None and isinstance(release.vsn, str) and not isinstance(release.vsn, Atom):
        return Fact(False, f'{FILE}:{release.line} relx release version "{release.vsn}"')
    return Fact(None)


def _vsn_from_git(vsn: Any) -> bool:
    head = vsn[0] if isinstance(vsn, tuple) and vsn else vsn
    if isinstance(head, Atom) and head in ("git", "semver"):
        return True
    return head == "cmd" and isinstance(vsn, tuple) and len(vsn) > 1 and "git" in str(vsn[1])


def _show(term: Any) -> str:
    if isinstance(term, tuple):
        return "{" + ", ".join(_show(t) for t in term) + "}"
    return f'"{term}"' if isinstance(term, str) and not isinstance(term, Atom) else str(term)


# Checks and versions ----------------------------------------------------------------------

def minimum_otp(config: Config) -> Seen | None:
    """{minimum_otp_vsn, "21.0"}: rebar3 stops on an older OTP (rebar3.erl reads it)."""
    value = config.get("minimum_otp_vsn")
    if isinstance(value, str) and not isinstance(value, Atom) and re.fullmatch(r"[0-9.]+", value):
        return config.seen("minimum_otp_vsn", value, f'{{minimum_otp_vsn, "{value}"}}')
    return None


def checks(config: Config) -> list[Seen]:
    """The checks rebar.config configures (keys from rebar3's rebar.config.sample):
    xref_checks, a dialyzer section, cover_enabled (top level or the test profile)."""
    found = []
    if config.get("xref_checks") is not None:
        found.append(config.seen("xref_checks", "xref", "xref_checks"))
    if config.get("dialyzer") is not None:
        found.append(config.seen("dialyzer", "dialyzer", "{dialyzer, ...}"))
    test = get(dict(config.profiles()).get("test"), "cover_enabled")
    if config.get("cover_enabled") == "true":
        found.append(config.seen("cover_enabled", "cover", "{cover_enabled, true}"))
    elif test == "true":
        found.append(config.seen("profiles", "cover", "test profile {cover_enabled, true}"))
    return found


def profile(config: Config) -> Seen | None:
    """The profile of the release build when it is not prod: the one profile with a relx
    section, when there is no prod profile."""
    profiles = config.profiles()
    if not profiles or any(p == "prod" for p, _ in profiles):
        return None
    with_relx = [str(p) for p, opts in profiles if get(opts, "relx") is not None]
    if len(with_relx) != 1 or not _NAME.match(with_relx[0]):
        return None
    return config.seen("profiles", with_relx[0], f"the {with_relx[0]} profile has a relx section "
                       "and there is no prod profile")


# Private dependencies ---------------------------------------------------------------------

def private(config: Config) -> Fact:
    """Hex organisations (hex repos named hexpm:<org>) and the hosts of git dependencies
    fetched over SSH (git@host: or ssh:// URLs), from rebar.config and its profiles."""
    organizations = [n.split(":", 1)[1] for repo in _list(get(config.get("hex"), "repos"))
                     if isinstance(repo, dict) and isinstance(n := repo.get("name"), str)
                     and n.startswith("hexpm:") and _ORG.fullmatch(n.split(":", 1)[1])]
    sections = [config.get("deps")] + [get(opts, "deps") for _, opts in config.profiles()]
    hosts = [host for deps in sections for dep in _list(deps)
             if (host := _ssh_host(dep)) is not None]
    found = (tuple(dict.fromkeys(organizations)), tuple(dict.fromkeys(hosts)))
    said = [f"hex repos hexpm:{o}" for o in found[0]] + [f"git deps over SSH on {h}"
                                                         for h in found[1]]
    return Fact(found, f"{FILE}: {', '.join(said)}" if said else "")


def _ssh_host(dep: Any) -> str | None:
    source = dep[1] if isinstance(dep, tuple) and len(dep) >= 2 else None
    if not (isinstance(source, tuple) and len(source) >= 2 and source[0] in ("git", "git_subdir")
            and isinstance(source[1], str)):
        return None
    found = _SSH_URL.match(source[1])
    host = (found.group(1) or found.group(2)) if found else None
    return host if host and _HOST.fullmatch(host) else None
