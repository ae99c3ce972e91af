"""What init reads from each kind of file (issue #15): where images are pushed (Cloud Build,
CircleCI, GitHub), the services the tests need (a CircleCI executor, GitHub services, a compose
file), the OTP release and OS of the Dockerfile, and the files that do not parse. Each case is
a few hand-written files; the descriptor init writes must load and render."""

from __future__ import annotations

from pathlib import Path

import pytest

from cigen import commands
from cigen.init import init
from cigen.init.infer import Findings, infer
from tests.helpers import load_project

RELEASE = '{relx, [{release, {shop, "1.0.0"}, [shop]}]}.\n'


def project(root: Path, files: dict[str, str]) -> Path:
    """A rebar3 project with a release, OTP from .tool-versions, a ct suite, and `files`."""
    for rel, text in {"rebar.config": RELEASE, ".tool-versions": "erlang 26.2.5\n",
                      "test/shop_SUITE.erl": "-module(shop_SUITE).\n", **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, "utf-8")
    return root


def written(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Findings, str]:
    """init's findings and report; the descriptor it wrote loads and renders."""
    found = infer(root)
    assert init(root) == 0
    report = capsys.readouterr().out
    load_project(root / "cigen.yaml")
    assert commands.render(root / "cigen.yaml", [], force=True) == 0
    capsys.readouterr()
    return found, report


# Where images are pushed --------------------------------------------------------------------

CLOUDBUILD = """\
steps:
  - name: gcr.io/cloud-builders/docker
    args: [build, -t, 'europe-docker.pkg.dev/acme-prod/services/shop:$SHORT_SHA', .]
  - name: gcr.io/kaniko-project/executor:v1.23.0
    args: ['--destination=$_REPO/shop:$COMMIT_SHA', --cache=true]
images: ['europe-docker.pkg.dev/acme-prod/services/shop:$SHORT_SHA']
substitutions:
  _REPO: europe-docker.pkg.dev/acme-prod/services
"""


def test_a_registry_found_in_cloud_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found, report = written(project(tmp_path, {"cloudbuild.yaml": CLOUDBUILD}), capsys)
    assert (found.registry.value, found.registry.source) == (
        "europe-docker.pkg.dev/acme-prod/services",
        "cloudbuild.yaml:2 (docker ... europe-docker.pkg.dev/acme-prod/services/shop:$SHORT_SHA)")
    assert found.destination.value is None  # the Kaniko step pushes there too ($_REPO put in)
    assert load_project(tmp_path / "cigen.yaml").registry == found.registry.value
    assert "registry: europe-docker.pkg.dev/acme-prod/services" in report


def test_a_cloud_build_destination_with_a_project_variable_is_kept(tmp_path: Path) -> None:
    root = project(tmp_path, {"cloudbuild.yaml": "steps:\n  - name: gcr.io/kaniko-project/"
                              "executor:v1.23.0\n    args: [--destination=us.gcr.io/$PROJECT_ID/"
                              "shop:$COMMIT_SHA]\n"})
    assert init(root) == 0
    cloudbuild = load_project(root / "cigen.yaml").cloudbuild
    assert cloudbuild.destination == "us.gcr.io/$PROJECT_ID/shop:$COMMIT_SHA"


CIRCLECI = """\
version: 2.1
jobs:
  publish:
    machine: {image: 'ubuntu-2204:2024.01.1'}
    environment:
      IMAGE: quay.io/acme/shop-server
    steps:
      - checkout
      - run:
          name: Build and push
          command: |
            docker build --tag "$IMAGE:$CIRCLE_SHA1" .
            docker push "$IMAGE:$CIRCLE_SHA1"
workflows:
  main:
    jobs:
      - publish
"""


