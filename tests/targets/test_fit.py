"""Every combination a target writes exists and fits, judged by the compatibility table's facts.

OTP 22-29 x GitHub runner images x rebar3 x OS family: each descriptor either renders files
that install only what exists (parsed and checked here against cigen/data/compat.json) or is
refused at a located key; the refused ones are exactly those the table rules out.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cigen import compat
from cigen.descriptor import load
from cigen.plan import build
from cigen.yamlio import load_plain
from tests.conftest import Result

OTPS = ("22.1.1", "23.3.4.20", "24.3.4.17", "25.3.2.21", "26.2.5", "27.3", "28", "29.0.2")
RUNNERS = ("ubuntu-22.04", "ubuntu-24.04", "ubuntu-26.04")
REBAR3 = (None, "3.18.0", "3.24.0", "3.27.0")
FAMILIES = ("alpine", "debian")
TABLE = compat.table()


def descriptor(otp: str, runs_on: str, rebar3: str | None, os: str, extra: str = "") -> str:
    pinned = f'  rebar3: "{rebar3}"\n' if rebar3 else ""
    return (f'version: 1\nname: app\nregistry: ghcr.io/acme\nerlang:\n  otp: "{otp}"\n{pinned}'
            f"  checks: [xref, ct]\nimage:\n  os: {os}\n{extra}github:\n  runs_on: {runs_on}\n"
            "cloudbuild:\n  run_checks: true\n")


def _major(otp: str) -> int:
    return int(otp.split(".")[0])


def _in_range(otp: str, low: str, high: str) -> bool:
    """setup-beam's range, read as its README states it: from `low` up to major `high`."""
    parts = [int(p) for p in otp.split(".")]
    first = [int(p) for p in low.split(".")]
    return parts >= first[:len(parts)] and parts[0] <= int(high)


def _rebar3_fits(rebar3: str, otp: str) -> bool:
    low, high = TABLE["rebar3"]["releases"][rebar3]
    return rebar3 not in TABLE["rebar3"]["dont_use"] and low <= _major(otp) <= high


def expected_refusal(otp: str, rebar3: str | None, os: str) -> bool:
    builder = compat.erlang_release(otp, os == "alpine")
    assert builder is not None, f"the table knows every official erlang:{otp} image"
    unsupported = compat.supported(builder) is False
    return bool(rebar3 and not _rebar3_fits(rebar3, otp)) or unsupported


def _github(text: str, otp: str, runs_on: str, rebar3: str) -> None:
    low, high = TABLE["setup_beam"]["runners"][runs_on]
    for job_id, job in load_plain(text)["jobs"].items():
        if job_id == "image":
            continue
        beam = [s for s in job["steps"] if "erlef/setup-beam@" in s.get("uses", "")]
        if _in_range(otp, low, high):
            assert beam[0]["with"]["otp-version"] == otp
            assert beam[0]["with"]["rebar3-version"] == rebar3
            strict = len(otp.split(".")) >= 3  # strict finds only an exact release
            assert beam[0]["with"]["version-type"] == ("strict" if strict else "loose")
        else:  # setup-beam has no build of this OTP for the runner: the official image runs it
            assert not beam
            step = next(s for s in job["steps"] if "ERLANG_IMAGE" in s.get("env", {}))
            assert step["env"] == {"ERLANG_IMAGE": f"erlang:{otp}", "REBAR3_VERSION": rebar3}
            assert str(_major(otp)) in TABLE["erlang_images"]["debian"]


def _circleci(text: str, otp: str) -> None:
    for job in load_plain(text)["workflows"]["build-test-maybe-publish"]["jobs"]:
        ((name, params),) = job.items() if isinstance(job, dict) else ((job, {}),)
        if name.startswith("rebar3/"):
            assert params["executor"]["image"] == "erlang"
            assert params["executor"]["tag"] == otp
    assert str(_major(otp)) in TABLE["erlang_images"]["debian"]


def _cloudbuild(text: str, otp: str) -> None:
    # The Debian erlang image: git and curl for git dependencies, as CircleCI's jobs have.
    checks = [s for s in load_plain(text)["steps"] if s.get("entrypoint") == "rebar3"]
    assert checks
    assert {s["name"] for s in checks} == {f"erlang:{otp}"}


def _dockerfile(text: str) -> None:
    froms = re.findall(r"^FROM (\S+) AS (\w+)$", text, re.MULTILINE)
    images = {stage: ref for ref, stage in froms}
    builder, runner = (compat.image_release(images[s]) for s in ("builder", "runner"))
    assert builder is not None
    assert builder == runner
    assert compat.supported(runner)
    if runner.family == "debian":
        assert "ca-certificates" in text.split("AS runner", 1)[1]


