from __future__ import annotations

import re
import shlex
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cigen.targets import cloudbuild, environment
from cigen.yamlio import load_plain
from tests import oracles
from tests.conftest import FIXTURES, Result
from tests.helpers import load_project, texts
from tests.targets.test_circleci import _reference_errors, _workflow_job
from tests.targets.test_github import zizmor

SD = FIXTURES / "service_discovery"
CI_TARGETS = ("circleci", "github", "cloudbuild")
# CircleCI's own steps; a pre-step must be one of them (the config defines no commands).
BUILTIN_STEPS = {"checkout", "run", "restore_cache", "save_cache"}
MIGRATE = "Run SQL migrations"
POSTGRES_ENV = {"POSTGRES_USER": "discovery", "POSTGRES_PASSWORD": "password",
                "POSTGRES_DB": "discovery"}
POSTGRES_IMAGE = ("postgres:18.4-alpine@sha256:"  # the fixture's, pinned by digest
                  "9a8afca54e7861fd90fab5fdf4c42477a6b1cb7d293595148e674e0a3181de15")

# Every feature at once: two services (one without health, one with a secret), setup with a
# cache on a merged GitHub job (eunit, ct, cover), setup on a check without services, a secret
# in erlang.env, and a release-named branch (zizmor then audits caches as a release's).
EVERYTHING = """\
version: 1
name: hello
registry: us-docker.pkg.dev/acme/apps
erlang:
  otp: "26.2.5"
  checks: [xref, dialyzer, eunit, ct, cover]
  env:
    ERL_FLAGS: "+S 2"
    HEX_API_KEY: {secret: HEX_API_KEY}
  services:
    - name: db
      image: postgres:18.4-alpine
      env: {POSTGRES_PASSWORD: "pa$$word"}
      ports: [5432]
      health: pg_isready -h localhost -U postgres
    - name: message-queue
      image: rabbitmq:4.1-management-alpine
      ports: [5672, 15672]
SERVICE_SECRET
  setup:
    dialyzer:
      - {name: Fetch PLT, run: echo plt}
    ct:
      - name: Migrate
        cache: {path: ~/tools, key: tools-1}
        run: |
          mkdir -p ~/tools
          echo "migrating $DB_HOST:5432 and $MESSAGE_QUEUE_HOST"
      - {name: Seed, run: echo seed}
publish:
  branches: [main, release/2.x]
  after: [ct]
cloudbuild:
  run_checks: true
  secrets:
    HEX_API_KEY: projects/$PROJECT_ID/secrets/hex/versions/latest
    LICENSE_KEY: projects/$PROJECT_ID/secrets/license/versions/2
"""
SECRET_LINE = "      env: {LICENSE_KEY: {secret: LICENSE_KEY}}"


def everything(service_secret: bool) -> str:
    return EVERYTHING.replace("SERVICE_SECRET\n", SECRET_LINE + "\n" if service_secret else "")


def render(root: Path, text: str, names: tuple[str, ...]) -> dict[str, Any]:
    """Render `text` into root (for the oracles) and return each output parsed."""
    (root / "cigen.yaml").write_text(text)
    project = load_project(root / "cigen.yaml", names)
    files = texts(project, *names)
    for rel, body in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(body)
    assert cloudbuild.lint(project, files) == []
    return {rel: load_plain(body) for rel, body in files.items() if rel.endswith((".yml", ".yaml"))}


def sd_outputs(tmp_path: Path) -> dict[str, Any]:
    """The fixture rendered now (test_golden holds the committed files equal to this), with
    cloudbuild.run_checks on: the chapter's Cloud Build ran no checks."""
    text = (SD / "cigen.yaml").read_text()
    text = text.replace("cloudbuild:\n", "cloudbuild:\n  run_checks: true\n")
    return render(tmp_path, text, CI_TARGETS)


def circleci_job(config: dict[str, Any], name: str) -> dict[str, Any]:
    [workflow] = config["workflows"].values()
    return dict(map(_workflow_job, workflow["jobs"]))[name]