def test_a_registry_found_in_circleci(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found, report = written(project(tmp_path, {".circleci/config.yml": CIRCLECI}), capsys)
    assert (found.registry.value, found.image_name.value) == ("quay.io/acme", "shop-server")
    assert found.registry.source == ".circleci/config.yml:9 (docker ... quay.io/acme/shop-server:" \
                                    "$CIRCLE_SHA1)"
    project_ = load_project(tmp_path / "cigen.yaml")
    assert (project_.registry, project_.image_name) == ("quay.io/acme", "shop-server")
    assert "image_name: shop-server" in report


def test_the_books_build_images_script_names_the_registry(tmp_path: Path) -> None:
    root = project(tmp_path, {".circleci/config.yml": "jobs:\n  push:\n    steps:\n      - run: "
                              "ci/build_images.sh -p -t runner -r us.gcr.io/adoptingerlang\n"})
    found = infer(root)
    assert (found.registry.value, found.image_name.value) == ("us.gcr.io/adoptingerlang", None)


GITHUB = """\
on: {push: {branches: [main]}}
env:
  REGISTRY: ghcr.io
jobs:
  image:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - uses: docker/build-push-action@v6
        with:
          push: true
          tags: |
            ${{ env.REGISTRY }}/acme/shop:${{ github.sha }}
            ${{ env.REGISTRY }}/acme/shop:latest
"""


def test_a_registry_found_in_github(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found, _ = written(project(tmp_path, {".github/workflows/image.yml": GITHUB}), capsys)
    assert (found.registry.value, found.registry.source) == (
        "ghcr.io/acme",
        ".github/workflows/image.yml:12 (tags: ghcr.io/acme/shop:${{ github.sha }})")
    assert load_project(tmp_path / "cigen.yaml").registry == "ghcr.io/acme"


def test_ci_files_that_push_to_two_registries_are_a_conflict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found, report = written(project(tmp_path, {".circleci/config.yml": CIRCLECI,
                                               "cloudbuild.yaml": CLOUDBUILD}), capsys)
    assert found.registry.value == "quay.io/acme"  # CircleCI comes first
    assert found.destination.value == "europe-docker.pkg.dev/acme-prod/services/shop:$COMMIT_SHA"
    assert ("registry: quay.io/acme from .circleci/config.yml:9 (docker ... quay.io/acme/"
            "shop-server:$CIRCLE_SHA1), not europe-docker.pkg.dev/acme-prod/services from "
            "cloudbuild.yaml:2") in report


# The services the tests need ----------------------------------------------------------------

EXECUTOR = """\
version: 2.1
orbs:
  rebar3: tsloughter/rebar3@0.7.0
executors:
  with_db:
    docker:
      - image: cimg/erlang:26.2.5
        environment:
          ERL_FLAGS: "+S 2"
      - image: circleci/postgres:11-alpine-ram
        name: db
        environment:
          - POSTGRES_USER: shop
          - POSTGRES_PASSWORD: shop
          - API_TOKEN: not-to-be-copied
      - image: redis
workflows:
  test:
    jobs:
      - rebar3/ct:
          executor: with_db
"""


def test_services_from_a_circleci_executor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found, report = written(project(tmp_path, {".circleci/config.yml": EXECUTOR}), capsys)
    erlang = load_project(tmp_path / "cigen.yaml").erlang
    assert [(s.name, s.image, dict(s.env)) for s in erlang.services] == [
        ("db", "circleci/postgres:11-alpine-ram", {"POSTGRES_USER": "shop",
                                                   "POSTGRES_PASSWORD": "shop"})]
    assert dict(erlang.env) == {"ERL_FLAGS": "+S 2"}
    assert erlang.checks == ("ct",)
    assert (".circleci/config.yml:10: service db: API_TOKEN is named like a secret: keep it in "
            "the CI's secret store; not carried over") in report
    assert ('.circleci/config.yml:16: service redis not carried over: "redis" has no tag'
            in report)
    assert found.services.source == "db: .circleci/config.yml:10"


SERVICES = """\
on: {push: {branches: [main]}}
jobs:
  test:
    runs-on: ubuntu-24.04
    services:
      postgres:
        image: postgres:16.3
        ports: ['5433:5432']
        env:
          POSTGRES_PASSWORD: ${{ secrets.DB_PASSWORD }}
          POSTGRES_DB: shop
        options: >-
          --health-cmd "pg_isready -U postgres"
          --health-interval 10s
      cache: redis:7.2.5
    steps:
      - run: rebar3 ct
"""


def test_services_from_github(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, report = written(project(tmp_path, {".github/workflows/ci.yml": SERVICES}), capsys)
    services = load_project(tmp_path / "cigen.yaml").erlang.services
    assert [(s.name, s.image, dict(s.env), s.ports, s.health) for s in services] == [
        ("postgres", "postgres:16.3", {"POSTGRES_DB": "shop"}, (5432,), "pg_isready -U postgres")]
    assert ("service postgres: POSTGRES_PASSWORD holds a CI expression; not carried over"
            in report)
    assert (".github/workflows/ci.yml:15: service cache not carried over: no port known, and "
            "GitHub Actions reaches a service only through mapped ports") in report


COMPOSE = """\
services:
  app:
    build: .
  db:
    image: "postgres:${PG_VERSION:-16.3}"
    environment:
      - POSTGRES_PASSWORD=shop
      - POSTGRES_DB
    ports:
      - target: 5432
        published: 15432
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "postgres"]
  migrate:
    image: flyway/flyway:10.15
    command: migrate
"""


def test_services_from_docker_compose(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, report = written(project(tmp_path, {"docker-compose.yml": COMPOSE}), capsys)
    services = load_project(tmp_path / "cigen.yaml").erlang.services
    assert [(s.name, s.image, dict(s.env), s.ports, s.health) for s in services] == [
        ("db", "postgres:16.3", {"POSTGRES_PASSWORD": "shop"}, (5432,),
         "pg_isready -U postgres")]
    assert "docker-compose.yml:2: service app is built here" in report
    assert "docker-compose.yml:4: service db: POSTGRES_DB has no value in the file" in report
    assert "docker-compose.yml:14: service migrate publishes no port" in report


def test_a_compose_file_a_ci_file_starts_through_make_is_read(tmp_path: Path) -> None:
    root = project(tmp_path, {
        "Makefile": "test-env:\n\tdocker compose -f ci/compose.yaml up -d\n\nt:\n\trebar3 eunit\n",
        "ci/compose.yaml": "services:\n  kafka:\n    image: bitnami/kafka:3.7.0\n    ports: "
                           "['9092:9092']\n",
        ".github/workflows/ci.yml": "on: push\njobs:\n  t:\n    runs-on: ubuntu-24.04\n    "
                                   "steps:\n      - run: make test-env t\n"})
    found = infer(root)
    assert [s["name"] for s in found.services.value] == ["kafka"]
    assert found.checks.value == ("eunit",)
    assert found.checks.source == "what the CI files run: eunit (Makefile:4)"


def test_services_with_no_check_that_runs_tests_are_not_written(tmp_path: Path) -> None:
    root = project(tmp_path, {"docker-compose.yml": COMPOSE, ".github/workflows/ci.yml":
                              "on: push\njobs:\n  t:\n    steps:\n      - run: rebar3 xref\n"})
    found = infer(root)
    assert found.services.value == ()
    assert any("only eunit and ct run with services" in note for note in found.notes)


# The Dockerfile, .tool-versions, rebar.config -------------------------------------------------

@pytest.mark.parametrize(("base", "conflict"), [
    ("erlang:22.0.7", True),  # the official image of that tag is Debian: the tag disagrees
    ("gcr.io/acme/erlang-builder:22.0.7", False),  # the tag says nothing of the OS
])
def test_apk_in_the_builder_stage_says_alpine(tmp_path: Path, base: str, conflict: bool) -> None:
    root = project(tmp_path, {"Dockerfile": f"FROM {base} AS builder\nRUN apk add --no-cache "
                              "git\nFROM alpine:3.20 AS runner\n", ".tool-versions": ""})
    found = infer(root)
    assert (found.otp.value, found.os.value) == ("22.0.7", "alpine")
    assert found.os.source == "Dockerfile:2 (RUN apk add)"
    os_conflicts = [c for c in found.conflicts if c.key == "image.os"]
    assert [str(c.other.value) for c in os_conflicts] == (["debian"] if conflict else [])


def test_a_runner_on_another_os_is_a_conflict(tmp_path: Path) -> None:
    root = project(tmp_path, {"Dockerfile": "ARG BASE=erlang:26.2.5\nFROM $BASE AS builder\n"
                              "RUN apt-get update\nFROM alpine:3.20\n"})
    found = infer(root)
    assert (found.otp.value, found.os.value) == ("26.2.5", "debian")  # the ARG's default
    assert [(c.key, c.other.value) for c in found.conflicts] == [("image.os", "alpine")]


def test_an_otp_older_than_minimum_otp_vsn_is_a_conflict(tmp_path: Path) -> None:
    root = project(tmp_path, {"rebar.config": RELEASE + '{minimum_otp_vsn, "27.0"}.\n'})
    found = infer(root)
    assert [str(c) for c in found.conflicts] == [
        'erlang.otp: 26.2.5 from .tool-versions:1 (erlang 26.2.5), not 27.0 from rebar.config:2 '
        '({minimum_otp_vsn, "27.0"}): rebar3 stops on an OTP older than minimum_otp_vsn; set '
        "erlang.otp to one it takes"]


def test_a_rebar3_that_does_not_support_the_otp_is_not_written(tmp_path: Path) -> None:
    root = project(tmp_path, {".tool-versions": "erlang 26.2.5\nrebar 3.14.0\n"})
    found = infer(root)
    assert found.rebar3.value is None
    assert any(n.startswith(".tool-versions:2 (rebar 3.14.0): rebar3 3.14.0 is not written")
               for n in found.notes)


def test_checks_follow_the_ci_and_what_rebar_config_adds_is_a_conflict(tmp_path: Path) -> None:
    root = project(tmp_path, {
        "rebar.config": RELEASE + "{xref_checks, [undefined_function_calls]}.\n",
        ".github/workflows/ci.yml": "on: push\njobs:\n  t:\n    steps:\n      - run: rebar3 do "
                                    "eunit, ct --cover\n"})
    found = infer(root)
    assert found.checks.value == ("eunit", "ct", "cover")
    assert [(c.key, c.other.value, c.other.where) for c in found.conflicts] == [
        ("erlang.checks", "xref", "rebar.config:2")]


def test_set_up_steps_come_from_an_orb_checks_pre_steps(tmp_path: Path) -> None:
    root = project(tmp_path, {".circleci/config.yml": """\
orbs: {rebar3: tsloughter/rebar3@0.7.0}
workflows:
  w:
    jobs:
      - rebar3/ct:
          pre-steps:
            - checkout
            - restore_cache: {keys: [tool-1.2]}
            - run: {name: Migrate, command: "tools/migrate up"}
            - save_cache: {key: tool-1.2, paths: [~/tool]}
"""})
    assert init(root) == 0
    setup = load_project(root / "cigen.yaml").erlang.setup["ct"]
    assert [(s.name, s.run, s.cache and (s.cache.path, s.cache.key)) for s in setup] == [
        ("Migrate", "tools/migrate up\n", ("~/tool", "tool-1.2"))]


def test_the_debian_image_when_alpines_is_past_its_support(tmp_path: Path) -> None:
    found = infer(project(tmp_path, {".tool-versions": "erlang 27.1\n"}))
    assert found.os.value == "debian"
    assert found.os.source.startswith("erlang:27.1-alpine is built on Alpine 3.20, past its "
                                      "support")


def test_a_ci_branch_filter_names_the_branch_without_git(tmp_path: Path) -> None:
    root = project(tmp_path, {".github/workflows/ci.yml": "on:\n  pull_request:\n    branches: "
                              "['release/*', develop]\njobs: {}\n"})
    found = infer(root)
    assert (found.branch.value, found.branch.source) == (
        "develop", ".github/workflows/ci.yml:3 (on.pull_request.branches)")


# Files that do not parse --------------------------------------------------------------------

@pytest.mark.parametrize(("rel", "text", "warning"), [
    (".circleci/config.yml", "jobs: [a\n", ".circleci/config.yml:2: does not parse as YAML"),
    (".github/workflows/ci.yml", "on: push\non: pull_request\n",
     ".github/workflows/ci.yml:2: does not parse as YAML (found duplicate key"),
    ("docker-compose.yml", "services:\n\t- x\n", "docker-compose.yml:2: does not parse as YAML"),
    ("cloudbuild.yaml", "steps: *nothing\n", "cloudbuild.yaml:1: does not parse as YAML"),
])
def test_a_file_that_does_not_parse_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rel: str, text: str, warning: str
) -> None:
    root = project(tmp_path, {rel: text})
    assert init(root) == 0
    report = capsys.readouterr().out
    assert f"Files that could not be read:\n  - {warning}" in report
    load_project(root / "cigen.yaml")


def test_a_dockerfile_that_does_not_parse_is_a_warning(tmp_path: Path) -> None:
    found = infer(project(tmp_path, {"Dockerfile": "FROM erlang:26\nRUN <<EOF\necho\n"}))
    assert found.warnings == ("Dockerfile:2: unterminated heredoc; end it with a line holding "
                              "only its delimiter; nothing was read from it",)
    assert found.otp.value == "26.2.5"  # .tool-versions still read
