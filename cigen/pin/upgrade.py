"""`cigen pin --upgrade`: OTP, rebar3 and versioned image tags move to the newest patch of
their line, and only to versions that every CI installing them can install.

A line is a version's first two numbers: OTP 26.2.1 moves within 26.2 (say to 26.2.5.16),
rebar3 3.22.0 within 3.22, `erlang:26.2.1-alpine` to the newest 26.2 tag that ends in `-alpine`.
A version of fewer than three numbers names a line already (`erlang:26`, `alpine:3.24`): it
floats, and `pin` fixes it by digest.

Where versions come from is where the CIs install them from:
- OTP: the tags of the official erlang image (the builder, and the checks on CircleCI and Cloud
  Build), and, when the GitHub workflow installs OTP with setup-beam, the builds.hex.pm list
  setup-beam reads for the runner (erlef/setup-beam, src/setup-beam.js, getOTPVersions: Linux
  reads /builds/otp/<arch>/<os>/builds.txt, one `OTP-<version> <commit> <date>` per line);
- rebar3: erlang/rebar3's GitHub releases, the list setup-beam reads (getRebar3Versions) and the
  place cigen's own download fetches from;
- an image tag: the tags its own repository lists.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from cigen import compat, refs
from cigen.errors import RemoteError
from cigen.model import Project
from cigen.pin.sites import Key, Site
from cigen.refs import ImageRef
from cigen.remote import Client, get_ok, json_body

HEXPM = "https://builds.hex.pm"
GITHUB_API = "https://api.github.com"
ERLANG_IMAGE = "erlang"  # Docker Hub's official image
_VERSIONED = re.compile(r"(v?)([0-9]+(?:\.[0-9]+)*)(.*)")
_RELEASE = re.compile(r"[0-9]+(?:\.[0-9]+){2,}")  # an OTP release tag: 26.2.5.16, no suffix
_RUNNER_LABEL = re.compile(r"(ubuntu-[0-9]+\.[0-9]+)(-arm)?")
_REBAR3_PAGES = 3  # as setup-beam: 300 releases reach back years


class Move(NamedTuple):
    key: Key
    old: str
    new: str
    at: tuple[int, int]
    source: str  # where the new version was found

    @property
    def dotted(self) -> str:
        return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in self.key)[1:]


def _split(text: str) -> tuple[str, tuple[int, ...], str] | None:
    """"v1.23.2-debug" -> ("v", (1, 23, 2), "-debug"); None unless three numbers or more."""
    found = _VERSIONED.fullmatch(text)
    if not found:
        return None
    numbers = tuple(int(n) for n in found.group(2).split("."))
    return (found.group(1), numbers, found.group(3)) if len(numbers) >= 3 else None


def newest_patch(current: str, available: Iterable[str]) -> str | None:
    """The newest of `available` in `current`'s line (same prefix, first two numbers and
    suffix) that is newer than `current`; None when there is none."""
    mine = _split(current)
    if mine is None:
        return None
    prefix, numbers, suffix = mine
    best: tuple[tuple[int, ...], str] | None = None
    for text in available:
        theirs = _split(text)
        if theirs is None or (theirs[0], theirs[1][:2], theirs[2]) != (prefix, numbers[:2], suffix):
            continue
        if theirs[1] > numbers and (best is None or theirs[1] > best[0]):
            best = (theirs[1], text)
    return best[1] if best else None


class Sources:
    """The version lists, fetched once each. Endpoints are parameters so tests use loopback."""

    def __init__(
        self,
        client: Client,
        image_tags: Callable[[ImageRef], list[str]],
        token: str | None = None,
        hexpm: str = HEXPM,
        github_api: str = GITHUB_API,
        erlang_image: str = ERLANG_IMAGE,
    ) -> None:
        self.client, self._image_tags, self.token = client, image_tags, token
        self.hexpm, self.github_api, self.erlang_image = hexpm, github_api, erlang_image
        self._memo: dict[str, Any] = {}

    def _once(self, key: str, fetch: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = fetch()
        return self._memo[key]

    def tags(self, ref: ImageRef) -> list[str]:
        return list(self._once(f"tags {ref.domain}/{ref.path}", lambda: self._image_tags(ref)))

    def erlang_tags(self) -> set[str]:
        return set(self.tags(refs.parse(self.erlang_image)))

    def otp_builds(self, label: str) -> set[str] | None:
        """The OTP versions setup-beam can install on a runner label; None for a label that
        names no Ubuntu release (self-hosted, ubuntu-latest): the list is not known."""
        found = _RUNNER_LABEL.fullmatch(label)
        if not found:
            return None
        arch = "arm64" if found.group(2) else "amd64"
        url = f"{self.hexpm}/builds/otp/{arch}/{found.group(1)}/builds.txt"
        return set(self._once(url, lambda: _builds(self.client, url)))

    def rebar3_releases(self) -> list[str]:
        return list(self._once("rebar3", lambda: _releases(self.client, self.github_api,
                                                            self.token)))


def _builds(client: Client, url: str) -> list[str]:
    reply = get_ok(client, url, {}, f"setup-beam's OTP list {url}")
    words = (line.split(" ", 1)[0] for line in reply.content.decode("utf-8", "replace").split("\n"))
    return [word[4:] for word in words if word.startswith("OTP-")]


def _releases(client: Client, api: str, token: str | None) -> list[str]:
    what = "erlang/rebar3 releases"
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    found: list[str] = []
    for page in range(1, _REBAR3_PAGES + 1):
        url = f"{api}/repos/erlang/rebar3/releases?per_page=100&page={page}"
        body = json_body(what, get_ok(client, url, headers, what))
        if not isinstance(body, list) or not all(isinstance(r, dict) for r in body):
            raise RemoteError(f"{what}: the GitHub API answer is not a list of releases")
        found += [str(r.get("tag_name")) for r in body
                  if not r.get("draft") and not r.get("prerelease")]
        if len(body) < 100:
            break
    return found


def moves(project: Project, tree: Any, images: list[Site], sources: Sources,
          setup_beam: str | None, matrix_setup_beam: Sequence[str | None] = ()) -> list[Move]:
    """Every value written in the descriptor that has a newer patch; `setup_beam` is the runner
    label when the GitHub workflow installs OTP with setup-beam, `matrix_setup_beam` the same
    for each erlang.matrix release. RemoteError when a list cannot be read."""
    erlang = tree.get("erlang") or {}
    found: list[Move] = []
    otp = _otp_move(project, erlang, sources, setup_beam)
    if otp:
        found.append(otp)
    matrix = _matrix_moves(erlang, sources, matrix_setup_beam)
    found += [m for m in matrix if m is not None]
    releases = [otp.new if otp else project.erlang.otp,
                *(m.new if m else r.otp for m, r in zip(matrix, project.erlang.matrix,
                                                           strict=False))]
    rebar3 = _rebar3_move(erlang, releases, sources)
    if rebar3:
        found.append(rebar3)
    for site in images:
        if site.at is None or site.ref.tag is None or _split(site.ref.tag) is None:
            continue
        tag = _image_move(site.ref, erlang.get("otp"), otp, sources)
        if tag:
            found.append(Move(site.key, site.text, f"{site.ref.name}:{tag}", site.at,
                              f"tags of {site.ref.domain}/{site.ref.path}"))
    return found


def _image_move(ref: ImageRef, written_otp: Any, otp: Move | None,
                sources: Sources) -> str | None:
    """The tag an image moves to. One tagged with the OTP release (erlang:26.2.1-alpine with
    otp 26.2.1) moves with OTP, and only then, so that builder and checks stay on one release;
    any other moves to the newest patch its repository lists."""
    found = _VERSIONED.fullmatch(ref.tag or "")
    if found and not found.group(1) and found.group(2) == written_otp:
        moved = otp.new + found.group(3) if otp else None
        return moved if moved and moved in sources.tags(ref) else None
    return newest_patch(ref.tag or "", sources.tags(ref))


def _seq_at(sequence: Any, index: int) -> tuple[int, int]:
    line, col = sequence.lc.item(index)
    return int(line), int(col)


def _at(mapping: Any, key: str) -> tuple[int, int]:
    line, col = mapping.lc.value(key)
    return int(line), int(col)


def _otp_move(project: Project, erlang: Any, sources: Sources,
              setup_beam: str | None) -> Move | None:
    if not isinstance(erlang.get("otp"), str) or _split(erlang["otp"]) is None:
        return None
    # the default builder erlang:<otp>-alpine moves with OTP (a library has none)
    alpine = "base" in project.image.defaulted and project.image.os == "alpine" \
        and not project.library
    new, where = _newest_otp(erlang["otp"], sources, alpine, setup_beam)
    return Move(("erlang", "otp"), erlang["otp"], new, _at(erlang, "otp"), where) if new else None


def _matrix_moves(erlang: Any, sources: Sources, setup_beam: Sequence[str | None]
                  ) -> list[Move | None]:
    """erlang.matrix releases move as erlang.otp does, to what the checks can install: the
    plain erlang image (CircleCI, Cloud Build) and setup-beam's builds where GitHub uses it.
    No -alpine tag is needed: the image is built with erlang.otp only."""
    matrix = erlang.get("matrix")
    if not isinstance(matrix, list):
        return []
    found: list[Move | None] = []
    for i, (current, label) in enumerate(zip(matrix, setup_beam, strict=False)):
        new, where = (_newest_otp(current, sources, False, label)
                      if isinstance(current, str) and _split(current) else (None, ""))
        line, col = _seq_at(matrix, i)
        found.append(Move(("erlang", "matrix", i), current, new, (line, col), where)
                     if new else None)
    return found


def _newest_otp(current: str, sources: Sources, alpine: bool, setup_beam: str | None
                ) -> tuple[str | None, str]:
    """The newest patch of `current`'s line in the erlang image's tags (-alpine ones too with
    `alpine`) and setup-beam's builds for the runner label `setup_beam`; where it was found."""
    tags = sources.erlang_tags()
    candidates = {t for t in tags if _RELEASE.fullmatch(t)}
    where = f"tags of the {sources.erlang_image} image"
    if alpine:
        candidates = {t for t in candidates if f"{t}-alpine" in tags}
        where += " (plain and -alpine)"
    if setup_beam:
        builds = sources.otp_builds(setup_beam)
        if builds is not None:
            candidates &= builds
            where += f" and setup-beam's {setup_beam} builds"
    return newest_patch(current, candidates), where


def _rebar3_move(erlang: Any, otps: list[str], sources: Sources) -> Move | None:
    """rebar3's newest patch that supports every release the checks run on."""
    current = erlang.get("rebar3")
    if not isinstance(current, str) or _split(current) is None:
        return None
    fitting = [r for r in sources.rebar3_releases()
               if all(compat.rebar3_refusal(r, otp) is None for otp in otps)]
    new = newest_patch(current, fitting)
    return Move(("erlang", "rebar3"), current, new, _at(erlang, "rebar3"),
                f"erlang/rebar3 releases that support OTP {', '.join(otps)}") if new else None