def step_of(entry: Any) -> str:
    return entry if isinstance(entry, str) else next(iter(entry))


def waits_on(steps: list[dict[str, Any]], step_id: str) -> set[str]:
    """Every step a Cloud Build step waits for, directly or through others."""
    by_id = {s["id"]: s for s in steps if "id" in s}
    todo, seen = list(by_id[step_id].get("waitFor", [])), set()
    while todo:
        dep = todo.pop()
        if dep not in seen and dep != "-":
            seen.add(dep)
            todo += by_id[dep].get("waitFor", [])
    return seen


# --- the chapter's project: the ct job has Postgres, its env and the migrations first ----------

def test_circleci_ct_runs_on_postgres_after_the_migrations(tmp_path: Path) -> None:
    config = sd_outputs(tmp_path)[".circleci/config.yml"]
    ct = circleci_job(config, "rebar3/ct")
    primary, postgres = config["executors"][ct["executor"]]["docker"]
    assert primary == {"image": "erlang:22.1.1"}
    assert postgres == {"image": POSTGRES_IMAGE, "environment": POSTGRES_ENV}
    assert config["executors"][ct["executor"]]["environment"] == {
        "OTP_VERSION": "22.1.1", "ERL_FLAGS": "+S 2", "POSTGRES_HOST": "localhost"}
    kinds = [step_of(s) for s in ct["pre-steps"]]
    assert kinds == ["checkout", "run", "restore_cache", "run", "save_cache"]
    assert ct["pre-steps"][1]["run"]["name"] == "Wait for postgres"
    assert ct["pre-steps"][3]["run"]["name"] == MIGRATE
    assert ct["pre-steps"][2]["restore_cache"]["keys"] == ["flyway-13.10.0"]
    assert ct["pre-steps"][4]["save_cache"] == {"key": "flyway-13.10.0",
                                                "paths": ["~/flyway-13.10.0"]}
    for other in ("rebar3/compile", "rebar3/xref", "rebar3/dialyzer"):
        assert circleci_job(config, other)["executor"] == "erlang"
        assert "pre-steps" not in circleci_job(config, other)
    assert _reference_errors(config) == []


def test_github_ct_job_has_postgres_with_health_and_migrates_first(tmp_path: Path) -> None:
    jobs = sd_outputs(tmp_path)[".github/workflows/ci.yml"]["jobs"]
    ct = jobs["ct"]
    assert ct["services"] == {"postgres": {
        "image": POSTGRES_IMAGE, "env": POSTGRES_ENV, "ports": ["5432:5432"],
        "options": '--health-cmd "pg_isready -U discovery" --health-interval 2s '
                   "--health-timeout 5s --health-retries 60"}}
    options = shlex.split(ct["services"]["postgres"]["options"])
    assert options[:2] == ["--health-cmd", "pg_isready -U discovery"]
    assert ct["env"] == {"ERL_FLAGS": "+S 2", "POSTGRES_HOST": "localhost"}
    names = [s.get("name") or s["run"] for s in ct["steps"]]
    assert names.index("Check out") < names.index("Cache ~/flyway-13.10.0") \
        < names.index(MIGRATE) < names.index("rebar3 ct")
    assert "services" not in jobs["xref"]
    assert "services" not in jobs["dialyzer"]


def test_cloudbuild_ct_waits_for_postgres_and_the_migrations(tmp_path: Path) -> None:
    steps = sd_outputs(tmp_path)["cloudbuild.yaml"]["steps"]
    ids = [s.get("id") for s in steps]
    start = steps[ids.index("service-postgres")]
    assert start["args"] == ["run", "--detach", "--network=cloudbuild", "--name=postgres",
                             *(f"--env={k}={v}" for k, v in POSTGRES_ENV.items()),
                             POSTGRES_IMAGE]
    assert waits_on(steps, "ct") >= {"service-postgres", "services-ready", "ct-setup-1"}
    assert waits_on(steps, "ct-setup-1") >= {"services-ready"}
    assert "docker exec postgres sh -c 'pg_isready -U discovery'" in \
        steps[ids.index("services-ready")]["args"][1]
    for step_id in ("ct-setup-1", "ct"):
        assert "POSTGRES_HOST=postgres" in steps[ids.index(step_id)]["env"]
    assert "POSTGRES_HOST=postgres" not in steps[ids.index("xref")]["env"]
    assert ids.index("ct") < ids.index("services-stop")
    assert steps[ids.index("services-stop")]["waitFor"] == ["ct"]


