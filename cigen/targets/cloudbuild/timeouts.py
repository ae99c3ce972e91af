"""erlang.timeouts on Cloud Build: a time limit on each rebar3 check step the user named, and
whether the longest run of such limits fits in the build's own timeout.

googleapis/googleapis google/devtools/cloudbuild/v1/cloudbuild.proto: BuildStep.timeout is the
step's time limit; "If not defined, the step has no time limit and will be allowed to continue
to run until either it completes or the build itself times out". Build.timeout counts from the
build's start, "Default time is 60 minutes". Both are Durations, written in seconds ("5400s").
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from cigen.core import Problem
from cigen.model import Project
from cigen.targets.cloudbuild import substitutions as subst

DEFAULT_BUILD_SECONDS = 60 * 60  # Build.timeout's default


def step_timeout(project: Project, check: str) -> dict[str, str]:
    """The `timeout` of the step that runs `check`: only for a check erlang.timeouts names (the
    others run until the build's timeout stops them, as before; CircleCI too writes only the
    limits asked for)."""
    minutes = project.erlang.timeouts.get(check)
    return {"timeout": f"{minutes * 60}s"} if minutes else {}


def longest_chain(steps: Sequence[dict[str, Any]]) -> tuple[int, list[str]]:
    """The most seconds of step limits that one chain of waitFor adds up, and the limited steps
    on it. A step starts when the steps in its waitFor end; with no waitFor, when every earlier
    step ends; with waitFor ["-"], at the build's start (BuildStep.wait_for in the proto).
    Steps without a timeout count as no time: cigen cannot know how long they take."""
    ends: list[tuple[int, list[str]]] = []
    by_id: dict[str, tuple[int, list[str]]] = {}
    for step in steps:
        waits = step.get("waitFor")
        if waits is None:
            before = ends
        else:
            before = [by_id[w] for w in waits if w in by_id]
        start = max(before, key=lambda end: end[0], default=(0, []))
        own = _seconds(step.get("timeout"))
        end = (start[0] + own, [*start[1], step.get("id", "?")] if own else start[1])
        ends.append(end)
        if "id" in step:
            by_id[step["id"]] = end
    return max(ends, key=lambda end: end[0], default=(0, []))


def _seconds(duration: str | None) -> int:
    return int(float(duration.removesuffix("s"))) if duration else 0


def problems(project: Project, steps: Sequence[dict[str, Any]]) -> Iterator[Problem]:
    """The check limits cannot all be reached when one chain of them takes the build's whole
    timeout: the build stops first. cigen does not raise the build's timeout by itself: compile,
    the setup steps and the image build take time it cannot know; the user picks it."""
    total, chain = longest_chain(steps)
    cb = project.cloudbuild
    build = subst.seconds(cb.timeout) if cb.timeout else DEFAULT_BUILD_SECONDS
    if not chain or total < build:
        return
    timeouts = project.erlang.timeouts
    # erlang.otp's check steps are named for their checks; a matrix release's (suffixed ids)
    # carry the same limits, so a chain of theirs ties with erlang.otp's, which comes first
    on_chain = [c for c in chain if c in timeouts]
    where = max(on_chain or timeouts, key=lambda c: timeouts[c])
    limit = f"cloudbuild.timeout, {cb.timeout}" if cb.timeout else "Cloud Build's default, 60m"
    minutes = total // 60
    yield Problem(("erlang", "timeouts", where), (
        f"on Cloud Build, {' then '.join(chain)} may take {minutes} minutes, and the build's "
        f"timeout ({limit}) would stop the build first; set cloudbuild.timeout above "
        f"{minutes}m, leaving time for compile and the image build"))
