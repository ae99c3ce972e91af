"""erlang.matrix: every check runs on erlang.otp and on each further release, on every CI, the
image job waits for all of them, and each release obeys the compatibility table."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cigen import yamlio
from cigen.errors import DescriptorError
from cigen.model import Project
from cigen.targets import cloudbuild
from tests import oracles
from tests.conftest import FIXTURES, Result
from tests.helpers import load_project, texts
from tests.targets.test_github import auditor_findings, zizmor

FIXTURE = FIXTURES / "matrix"
RELEASES = ("27.3.4.15", "26.2.5.21")  # the fixture's erlang.otp, then its erlang.matrix
WORKFLOW = ".github/workflows/ci.yml"
CIRCLECI = ".circleci/config.yml"
HEAD = "version: 1\nname: hello\nregistry: ghcr.io/acme\n"
DIGEST = "sha256:" + "0" * 64


def _project(tmp_path: Path, erlang: str, extra: str = "") -> Project:
    (tmp_path / "cigen.yaml").write_text(f"{HEAD}erlang:\n{erlang}{extra}")
    (tmp_path / "rebar.lock").write_text("[].\n")
    return load_project(tmp_path / "cigen.yaml")


def _errors(tmp_path: Path, erlang: str, extra: str = "") -> list[str]:
    with pytest.raises(DescriptorError) as raised:
        _project(tmp_path, erlang, extra)
    shown = str(tmp_path / "cigen.yaml")
    return [line.replace(shown, "cigen.yaml") for line in raised.value.problems]


def _data(project: Project, path: str) -> dict[str, Any]:
    data: dict[str, Any] = yamlio.load_plain(texts(project)[path])
    return data


def _fixture() -> Project:
    return load_project(FIXTURE / "cigen.yaml")


def _committed(path: str) -> dict[str, Any]:
    data: dict[str, Any] = yamlio.load_plain((FIXTURE / path).read_text())
    return data


# --- the descriptor -------------------------------------------------------------------------

def test_a_release_named_twice_is_a_located_error(tmp_path: Path) -> None:
    erlang = '  otp: "27.3.4.15"\n  matrix: ["26.2.5.21", "27.3.4.15", "26.2.5.21"]\n'
    assert _errors(tmp_path, erlang) == [
        'cigen.yaml:6:25: erlang.matrix[1]: "27.3.4.15" is erlang.otp already; the checks run '
        "on each release once: remove it",
        'cigen.yaml:6:38: erlang.matrix[2]: "26.2.5.21" is erlang.matrix[0] already; the checks '
        "run on each release once: remove it",
    ]


def test_each_release_obeys_the_compatibility_table_every_error_at_once(tmp_path: Path) -> None:
    erlang = '  otp: "27.3.4.15"\n  rebar3: "3.24.0"\n  matrix: ["28.1", "19.3", 26]\n'
    assert _errors(tmp_path, erlang) == [
        # the schema's errors come first: the table is read once the descriptor is well formed
        'cigen.yaml:7:28: erlang.matrix[2]: 26 is not a string; quote versions: "26"',
    ]
    erlang = '  otp: "27.3.4.15"\n  rebar3: "3.24.0"\n  matrix: ["28.1", "19.3"]\n'
    as_of = "2026-12-02"
    assert _errors(tmp_path, erlang) == [
        "cigen.yaml:7:12: erlang.matrix[0]: erlang.rebar3 is 3.24.0, which supports OTP 25 to "
        "27, not OTP 28.1; no one rebar3 release supports them all: remove erlang.rebar3, and "
        "each release gets the newest rebar3 that supports it",
        f"cigen.yaml:7:20: erlang.matrix[1]: cigen's table (as of {as_of}) knows no official "
        "erlang:19.3 image, which the checks of this release run in; choose a release of an "
        "OTP line it lists (docs/compatibility.md)",
        "cigen.yaml:7:20: erlang.matrix[1]: erlang.rebar3 is 3.24.0, which supports OTP 25 to "
        "27, not OTP 19.3; no one rebar3 release supports them all: remove erlang.rebar3, and "
        "each release gets the newest rebar3 that supports it",
    ]


def test_a_shared_rebar3_that_fits_is_named(tmp_path: Path) -> None:
    erlang = '  otp: "27.3.4.15"\n  rebar3: "3.24.0"\n  matrix: ["28.1"]\n'
    erlang = erlang.replace('"3.24.0"', '"3.22.1"').replace('"28.1"', '"26.2.5.21"')
    _project(tmp_path, erlang)  # 3.22.1 supports 25 to 27: both fit
    erlang = '  otp: "28.1"\n  rebar3: "3.27.0"\n  matrix: ["25.3.2.21"]\n'
    assert _errors(tmp_path, erlang) == [
        "cigen.yaml:7:12: erlang.matrix[0]: erlang.rebar3 is 3.27.0, which supports OTP 26 to "
        "29, not OTP 25.3.2.21; no one rebar3 release supports them all: remove erlang.rebar3, "
        "and each release gets the newest rebar3 that supports it",
    ]
    erlang = '  otp: "26.2.5.21"\n  rebar3: "3.27.0"\n  matrix: ["25.3.2.21"]\n'
    assert _errors(tmp_path, erlang)[0].endswith(
        "not OTP 25.3.2.21; set it to 3.24.0, the newest rebar3 that supports OTP 26.2.5.21, "
        "25.3.2.21")


def test_without_rebar3_each_release_gets_the_newest_that_supports_it(tmp_path: Path) -> None:
    project = _project(tmp_path, '  otp: "27.3.4.15"\n  matrix: ["25.3.2.21", "24.3.4.17"]\n')
    assert [(r.otp, r.rebar3) for r in project.erlang.releases] == [
        ("27.3.4.15", "3.27.0"), ("25.3.2.21", "3.24.0"), ("24.3.4.17", "3.21.0")]


def test_an_invalid_matrix_writes_nothing(tmp_path: Path,
                                          run_line: Callable[..., Result]) -> None:
    (tmp_path / "cigen.yaml").write_text(
        f'{HEAD}erlang:\n  otp: "27.3.4.15"\n  matrix: ["27.3.4.15"]\n')
    result = run_line("cigen render", cwd=tmp_path)
    assert result.code == 2, result
    assert "erlang.matrix[0]" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cigen.yaml"]


def test_an_empty_matrix_renders_what_no_matrix_does(tmp_path: Path) -> None:
    text = (FIXTURES / "minimal" / "cigen.yaml").read_text()
    assert 'otp: "26.2.5"\n' in text
    plain = texts(load_project(FIXTURES / "minimal" / "cigen.yaml"))
    (tmp_path / "cigen.yaml").write_text(text.replace('otp: "26.2.5"\n',
                                                      'otp: "26.2.5"\n  matrix: []\n'))
    (tmp_path / "rebar.lock").write_text((FIXTURES / "minimal" / "rebar.lock").read_text())
    assert texts(load_project(tmp_path / "cigen.yaml")) == plain


# --- GitHub Actions ---------------------------------------------------------------------------

def test_github_every_check_job_runs_on_every_release() -> None:
    jobs = _committed(WORKFLOW)["jobs"]
    checks = {job_id: job for job_id, job in jobs.items() if job_id != "image"}
    assert sorted(checks) == ["ct", "dialyzer", "xref"]
    for job_id, job in checks.items():
        assert job["name"].endswith(" (OTP ${{ matrix.otp }})")
        assert job["strategy"] == {"fail-fast": False, "matrix": {"include": [
            {"otp": otp, "rebar3": "3.27.0"} for otp in RELEASES]}}
        steps = {step.get("name"): step for step in job["steps"]}
        assert steps["Set up Erlang/OTP and rebar3"]["with"] == {
            "otp-version": "${{ matrix.otp }}", "rebar3-version": "${{ matrix.rebar3 }}",
            "version-type": "strict"}
        cache = steps["Cache _build and ~/.cache/rebar3"]["with"]
        prefix = ("${{ runner.os }}-${{ runner.arch }}-otp-${{ matrix.otp }}-rebar3-"
                  f"{job_id}-")
        assert cache["key"] == prefix + "${{ hashFiles('rebar.lock') }}"
        assert cache["restore-keys"] == prefix
    # needs of a matrix job wait for every job of its matrix
    assert jobs["image"]["needs"] == ["ct", "dialyzer", "xref"]


MIXED = ('  otp: "27.3.4.15"\n  matrix: ["23.3.4.20", "28"]\n  checks: [xref, ct]\n'
         "  env: {ERL_FLAGS: '+S 2'}\n")


def test_github_releases_setup_beam_cannot_install_run_rebar3_in_the_image(
        tmp_path: Path) -> None:
    workflow = _data(_project(tmp_path, MIXED, "targets: [github]\n"), WORKFLOW)
    for job_id in ("xref", "ct"):
        job = workflow["jobs"][job_id]
        assert job["strategy"]["matrix"]["include"] == [
            {"otp": "27.3.4.15", "rebar3": "3.27.0", "version-type": "strict"},
            {"otp": "23.3.4.20", "rebar3": "3.20.0", "container": True},  # ubuntu-24.04: 24.3+
            {"otp": "28", "rebar3": "3.27.0", "version-type": "loose"},
        ]
        assert job["env"] == {"ERLANG_IMAGE": "erlang:${{ matrix.otp }}", "ERL_FLAGS": "+S 2"}
        beam, boxed = job["steps"][1], job["steps"][2]
        assert beam["if"] == "${{ !matrix.container }}"
        assert beam["id"] == "beam"
        assert beam["with"]["version-type"] == "${{ matrix.version-type }}"
        assert boxed["if"] == "${{ matrix.container }}"
        assert boxed["env"] == {"REBAR3_VERSION": "${{ matrix.rebar3 }}"}
        assert '-e ERL_FLAGS ' in boxed["run"]
        assert '"$ERLANG_IMAGE" rebar3 "$@"' in boxed["run"]
        # a line's cache is keyed on the release setup-beam installed; the image's on the line
        key = job["steps"][3]["with"]["key"]
        assert "-otp-${{ steps.beam.outputs.otp-version || matrix.otp }}-" in key
        for step in job["steps"]:
            assert "${{" not in step.get("run", "")  # matrix values reach run: through env


def test_github_all_releases_in_the_image_need_no_conditions(tmp_path: Path) -> None:
    erlang = '  otp: "23.3.4.20"\n  matrix: ["22.3.4.26"]\n  checks: [xref]\n'
    image = "image:\n  base: erlang:23.3.4.20-alpine\n  runner: alpine:3.16\n"
    extra = f"targets: [github]\npublish: {{after: [xref]}}\n{image}"
    job = _data(_project(tmp_path, erlang, extra), WORKFLOW)["jobs"]["xref"]
    assert [s.get("name") for s in job["steps"]] == [
        "Check out", "Run rebar3 ${{ matrix.rebar3 }} in erlang:${{ matrix.otp }}",
        "Cache _build and ~/.cache/rebar3", None]
    assert not any("if" in step for step in job["steps"])
    assert job["strategy"]["matrix"]["include"] == [
        {"otp": "23.3.4.20", "rebar3": "3.20.0"}, {"otp": "22.3.4.26", "rebar3": "3.18.0"}]
    assert "-otp-${{ matrix.otp }}-" in job["steps"][2]["with"]["key"]


def test_github_oracles_accept_the_matrix_workflows(tmp_path: Path) -> None:
    paths = [FIXTURE / WORKFLOW]
    for i, (erlang, extra) in enumerate([
        (MIXED, "targets: [github]\n"),
        ('  otp: "27.3.4.15"\n  matrix: ["26"]\n  checks: [xref, eunit, ct, cover]\n'
         f"  services:\n    - {{name: postgres, image: 'postgres:16-alpine@{DIGEST}', "
         "ports: [5432]}\n", "targets: [github]\npublish: {branches: [main, release/2.x]}\n"),
    ]):
        root = tmp_path / str(i)
        root.mkdir()
        path = root / f"matrix-{i}.yml"
        path.write_text(texts(_project(root, erlang, extra))[WORKFLOW])
        paths.append(path)
    oracles.check_jsonschema("vendor.github-workflows", *paths)
    oracles.actionlint(*paths)
    zizmor(*paths)
    oracles.workflow_parser(*paths)
    assert auditor_findings(*paths) == []


# --- CircleCI ---------------------------------------------------------------------------------

def _expand(workflow: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, set[str]]]:
    """The workflow's jobs as CircleCI expands matrices (circleci.com/docs/configuration-
    reference, workflows.jobs.matrix): an instance per combination, named `name` with its
    << matrix.* >> filled in, else <job>-<values joined by ->; its alias (default: the job's
    name) names all of them. Returns instance name -> parameters, and alias -> instances."""
    instances: dict[str, dict[str, Any]] = {}
    aliases: dict[str, set[str]] = {}
    for entry in workflow["jobs"]:
        [(job, params)] = (entry if isinstance(entry, dict) else {entry: {}}).items()
        matrix = params.get("matrix")
        if matrix is None:
            instances[params.get("name", job)] = params
            continue
        names, values = zip(*matrix["parameters"].items(), strict=True)
        for combo in itertools.product(*values):
            chosen = dict(zip(names, combo, strict=True))

            def fill(text: str, chosen: dict[str, Any] = chosen) -> str:
                return re.sub(r"<<\s*matrix\.(\w+)\s*>>", lambda m: str(chosen[m[1]]), text)

            name = fill(params["name"]) if "name" in params else "-".join([job, *map(str, combo)])
            rest = {k: v for k, v in params.items() if k not in ("matrix", "name")}
            instances[name] = {**rest, **chosen,
                               "requires": [fill(r) for r in params.get("requires", [])]}
            aliases.setdefault(matrix.get("alias", job), set()).add(name)
    return instances, aliases


def test_circleci_every_check_is_a_matrix_job_over_the_releases() -> None:
    config = _committed(CIRCLECI)
    [workflow] = config["workflows"].values()
    instances, aliases = _expand(workflow)
    executors = [f"erlang-{otp.replace('.', '-')}" for otp in RELEASES]
    for job in ("rebar3/compile", "rebar3/xref", "rebar3/dialyzer", "ct"):
        assert aliases[job] == {f"{job}-{e}" for e in executors}
        for name in aliases[job]:
            assert instances[name]["executor"] in executors
    for otp, name in zip(RELEASES, executors, strict=True):
        assert config["executors"][name] == {"docker": [{"image": f"erlang:{otp}"}],
                                             "environment": {"OTP_VERSION": otp}}
    # every requires names a job or a whole matrix: the image job waits for every release
    for name, params in instances.items():
        for required in params.get("requires", []):
            assert required in instances or required in aliases, (name, required)
    image = instances["docker-build-and-push"]["requires"]
    assert set(image) == {"ct", "rebar3/dialyzer", "rebar3/xref"}
    waited = set().union(*(aliases[r] for r in image))
    assert len(waited) == 3 * len(RELEASES)
    # the coverage job of cigen's own takes its executor as a parameter, unescaped
    assert config["jobs"]["ct"]["parameters"] == {"executor": {"type": "executor"}}
    assert config["jobs"]["ct"]["executor"] == "<< parameters.executor >>"


def test_circleci_services_and_env_get_an_executor_per_release(tmp_path: Path) -> None:
    erlang = ('  otp: "27.3.4.15"\n  matrix: ["26.2.5.21"]\n  checks: [xref, ct]\n'
              "  env: {ERL_FLAGS: '+S 2'}\n"
              "  services:\n    - {name: postgres, image: 'postgres:16-alpine', ports: [5432]}\n")
    config = _data(_project(tmp_path, erlang, "targets: [circleci]\n"), CIRCLECI)
    [workflow] = config["workflows"].values()
    instances, aliases = _expand(workflow)
    assert {instances[n]["executor"] for n in aliases["rebar3/ct"]} == {
        "erlang_postgres-27-3-4-15", "erlang_postgres-26-2-5-21"}
    assert {instances[n]["executor"] for n in aliases["rebar3/xref"]} == {
        "erlang-27-3-4-15", "erlang-26-2-5-21"}
    for otp in RELEASES:
        executor = config["executors"][f"erlang_postgres-{otp.replace('.', '-')}"]
        assert executor["docker"] == [{"image": f"erlang:{otp}"}, {"image": "postgres:16-alpine"}]
        assert executor["environment"] == {"OTP_VERSION": otp, "ERL_FLAGS": "+S 2",
                                           "POSTGRES_HOST": "localhost"}
    path = tmp_path / CIRCLECI
    path.parent.mkdir(parents=True)
    path.write_text(yamlio.dump(config))
    oracles.check_jsonschema("vendor.circle-ci", path, FIXTURE / CIRCLECI)


# --- Cloud Build ------------------------------------------------------------------------------

def _steps(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["id"]: step for step in config["steps"] if "id" in step}


def test_cloudbuild_runs_each_release_s_checks_beside_the_others() -> None:
    steps = _steps(_committed("cloudbuild.yaml"))
    other = RELEASES[1]
    suffix, base = f"-otp-{other}", f"/workspace/_build/otp-{other}"
    for check in ("compile", "xref", "dialyzer", "eunit", "ct", "cover"):
        assert steps[check]["name"] == f"erlang:{RELEASES[0]}"
        assert "env" not in steps[check]
        step = steps[check + suffix]
        assert step["name"] == f"erlang:{other}"
        assert step["env"] == [f"REBAR_BASE_DIR={base}", f"REBAR_CACHE_DIR={base}/.cache"]
        assert step["args"] == steps[check]["args"]
        waits = [w.removesuffix(suffix) for w in step.get("waitFor", [])]
        assert waits == (["-"] if check == "compile" else steps[check]["waitFor"])
    assert steps["image"]["waitFor"] == ["xref", "dialyzer", "ct", f"xref{suffix}",
                                         f"dialyzer{suffix}", f"ct{suffix}", "registry-login"]


def test_cloudbuild_shared_services_take_one_release_s_tests_at_a_time(tmp_path: Path) -> None:
    erlang = ('  otp: "27.3.4.15"\n  matrix: ["26.2.5.21", "25.3.2.21"]\n  checks: [xref, ct]\n'
              "  services:\n    - {name: postgres, image: 'postgres:16-alpine', ports: [5432]}\n")
    project = _project(tmp_path, erlang, "targets: [cloudbuild]\ncloudbuild: {run_checks: true}\n")
    files = texts(project)
    config: dict[str, Any] = yamlio.load_plain(files["cloudbuild.yaml"])
    steps = _steps(config)
    assert steps["ct"]["waitFor"] == ["compile", "services-ready"]
    assert steps["ct-otp-26.2.5.21"]["waitFor"] == ["compile-otp-26.2.5.21", "ct",
                                                    "services-ready"]
    assert steps["ct-otp-25.3.2.21"]["waitFor"] == ["compile-otp-25.3.2.21",
                                                    "ct-otp-26.2.5.21", "services-ready"]
    assert steps["xref-otp-25.3.2.21"]["waitFor"] == ["compile-otp-25.3.2.21"]
    assert steps["services-stop"]["waitFor"] == ["ct-otp-25.3.2.21"]
    ids = [step.get("id") for step in config["steps"]]
    for i, step in enumerate(config["steps"]):  # a step waits only for earlier ones
        assert all(w == "-" or w in ids[:i] for w in step.get("waitFor", [])), step["id"]
    assert cloudbuild.lint(project, files) == []
    path = tmp_path / "cloudbuild.yaml"
    path.write_text(files["cloudbuild.yaml"])
    oracles.check_jsonschema("vendor.cloudbuild", path, FIXTURE / "cloudbuild.yaml",
                             FIXTURE / "cloudbuild.release.yaml")