# --- every oracle of every target, with services, setup and secrets present -------------------

def test_all_targets_pass_their_oracles_with_services(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    render(tmp_path / "a", everything(service_secret=True), ("github", "cloudbuild"))
    render(tmp_path / "b", everything(service_secret=False), ("circleci",))
    workflow = tmp_path / "a/.github/workflows/ci.yml"
    oracles.check_jsonschema("vendor.github-workflows", workflow, SD / ".github/workflows/ci.yml")
    oracles.actionlint(workflow, SD / ".github/workflows/ci.yml")
    zizmor(workflow, SD / ".github/workflows/ci.yml")
    oracles.workflow_parser(workflow, SD / ".github/workflows/ci.yml")
    oracles.check_jsonschema("vendor.cloudbuild", tmp_path / "a/cloudbuild.yaml")
    oracles.check_jsonschema("vendor.circle-ci", tmp_path / "b/.circleci/config.yml")
    oracles.yamllint(workflow, tmp_path / "a/cloudbuild.yaml", tmp_path / "b/.circleci/config.yml")


def test_generated_scripts_pass_shellcheck(tmp_path: Path) -> None:
    circle = render(tmp_path, everything(service_secret=False), ("circleci",))
    config = circle[".circleci/config.yml"]
    [workflow] = config["workflows"].values()
    scripts = [s["run"]["command"] for job in workflow["jobs"]
               for s in _workflow_job(job)[1].get("pre-steps", []) if step_of(s) == "run"]
    steps = render(tmp_path, everything(service_secret=True), ("cloudbuild",))["cloudbuild.yaml"]
    scripts += [s["args"][1].replace("$$", "$") for s in steps["steps"]
                if s.get("entrypoint") in ("bash", "sh")]
    for i, script in enumerate(scripts):
        (tmp_path / f"s{i}.sh").write_text("#!/bin/bash\nset -eo pipefail\n" + script)
    oracles.shellcheck(*sorted(tmp_path.glob("s*.sh")))


def test_only_eunit_and_ct_get_services_on_every_target(tmp_path: Path) -> None:
    out = render(tmp_path, everything(service_secret=False), ("circleci",))
    config = out[".circleci/config.yml"]
    [executor] = [name for name in config["executors"] if name != "erlang"]
    assert executor == "erlang_db_message_queue"
    assert _reference_errors(config) == []
    # eunit, ct and cover run in one coverage job, with the services; xref and dialyzer without
    coverage = config["jobs"]["ct"]
    assert coverage["executor"] == executor
    assert {job for job in ("xref", "dialyzer")
            if circleci_job(config, f"rebar3/{job}")["executor"] == executor} == set()
    dialyzer = circleci_job(config, "rebar3/dialyzer")["pre-steps"]
    assert [step_of(s) for s in dialyzer] == ["checkout", "run"]  # its setup, no service wait
    waits = [s["run"]["name"] for s in coverage["steps"]
             if step_of(s) == "run" and s["run"]["name"].startswith("Wait")]
    assert waits == ["Wait for db, message-queue"]  # once, before eunit's and ct's setup
    assert all(step_of(s) in BUILTIN_STEPS for s in dialyzer)
    jobs = render(tmp_path, everything(True), ("github",))[".github/workflows/ci.yml"]["jobs"]
    assert {name for name, job in jobs.items() if "services" in job} == {"ct"}  # eunit+ct+cover
    steps = render(tmp_path, everything(True), ("cloudbuild",))["cloudbuild.yaml"]["steps"]
    with_host = {s["id"] for s in steps if any("DB_HOST=db" == e for e in s.get("env", []))}
    assert with_host == {"eunit", "ct-setup-1", "ct-setup-2", "ct"}
    assert "services-ready" in waits_on(steps, "eunit")
    assert "services-ready" not in waits_on(steps, "dialyzer-setup-1")


def test_secrets_are_referenced_never_written(tmp_path: Path) -> None:
    jobs = render(tmp_path, everything(True), ("github",))[".github/workflows/ci.yml"]["jobs"]
    # erlang.env's secret: in the rebar3 step only, not job-wide (tests/targets/test_github.py)
    assert "HEX_API_KEY" not in jobs["xref"]["env"]
    [xref] = [s for s in jobs["xref"]["steps"] if s.get("run") == "rebar3 xref"]
    assert xref["env"] == {"HEX_API_KEY": "${{ secrets.HEX_API_KEY }}"}
    assert jobs["ct"]["services"]["db"]["env"] == {"POSTGRES_PASSWORD": "pa$$word"}
    queue = jobs["ct"]["services"]["message-queue"]
    assert queue["env"] == {"LICENSE_KEY": "${{ secrets.LICENSE_KEY }}"}
    assert queue["ports"] == ["5672:5672", "15672:15672"]
    assert "options" not in queue  # no health command: GitHub starts the steps at once
    config = render(tmp_path, everything(False), ("circleci",))[".circleci/config.yml"]
    assert "HEX_API_KEY" not in str(config)  # CircleCI adds the project variable by itself
    steps = render(tmp_path, everything(True), ("cloudbuild",))["cloudbuild.yaml"]["steps"]
    [queue] = [s for s in steps if s.get("id") == "service-message-queue"]
    assert queue["secretEnv"] == ["LICENSE_KEY"]
    assert "--env=LICENSE_KEY" in queue["args"]
    [db_start] = [s for s in steps if s.get("id") == "service-db"]
    assert "--env=POSTGRES_PASSWORD=pa$$$$word" in db_start["args"]  # $ escaped for Cloud Build
    ct = next(s for s in steps if s.get("id") == "ct")
    assert "HEX_API_KEY" in ct["secretEnv"]
    assert not any("HEX_API_KEY" in e for e in ct["env"])


def test_wait_script_really_waits_for_a_port(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        script = environment.wait_script([environment.port_probe("127.0.0.1", port)])
        assert subprocess.run(["bash", "-c", script], check=False).returncode == 0
    monkeypatch.setattr(environment, "WAIT_TRIES", 2)
    monkeypatch.setattr(environment, "WAIT_SECONDS", 0)
    script = environment.wait_script([environment.port_probe("127.0.0.1", port)])
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "not ready" in done.stderr


def test_names_like_secrets() -> None:
    assert [environment.looks_secret(n) for n in ("HEX_API_KEY", "GITHUB_TOKEN", "app_secret",
            "POSTGRES_PASSWORD", "ERL_FLAGS", "DB_HOST")] == [True, True, True, False, False, False]


# --- bad inputs: exit 2, every problem located at its line and column ---------------------------

MINIMAL = 'version: 1\nname: hello\nregistry: ghcr.io/acme\nerlang:\n  otp: "26.2.5"\n'


@pytest.mark.parametrize(("extra", "expected"), [
    ("  services:\n    - name: db\n      ports: [5432]\n",
     "cigen.yaml:7:7: erlang.services[0].image: required key is missing; add it, e.g. "
     "image: postgres:16-alpine"),
    ("  services:\n    - {name: db, image: 'postgres:18'}\n    - {name: db, image: 'redis:8'}\n",
     'cigen.yaml:8:14: erlang.services[1].name: "db" is used twice'),
    ("  services:\n    - {name: db, image: 'postgres:18', ports: [5432, 70000]}\n",
     "cigen.yaml:7:54: erlang.services[0].ports[1]: 70000 is out of range: 1 to 65535"),
    ("  env: {HEX_API_KEY: abc123}\n",
     "cigen.yaml:6:22: erlang.env.HEX_API_KEY: HEX_API_KEY is named like a secret (TOKEN, SECRET "
     "or KEY), so its value may not be in the file; keep it in the CI's secret store and write "
     "HEX_API_KEY: {secret: HEX_API_KEY}"),
    ("  services:\n    - name: minio\n      image: minio/minio:RELEASE.2025-09-07T16-13-09Z\n"
     "      ports: [9000]\n      env: {MINIO_SECRET_KEY: minio123}\n",
     "cigen.yaml:10:31: erlang.services[0].env.MINIO_SECRET_KEY: MINIO_SECRET_KEY is named like"),
    ("  env: {API_TOKEN: {secret: TOKEN}}\n",
     'cigen.yaml:6:29: erlang.env.API_TOKEN.secret: "TOKEN" is not API_TOKEN'),
    ("  services:\n    - {name: db, image: postgres, ports: [5432]}\n",
     'cigen.yaml:7:25: erlang.services[0].image: "postgres" has no tag'),
    ("  services:\n    - {name: db, image: 'postgres:latest', ports: [5432]}\n",
     'cigen.yaml:7:25: erlang.services[0].image: "postgres:latest" moves with every release'),
    ("  services:\n    - {name: db, image: 'postgres:18', ports: [5432], health: 'a \"b\"'}\n",
     'cigen.yaml:7:63: erlang.services[0].health: "a \\"b\\"" is not a one-line command'),
    ("  env: {DB_HOST: 127.0.0.1}\n  services:\n    - {name: db, image: 'postgres:18', "
     "ports: [1]}\n",
     "cigen.yaml:6:9: erlang.env.DB_HOST: cigen sets DB_HOST to the host of service db"),
    ("  checks: [xref]\n  services:\n    - {name: db, image: 'postgres:18', ports: [5432]}\n"
     "publish: {after: [xref]}\n",
     "cigen.yaml:8:5: erlang.services: only eunit and ct run with services"),
    ("  services:\n    - {name: db, image: 'postgres:18', ports: [1], env: {K: {secret: K}}}\n",
     "cigen.yaml:7:61: erlang.services[0].env.K: CircleCI cannot pass a secret to a service"),
    ("  env: {K: {secret: K}}\ncloudbuild: {run_checks: true}\n",
     "cigen.yaml:6:12: erlang.env.K: Cloud Build takes this secret from Secret Manager: add "
     "cloudbuild.secrets.K"),
    ("  setup:\n    ct: [{name: x, run: 'echo ${{ github.ref }}'}]\n",
     "cigen.yaml:7:25: erlang.setup.ct[0].run: has ${{, which GitHub would expand"),
    ("  services:\n    - {name: db, image: 'postgres:18'}\n",
     "cigen.yaml:7:7: erlang.services[0]: has no ports: GitHub Actions runs the checks"),
])
def test_bad_input_exits_2_at_its_line_and_column(
    extra: str, expected: str, tmp_path: Path, run_line: Callable[..., Result]
) -> None:
    (tmp_path / "cigen.yaml").write_text(MINIMAL + extra)
    result = run_line("cigen render", cwd=tmp_path)
    assert result.code == 2, result
    assert any(line.startswith(expected) for line in result.stderr.splitlines()), result
    assert [p.name for p in tmp_path.iterdir()] == ["cigen.yaml"]  # nothing written


def test_a_throwaway_password_may_be_written_plainly(tmp_path: Path) -> None:
    text = MINIMAL + "  env: {DB_PASSWORD: secret123}\n"
    (tmp_path / "cigen.yaml").write_text(text)
    project = load_project(tmp_path / "cigen.yaml", CI_TARGETS)
    assert project.erlang.env == {"DB_PASSWORD": "secret123"}


def test_service_discovery_services_are_pinned_and_current() -> None:
    project = load_project(SD / "cigen.yaml")
    [postgres] = project.erlang.services
    assert re.fullmatch(r"postgres:\d+\.\d+-alpine@sha256:[0-9a-f]{64}", postgres.image)
    assert (postgres.ports, postgres.health) == ((5432,), "pg_isready -U discovery")
    assert list(project.erlang.setup) == ["ct"]
