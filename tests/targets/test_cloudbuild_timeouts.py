"""erlang.timeouts on Cloud Build (issue #16): a `timeout` on the step of each check named, and
none elsewhere; a chain of limits that the build's own timeout would cut short is an error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cigen.targets import cloudbuild
from cigen.targets.cloudbuild.timeouts import longest_chain
from cigen.yamlio import load_plain
from tests import oracles
from tests.conftest import Result
from tests.helpers import load_project, texts

CHECKS = "[xref, dialyzer, eunit, ct, cover]"


def _write(root: Path, timeouts: str = "", cloudbuild_extra: str = "") -> Path:
    (root / "cigen.yaml").write_text(
        'version: 1\nname: hello\nregistry: us-docker.pkg.dev/acme/apps\ntargets: [cloudbuild]\n'
        f'erlang:\n  otp: "26.2.5"\n  checks: {CHECKS}\n'
        + (f"  timeouts: {timeouts}\n" if timeouts else "")
        + f"cloudbuild: {{run_checks: true{cloudbuild_extra}}}\n")
    return root / "cigen.yaml"


def _rendered(config: Path) -> dict[str, Any]:
    project = load_project(config)
    files = texts(project, "cloudbuild")
    for rel, text in files.items():
        (config.parent / rel).parent.mkdir(parents=True, exist_ok=True)
        (config.parent / rel).write_text(text)
    assert cloudbuild.lint(project, files) == []
    for rel in (project.cloudbuild.file, project.cloudbuild.release_file):
        oracles.check_jsonschema("vendor.cloudbuild", config.parent / rel)
    return {rel: load_plain(files[rel]) for rel in (project.cloudbuild.file,
                                                    project.cloudbuild.release_file)}


def _timeouts(config: dict[str, Any]) -> dict[str, str]:
    return {step.get("id", "?"): step["timeout"] for step in config["steps"] if "timeout" in step}


def test_without_timeouts_no_step_gets_one(tmp_path: Path) -> None:
    for config in _rendered(_write(tmp_path)).values():
        assert _timeouts(config) == {}
        assert "timeout" not in config


def test_only_the_named_checks_get_a_step_timeout_in_seconds(tmp_path: Path) -> None:
    configs = _rendered(_write(tmp_path, "{dialyzer: 50, ct: 20}"))
    for config in configs.values():  # the branch config and the release config alike
        assert _timeouts(config) == {"dialyzer": "3000s", "ct": "1200s"}
        assert "timeout" not in config  # the build keeps Cloud Build's default


@pytest.mark.parametrize(("timeouts", "build", "where"), [
    ("{dialyzer: 60}", "", "dialyzer"),  # reaching the build's 60 minutes is already too much
    ("{dialyzer: 90}", "", "dialyzer"),
    ("{eunit: 30, ct: 30}", "", "eunit"),  # eunit then ct: one after the other
    ("{eunit: 20, ct: 50, dialyzer: 45}", ", timeout: 1h", "ct"),
    ("{dialyzer: 100}", ", timeout: 1h40m", "dialyzer"),
])
def test_limits_the_build_would_cut_short_are_an_error_at_the_check(
    tmp_path: Path, run_line: Callable[..., Result], timeouts: str, build: str, where: str,
) -> None:
    config = _write(tmp_path, timeouts, build)
    result = run_line(["cigen", "render", "-c", str(config)])
    assert result.code == 2, result
    [line] = [line for line in result.stderr.splitlines() if "erlang.timeouts" in line]
    column = config.read_text().splitlines()[7].index(f"{where}:") + 1 + len(f"{where}: ")
    assert line.startswith(f"{config}:8:{column}: erlang.timeouts.{where}: on Cloud Build, ")
    assert "set cloudbuild.timeout above" in line
    assert not (tmp_path / "cloudbuild.yaml").exists()


@pytest.mark.parametrize(("timeouts", "build"), [
    ("{dialyzer: 59}", ""),
    ("{eunit: 29, ct: 30, dialyzer: 59}", ""),  # parallel chains each under 60
    ("{dialyzer: 90}", ", timeout: 2h"),
    ("{eunit: 40, ct: 40}", ", timeout: 81m"),
])
def test_limits_that_fit_the_build_render(tmp_path: Path, timeouts: str, build: str) -> None:
    configs = _rendered(_write(tmp_path, timeouts, build))
    assert all(_timeouts(config) for config in configs.values())


def test_the_chain_follows_wait_for() -> None:
    steps = [
        {"id": "a", "timeout": "600s"},
        {"id": "b", "waitFor": ["a"], "timeout": "1200s"},
        {"id": "c", "waitFor": ["-"], "timeout": "3000s"},  # from the start, beside a and b
        {"id": "d", "waitFor": ["a"]},  # no limit: counts as nothing
        {"id": "e", "waitFor": ["d", "b"], "timeout": "60s"},
        {"id": "f"},  # no waitFor: after every earlier step
        {"id": "g", "waitFor": ["f"], "timeout": "30s"},
    ]
    assert longest_chain(steps[:3]) == (3000, ["c"])
    assert longest_chain(steps) == (3030, ["c", "g"])
    assert longest_chain(steps[:5]) == (3000, ["c"])
    assert longest_chain([{"id": "x"}]) == (0, [])
