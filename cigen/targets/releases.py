"""erlang.matrix: the checks run on erlang.otp and on each further release. A target renders a
release's checks from the project as that release's checks see it (`for_release`)."""

from __future__ import annotations

from dataclasses import replace

from cigen.model import Project, Release


def for_release(project: Project, release: Release) -> Project:
    """The project with `release` in erlang.otp and erlang.rebar3 and no matrix: what its
    checks run with. The image is still erlang.otp's: only the checks change."""
    erlang = replace(project.erlang, otp=release.otp, rebar3=release.rebar3, matrix=())
    return replace(project, erlang=erlang)


def slug(otp: str) -> str:
    """26.2.5.21 -> 26-2-5-21: for names that allow no dots (CircleCI executor names)."""
    return otp.replace(".", "-")
