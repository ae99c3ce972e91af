"""What exists and what fits: questions answered from the compatibility table.

The table (cigen/data/compat.json) holds facts about the world that no schema knows: which OTP
releases setup-beam can install on a runner, which OTP releases a rebar3 release supports, which
OS release each official erlang image is built on, and until when an OS release is supported.
Each section names its source and the date it was read; docs/compatibility.md explains them and
scripts/refresh_compat.py refreshes them. Everything here is pure: no clock, no network.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any, NamedTuple

Version = tuple[int, ...]

_VERSION = re.compile(r"\d+(\.\d+)*")
_CODENAME = re.compile(r"(?<![a-z])(jessie|stretch|buster|bullseye|bookworm|trixie)(?![a-z])")
_ALPINE_IN_TAG = re.compile(r"alpine-?(\d+\.\d+)")
_ALPINE_TAG = re.compile(r"(\d+\.\d+)(\.\d+)?")
_ERLANG_TAG = re.compile(r"(\d+(?:\.\d+)*)(-slim|-alpine)?")


class OsRelease(NamedTuple):
    family: str  # "debian" or "alpine"
    name: str  # a Debian codename ("bookworm") or an Alpine minor ("3.24")

    def __str__(self) -> str:
        return f"Debian {self.name}" if self.family == "debian" else f"Alpine {self.name}"

    @property
    def runner(self) -> str:
        """The smallest official image of this release: what a release needs and nothing more."""
        return f"debian:{self.name}-slim" if self.family == "debian" else f"alpine:{self.name}"


@functools.cache
def table() -> dict[str, Any]:
    text = resources.files("cigen.data").joinpath("compat.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def as_of() -> str:
    """The date the table's facts were read: support is judged on it, never on today's clock,
    so the same descriptor gives the same answer on any day."""
    return str(table()["as_of"])


def version(text: str) -> Version | None:
    """26.2.5 -> (26, 2, 5); None for anything else (a branch, a release candidate)."""
    return tuple(int(p) for p in text.split(".")) if _VERSION.fullmatch(text) else None


def is_exact(otp: str) -> bool:
    """Whether an OTP version names one release (major.minor.patch or longer), not a line."""
    parsed = version(otp)
    return parsed is not None and len(parsed) >= 3


def _at_least(prefix: Version, first: Version) -> bool:
    """Whether the newest release that starts with `prefix` is `first` or later: a tag such as
    erlang:26.2 is the newest 26.2.x, and setup-beam's loose 26.2 the same."""
    return prefix >= first[:len(prefix)]


# rebar3 -------------------------------------------------------------------------------------

def _rebar3_rows() -> list[tuple[Version, str, tuple[int, int]]]:
    rows = table()["rebar3"]["releases"].items()
    return sorted(((version(v) or (), v, (lo, hi)) for v, (lo, hi) in rows), reverse=True)


def rebar3_row(rebar3: str) -> tuple[str, tuple[int, int]] | None:
    """The table's row for a rebar3 release: its own, else the newest listed release before it
    (the README lists some releases of each range, not all)."""
    wanted = version(rebar3)
    if wanted is None:
        return None
    return next(((name, otp) for listed, name, otp in _rebar3_rows() if listed <= wanted), None)


def rebar3_range(rebar3: str) -> tuple[int, int] | None:
    """The OTP majors a rebar3 release supports, as far as the table tells."""
    row = rebar3_row(rebar3)
    return row[1] if row else None


def rebar3_for(otp: str) -> tuple[str, ...]:
    """The listed rebar3 releases that support an OTP release, newest first."""
    major = (version(otp) or (0,))[0]
    return tuple(name for _, name, (lo, hi) in _rebar3_rows() if lo <= major <= hi)


def newest_rebar3(otp: str) -> str | None:
    return next(iter(rebar3_for(otp)), None)


def rebar3_refusal(rebar3: str, otp: str) -> str | None:
    """Why a rebar3 release cannot serve an OTP release, with the fix; None if it can."""
    fix = newest_rebar3(otp)
    use = f"use {fix}, the newest rebar3 that supports OTP {otp}" if fix else \
        f"no rebar3 release in cigen's table supports OTP {otp}"
    if rebar3 in table()["rebar3"]["dont_use"]:
        return f"rebar3's README says not to use {rebar3}; {use}"
    row, major = rebar3_row(rebar3), (version(otp) or (0,))[0]
    if row is None or row[1][0] <= major <= row[1][1]:
        return None
    (lo, hi), listed = row[1], "" if row[0] == rebar3 else f" (as {row[0]}, the release before it)"
    return f"rebar3 {rebar3} supports OTP {lo} to {hi}{listed}, not {otp}; {use}"


