"""Combinations the compatibility table rules out, located at the descriptor key that chose them.

Every target refuses them: a pipeline that cannot install its OTP, a rebar3 that does not run on
it, or a runner whose OS release differs from the builder's (the release carries ERTS linked
against the builder's libc and OpenSSL) would pass every schema and still fail.
"""

from __future__ import annotations

from collections.abc import Iterator

from cigen import compat
from cigen.compat import OsRelease
from cigen.core import Problem
from cigen.model import Project, Release


def toolchain_problems(project: Project) -> Iterator[Problem]:
    """An OTP no rebar3 release supports, or a rebar3 the table rules out for the OTP."""
    erlang = project.erlang
    if erlang.rebar3 is None:
        yield Problem(("erlang", "otp"), f"no rebar3 release in cigen's table (as of "
                      f"{compat.as_of()}) supports OTP {erlang.otp}; set erlang.rebar3")
    else:
        refusal = compat.rebar3_refusal(erlang.rebar3, erlang.otp)
        if refusal:
            yield Problem(("erlang", "rebar3"), refusal)
    yield from matrix_problems(project)


def matrix_problems(project: Project) -> Iterator[Problem]:
    """Each erlang.matrix release obeys the table as erlang.otp does: a rebar3 that supports
    it, and an official erlang image to run the checks in (CircleCI, Cloud Build, and GitHub
    where setup-beam cannot install it)."""
    erlang = project.erlang
    for i, release in enumerate(erlang.matrix):
        where = ("erlang", "matrix", i)
        if release.rebar3 is None:
            yield Problem(where, f"no rebar3 release in cigen's table (as of {compat.as_of()}) "
                          f"supports OTP {release.otp}; remove it, or set erlang.rebar3")
        elif release.rebar3 not in compat.table()["rebar3"]["dont_use"] and \
                compat.rebar3_refusal(release.rebar3, release.otp):  # else said at rebar3
            yield Problem(where, _shared_rebar3(release.rebar3, release.otp, erlang.releases))
        if compat.erlang_release(release.otp, alpine=False) is None:
            yield Problem(where, f"cigen's table (as of {compat.as_of()}) knows no official "
                          f"erlang:{release.otp} image, which the checks of this release run "
                          "in; choose a release of an OTP line it lists (docs/compatibility.md)")


def _shared_rebar3(rebar3: str, otp: str, releases: tuple[Release, ...]) -> str:
    """Why erlang.rebar3 cannot serve the matrix release `otp`, and which one serves all."""
    otps = [r.otp for r in releases]
    row = compat.rebar3_row(rebar3)
    low, high = row[1] if row else (0, 0)
    fitting = [set(compat.rebar3_for(otp)) for otp in otps]
    common = [r for r in compat.rebar3_for(otps[0]) if all(r in f for f in fitting)]
    fix = (f"set it to {common[0]}, the newest rebar3 that supports OTP {', '.join(otps)}"
           if common else "no one rebar3 release supports them all: remove erlang.rebar3, "
           "and each release gets the newest rebar3 that supports it")
    return (f"erlang.rebar3 is {rebar3}, which supports OTP {low} to {high}, not "
            f"OTP {otp}; {fix}")


def image_problems(project: Project) -> Iterator[Problem]:
    """A runner cigen cannot choose, one of another OS release, or an unsupported default."""
    image = project.image
    if not image.generate:
        return  # the Dockerfile is the user's: its FROM lines are theirs to match
    base = compat.image_release(image.base)
    if image.runner is None:
        yield Problem(_base_key(project), f"cigen cannot tell the OS release of {image.base}; "
                      "set image.runner to an image of the same OS release")
        return
    runner = compat.image_release(image.runner)
    # A runner of the other OS family is reported by the Dockerfile's image.os check.
    if base and runner and base != runner and runner.family == image.os:
        yield Problem(("image", "runner"), f"is {runner}, but the builder {image.base} is "
                      f"{base}: the release runs only on its builder's OS release; use "
                      f"{base.runner} or an image built on it")
    if base and "runner" in image.defaulted:
        yield from _unsupported(project, base)


def _unsupported(project: Project, release: OsRelease) -> Iterator[Problem]:
    if compat.supported(release) is not False:
        return
    end, image = compat.end_of_support(release), project.image
    ended = f"ended on {end}" if end else "has ended"
    yield Problem(_base_key(project), f"{image.base} is built on {release}, whose support "
                  f"{ended} (as of {compat.as_of()}), so no supported runner fits it; "
                  "choose an OTP release whose image is built on a supported release, or set "
                  "image.base and image.runner")


def _base_key(project: Project) -> tuple[str, ...]:
    """Where the builder was chosen: image.base, or erlang.otp when base is the default."""
    return ("erlang", "otp") if "base" in project.image.defaulted else ("image", "base")
