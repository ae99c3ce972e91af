"""Dialyzer's PLTs are cached under a key holding the OTP release the job runs and, when the
project has one, the hash of rebar.lock (issue #16): GitHub's cache key, and the OTP_VERSION
the rebar3 orb's own PLT cache key reads on CircleCI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cigen.targets.github.jobs import cache_key, cache_prefix
from cigen.yamlio import load_plain
from tests import oracles
from tests.helpers import load_project, texts

LOCK_HASH = "${{ hashFiles('rebar.lock') }}"
BEAM_OUTPUT = "${{ steps.beam.outputs.otp-version }}"
CACHE_STEP = "Cache _build and ~/.cache/rebar3"
# OTP 22 needs a base and runner of the user's: its erlang images' Alpine has ended.
OLD_IMAGE = "image: {base: 'erlang:22.3.4.26-alpine', runner: 'alpine:3.16'}\n"


def _write(root: Path, otp: str, lock: bool, extra: str = "") -> Path:
    (root / "cigen.yaml").write_text(
        f'version: 1\nname: hello\nregistry: ghcr.io/acme\nerlang:\n  otp: "{otp}"\n'
        "  checks: [xref, dialyzer, ct]\n" + extra)
    if lock:
        (root / "rebar.lock").write_text("[].\n")
    return root / "cigen.yaml"


def _jobs(config: Path) -> dict[str, Any]:
    out = texts(load_project(config, ("github",)), "github")
    workflow = config.parent / ".github" / "workflows" / "ci.yml"
    workflow.parent.mkdir(parents=True, exist_ok=True)
    workflow.write_text(out[".github/workflows/ci.yml"])
    jobs: dict[str, Any] = load_plain(workflow.read_text())["jobs"]
    return jobs


def _step(job: dict[str, Any], name: str) -> dict[str, Any]:
    [step] = [s for s in job["steps"] if s.get("name", "").startswith(name)]
    return step


@pytest.mark.parametrize("otp", ["27.3.4.15", "26.2.5"])
def test_the_dialyzer_key_holds_the_exact_release_and_the_lock_hash(tmp_path: Path,
                                                                     otp: str) -> None:
    cached = _step(_jobs(_write(tmp_path, otp, lock=True))["dialyzer"], CACHE_STEP)["with"]
    prefix = "${{ runner.os }}-${{ runner.arch }}-otp-" + otp + "-rebar3-dialyzer-"
    assert cached["key"] == prefix + LOCK_HASH
    assert cached["restore-keys"] == prefix
    # the paths rebar3 writes its PLTs to: _build/default/rebar3_<otp>_plt, ~/.cache/rebar3/...
    assert cached["path"].split() == ["_build", "~/.cache/rebar3"]


def test_without_a_lock_the_key_does_not_name_it(tmp_path: Path) -> None:
    jobs = _jobs(_write(tmp_path, "27.3.4.15", lock=False))
    for job in ("xref", "dialyzer", "ct"):
        cached = _step(jobs[job], CACHE_STEP)["with"]
        assert cached["key"] == "${{ runner.os }}-${{ runner.arch }}-otp-27.3.4.15-rebar3-" + job
        assert "restore-keys" not in cached
    workflow = (tmp_path / ".github" / "workflows" / "ci.yml").read_text()
    assert "rebar.lock" not in workflow
    _oracles(tmp_path)


def test_a_line_is_keyed_on_the_release_setup_beam_installed(tmp_path: Path) -> None:
    jobs = _jobs(_write(tmp_path, "27", lock=True))
    for job in jobs.values():
        if any(s.get("name") == CACHE_STEP for s in job["steps"]):
            beam = _step(job, "Set up Erlang/OTP")
            assert beam["id"] == "beam"
            assert beam["with"]["version-type"] == "loose"
            key = _step(job, CACHE_STEP)["with"]["key"]
            assert f"-otp-{BEAM_OUTPUT}-" in key
            assert key.endswith(LOCK_HASH)
    _oracles(tmp_path)


def test_an_exact_release_gives_setup_beam_no_id(tmp_path: Path) -> None:
    jobs = _jobs(_write(tmp_path, "26.2.5", lock=True))
    assert "id" not in _step(jobs["dialyzer"], "Set up Erlang/OTP")


def test_the_container_path_keys_on_the_release_as_written(tmp_path: Path) -> None:
    # setup-beam cannot install OTP 22 on ubuntu-24.04: rebar3 runs in erlang:22 instead, and
    # no step reads an output that is not there.
    jobs = _jobs(_write(tmp_path, "22", lock=True, extra=OLD_IMAGE))
    dialyzer = jobs["dialyzer"]
    assert not [s for s in dialyzer["steps"] if "setup-beam" in s.get("uses", "")]
    assert "-otp-22-rebar3-dialyzer-" in _step(dialyzer, CACHE_STEP)["with"]["key"]
    workflow = (tmp_path / ".github" / "workflows" / "ci.yml").read_text()
    assert "steps.beam" not in workflow
    _oracles(tmp_path)


def test_cache_key_takes_the_release_so_a_matrix_can_key_each() -> None:
    assert cache_key("26.2.5", "dialyzer", True) == cache_prefix("26.2.5", "dialyzer") + LOCK_HASH
    assert cache_key("${{ matrix.otp }}", "ct", False) == (
        "${{ runner.os }}-${{ runner.arch }}-otp-${{ matrix.otp }}-rebar3-ct")


def test_the_lock_is_looked_for_with_a_dockerfile_of_the_users(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM erlang:26.2.5 AS runner\n")
    config = _write(tmp_path, "26.2.5", lock=False, extra="image: {generate: false}\n")
    assert not load_project(config, ("github",)).rebar_lock
    (tmp_path / "rebar.lock").write_text("[].\n")
    assert load_project(config, ("github",)).rebar_lock


@pytest.mark.parametrize("extra", ["", "  env: {ERL_FLAGS: '+S 2'}\n"])
def test_circleci_sets_the_otp_version_the_orbs_plt_key_reads(tmp_path: Path,
                                                               extra: str) -> None:
    """The orb keys its PLT cache on $OTP_VERSION (tsloughter/rebar3_orb src/orb.yml,
    with_plt_cache, 0.8.0 on), which its executor sets from `tag` (0.8.1) and cigen's sets."""
    config = _write(tmp_path, "27.3.4.15", lock=True, extra=extra)
    out = texts(load_project(config, ("circleci",)), "circleci")
    data = load_plain(out[".circleci/config.yml"])
    [dialyzer] = [job["rebar3/dialyzer"] for job in
                  data["workflows"]["build-test-maybe-publish"]["jobs"]
                  if isinstance(job, dict) and "rebar3/dialyzer" in job]
    executor = dialyzer["executor"]
    if isinstance(executor, dict):  # the orb's own: OTP_VERSION is its tag
        assert data["orbs"]["rebar3"] == "tsloughter/rebar3@0.8.1"
        assert executor["tag"] == "27.3.4.15"
    else:
        assert data["executors"][executor]["environment"]["OTP_VERSION"] == "27.3.4.15"


def _oracles(root: Path) -> None:
    workflow = root / ".github" / "workflows" / "ci.yml"
    oracles.check_jsonschema("vendor.github-workflows", workflow)
    oracles.actionlint(workflow)
    oracles.zizmor(workflow)
    oracles.workflow_parser(workflow)