# setup-beam ---------------------------------------------------------------------------------

def setup_beam_range(label: str) -> tuple[str, str] | None:
    """The OTP releases setup-beam installs on a GitHub runner label; None for labels it does
    not list (self-hosted, or a label the table does not know)."""
    found = table()["setup_beam"]["runners"].get(label)
    return (found[0], found[1]) if found else None


def setup_beam_installs(label: str, otp: str) -> bool | None:
    """Whether setup-beam can install `otp` on `label`; None when the table cannot tell."""
    found, wanted = setup_beam_range(label), version(otp)
    if found is None or wanted is None:
        return None
    low, high = (version(v) or () for v in found)
    return _at_least(wanted, low) and wanted[:1] <= high


def setup_beam_runners(otp: str) -> tuple[str, ...]:
    """The runner labels on which setup-beam can install `otp`."""
    return tuple(label for label in table()["setup_beam"]["runners"]
                 if setup_beam_installs(label, otp))


# images and OS releases ---------------------------------------------------------------------

def erlang_release(otp: str, alpine: bool) -> OsRelease | None:
    """The OS release of the official erlang:<otp> (or -alpine) image."""
    wanted = version(otp)
    runs = table()["erlang_images"]["alpine" if alpine else "debian"].get(str((wanted or (0,))[0]))
    if wanted is None or runs is None:
        return None
    names = [name for first, name in runs if _at_least(wanted, version(first) or ())]
    return OsRelease("alpine" if alpine else "debian", names[-1]) if names else None


def image_release(ref: str) -> OsRelease | None:
    """The OS release an image is built on, when cigen can know it: an official erlang, debian
    or alpine image (or a mirror of one under the same name and tag), or a Debian codename or
    an Alpine version in the tag. None when it cannot."""
    name, _, tag = ref.split("@", 1)[0].rpartition(":")
    if not name or "/" in tag:
        return None
    repo = name.rsplit("/", 1)[-1]
    official = _official_release(repo, tag)
    return official or _tagged_release(tag.lower())


def _official_release(repo: str, tag: str) -> OsRelease | None:
    if repo == "erlang":
        match = _ERLANG_TAG.fullmatch(tag)
        return erlang_release(match.group(1), match.group(2) == "-alpine") if match else None
    if repo == "alpine":
        match = _ALPINE_TAG.fullmatch(tag)
        return OsRelease("alpine", match.group(1)) if match else None
    if repo == "debian":
        numbers = {v: k for k, v in table()["os_support"]["debian_versions"].items()}
        number = tag.split("-", 1)[0].split(".", 1)[0]
        return OsRelease("debian", numbers[number]) if number in numbers else None
    return None


def _tagged_release(tag: str) -> OsRelease | None:
    codename = _CODENAME.search(tag)
    if codename:
        return OsRelease("debian", codename.group(1))
    alpine = _ALPINE_IN_TAG.search(tag)
    return OsRelease("alpine", alpine.group(1)) if alpine else None


def end_of_support(release: OsRelease) -> str | None:
    """The last supported day of an OS release (ISO date), if the table has it."""
    found = table()["os_support"][release.family].get(release.name)
    return str(found) if found else None


def supported(release: OsRelease) -> bool | None:
    """Whether an OS release is still supported on the table's date; None if unknown. A
    release older than every listed one is past its end when the oldest listed is."""
    end = end_of_support(release)
    if end is None:
        listed = sorted(table()["os_support"][release.family].items(), key=_release_order)
        older = listed and _release_order((release.name, "")) < _release_order(listed[0])
        return False if older and listed[0][1] < as_of() else None
    return end >= as_of()


def _release_order(item: tuple[str, str]) -> Version:
    """Alpine releases by number; Debian codenames by their version in the table."""
    name = table()["os_support"]["debian_versions"].get(item[0], item[0])
    return version(name) or (0,)