def _check(tmp_path: Path, otp: str, runs_on: str, rebar3: str | None, os: str) -> None:
    config = tmp_path / "cigen.yaml"
    config.write_text(descriptor(otp, runs_on, rebar3, os))
    loaded = load(config)
    plan = build(loaded.project, ())
    if expected_refusal(otp, rebar3, os):
        assert plan.problems
        assert all(p.path for p in plan.problems), plan.problems
        return
    assert not plan.problems, loaded.document.format(plan.problems)
    files = plan.texts()
    used = rebar3 or compat.newest_rebar3(otp)
    assert used
    assert _rebar3_fits(used, otp)
    _github(files[".github/workflows/ci.yml"], otp, runs_on, used)
    _circleci(files[".circleci/config.yml"], otp)
    _cloudbuild(files["cloudbuild.yaml"], otp)
    _dockerfile(files["Dockerfile"])


@pytest.mark.parametrize(("otp", "os"), list(itertools.product(OTPS, FAMILIES)))
def test_every_rendered_combination_exists_and_fits(tmp_path: Path, otp: str, os: str) -> None:
    for runs_on, rebar3 in itertools.product(RUNNERS, REBAR3):
        _check(tmp_path, otp, runs_on, rebar3, os)


Run = Callable[..., Result]

REFUSED = [
    (descriptor("22.1.1", "ubuntu-24.04", "3.13.2", "alpine"),
     'cigen.yaml:6:11: erlang.rebar3: rebar3\'s README says not to use 3.13.2; use 3.18.0, '
     "the newest rebar3 that supports OTP 22.1.1"),
    (descriptor("28", "ubuntu-24.04", "3.24.0", "alpine"),
     "cigen.yaml:6:11: erlang.rebar3: rebar3 3.24.0 supports OTP 25 to 27, not 28; use 3.27.0, "
     "the newest rebar3 that supports OTP 28"),
    (descriptor("25.3.2.21", "ubuntu-24.04", None, "debian"),
     "cigen.yaml:5:8: erlang.otp: erlang:25.3.2.21 is built on Debian bullseye, whose support "
     "ended on 2026-08-31 (as of 2026-12-02)"),
    (descriptor("26.2.5", "ubuntu-24.04", None, "debian", "  base: ghcr.io/acme/builder:7\n"),
     "cigen.yaml:9:9: image.base: cigen cannot tell the OS release of ghcr.io/acme/builder:7; "
     "set image.runner to an image of the same OS release"),
    (descriptor("26.2.5", "ubuntu-24.04", None, "debian", "  runner: debian:bullseye-slim\n"),
     "cigen.yaml:9:11: image.runner: is Debian bullseye, but the builder erlang:26.2.5 is "
     "Debian bookworm: the release runs only on its builder's OS release; use "
     "debian:bookworm-slim or an image built on it"),
]


@pytest.mark.parametrize(("text", "message"), REFUSED)
def test_ruled_out_combinations_exit_2_at_their_key(tmp_path: Path, run_line: Run, text: str,
                                                    message: str) -> None:
    (tmp_path / "cigen.yaml").write_text(text)
    for command in ("cigen render", "cigen validate"):
        result = run_line(command, cwd=tmp_path)
        assert result.code == 2, result
        assert message in result.stderr, result
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cigen.yaml"]


def test_service_discovery_installs_otp_22_1_1_with_a_rebar3_that_supports_it() -> None:
    root = Path(__file__).parents[2] / "fixtures" / "service_discovery"
    workflow: dict[str, Any] = load_plain((root / ".github/workflows/ci.yml").read_text())
    for job_id, job in workflow["jobs"].items():
        if job_id == "image":
            continue
        step = next(s for s in job["steps"] if "ERLANG_IMAGE" in s.get("env", {}))
        assert step["env"] == {"ERLANG_IMAGE": "erlang:22.1.1", "REBAR3_VERSION": "3.18.0"}
        assert "erlang:22.1.1 rebar3" in step["run"]
        assert _rebar3_fits("3.18.0", "22.1.1")


def test_the_e2e_descriptor_with_a_runner_of_another_release_is_refused(
    tmp_path: Path, run_line: Run
) -> None:
    e2e = Path(__file__).parents[2] / "fixtures" / "e2e" / "cigen.yaml"
    text = e2e.read_text()
    assert "runner: localhost/cigen-e2e/runner:bookworm" in text
    (tmp_path / "cigen.yaml").write_text(
        text.replace("localhost/cigen-e2e/runner:bookworm", "debian:bullseye-slim"))
    result = run_line("cigen render", cwd=tmp_path)
    assert result.code == 2, result
    assert re.search(r"cigen\.yaml:\d+:\d+: image\.runner: is Debian bullseye, but the builder "
                     r"localhost/cigen-e2e/erlang:25\.2\.3-bookworm is Debian bookworm",
                     result.stderr), result
