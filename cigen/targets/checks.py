"""The checks as every CI runs them: which of them share a job, and the command each runs.

Every check is its own job, except that with `cover` the checks it reports on (eunit, ct) and
`cover` itself share one: `rebar3 cover` reads the coverdata they leave in _build/test, and they
leave it only when run with `--cover`.
"""

from __future__ import annotations

from cigen.core import Problem

COVERED = ("eunit", "ct")  # checks whose coverage `rebar3 cover` reports


def groups(checks: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Job id -> the checks it runs, in order; a merged coverage job is named after ct (else
    eunit), the check it mostly runs, and runs `cover` last, whatever order the checks are
    listed in: it reports what the others recorded."""
    covered = tuple(c for c in (*COVERED, "cover") if c in checks)
    merge = "cover" in covered and len(covered) > 1
    merged_id = "ct" if "ct" in covered else "eunit"
    out: dict[str, tuple[str, ...]] = {}
    for check in checks:
        if merge and check in covered:
            out.setdefault(merged_id, covered)
        else:
            out[check] = (check,)
    return out


def command(check: str, group: tuple[str, ...]) -> str:
    """The rebar3 command of `check` in a job that runs `group`."""
    if check == "cover":
        return "rebar3 cover --verbose"
    return f"rebar3 {check} --cover" if "cover" in group and check in COVERED else f"rebar3 {check}"


def problems(checks: tuple[str, ...]) -> list[Problem]:
    if "cover" in checks and not any(c in checks for c in COVERED):
        return [Problem(("erlang", "checks", checks.index("cover")),
                        "cover reports the coverage of eunit or ct; add one of them")]
    return []
