from __future__ import annotations

import json
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

import pytest

from cigen import schema
from cigen.model import CircleCI, CloudBuild, Erlang, GitHub, Image, Project, Publish
from tests.conftest import FIXTURES, REPO
from tests.helpers import load_project
from tests.oracles import run, tool

SCHEMA_FILE = REPO / "schemas" / "cigen.schema.json"
SCHEMA = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    run(tool("check-jsonschema"), "--check-metaschema", SCHEMA_FILE)


def test_the_package_ships_the_same_schema() -> None:
    assert schema.text() == SCHEMA_FILE.read_text(encoding="utf-8")


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" not in node:
        return node
    target = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


def properties(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(dotted path, resolved schema, required?) of every property at every level."""
    node = _resolve(node)
    # `else` holds a requirement with an exception: registry, unless image is false
    required = set(node.get("required", [])) | set(node.get("else", {}).get("required", []))
    for key, sub in node.get("properties", {}).items():
        yield f"{path}{key}", _resolve(sub), key in required
        yield from properties(sub, f"{path}{key}.")
    if isinstance(node.get("items"), dict):
        yield from properties(node["items"], f"{path}[].")
    if isinstance(node.get("additionalProperties"), dict):
        yield from properties(node["additionalProperties"], f"{path}*.")


ALL = list(properties(SCHEMA))


def test_the_walk_sees_nested_properties() -> None:
    seen = {path for path, _, _ in ALL}
    nested = {"erlang.otp", "erlang.services.[].health", "erlang.setup.*.[].run", "circleci.orbs"}
    assert nested <= seen


def test_every_property_has_a_description() -> None:
    assert [path for path, node, _ in ALL if not node.get("description")] == []


def test_every_optional_property_documents_its_default() -> None:
    """A static `default`, or a computed one the description states ("Default: ...")."""
    undocumented = [
        path for path, node, required in ALL
        if not required and "default" not in node and "Default:" not in node["description"]
    ]
    assert undocumented == []


@pytest.mark.parametrize(("path", "node"), [(p, n) for p, n, _ in ALL if "default" in n])
def test_static_defaults_are_valid_values(path: str, node: dict[str, Any]) -> None:
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

    validator = Draft202012Validator({**node, "$defs": SCHEMA["$defs"]})
    errors = list(validator.iter_errors(node["default"]))
    assert errors == []


def test_static_default_reads_the_schema_and_hands_out_copies() -> None:
    assert schema.static_default("erlang.checks") == ["xref", "dialyzer", "ct"]
    schema.static_default("erlang.checks").append("eunit")
    assert schema.static_default("erlang.checks") == ["xref", "dialyzer", "ct"]
    assert schema.static_default("publish.branches") == ["main"]
    assert schema.static_default("image.os") == "alpine"


def test_static_default_of_a_computed_default_is_an_error() -> None:
    with pytest.raises(KeyError):
        schema.static_default("image.base")


def test_apply_defaults_fills_missing_keys_and_keeps_given_ones() -> None:
    given = {"version": 1, "name": "x", "registry": "ghcr.io/a",
             "erlang": {"otp": "26.2.5", "services": [{"name": "db", "image": "postgres:16"}]},
             "publish": {"branches": []}}
    snapshot = json.dumps(given, sort_keys=True)
    filled = schema.apply_defaults(given)
    assert json.dumps(given, sort_keys=True) == snapshot  # the input is not modified
    assert filled["publish"] == {"branches": [], "after": ["ct"], "tags": ["v*"],
                                 "sign": False}
    assert filled["erlang"]["checks"] == ["xref", "dialyzer", "ct"]
    db = {"name": "db", "image": "postgres:16", "env": {}, "ports": []}
    assert filled["erlang"]["services"] == [db]
    assert filled["image"]["os"] == "alpine"
    assert "base" not in filled["image"]
    assert filled["targets"] == ["circleci", "github", "cloudbuild"]


def test_the_minimal_descriptor_resolves_to_the_documented_defaults() -> None:
    frozen = MappingProxyType
    expected = Project(
        source="cigen.yaml", name="hello", image_name="hello", registry="ghcr.io/acme",
        targets=("circleci", "github", "cloudbuild"),
        erlang=Erlang(otp="26.2.5", rebar3="3.27.0", release_profile="prod",
                      checks=("xref", "dialyzer", "ct"), env=frozen({}), services=(),
                      setup=frozen({})),
        image=Image(os="alpine", base="erlang:26.2.5-alpine", runner="alpine:3.24",
                    dockerfile="Dockerfile", generate=True, kaniko_dockerfile="ci/Dockerfile.cb",
                    target="runner", build_packages=("git",),
                    runtime_packages=("openssl", "ncurses", "libstdc++"), ports=(),
                    env=frozen({"COOKIE": "hello", "RELX_OUT_FILE_PATH": "/tmp"}), keep_git=True,
                    defaulted=frozenset({"base", "runner", "target"})),
        publish=Publish(branches=("main",), after=("ct",), cache_from="main"),
        circleci=CircleCI(workflow="build-test-maybe-publish",
                          orbs=frozen({"rebar3": "tsloughter/rebar3@0.8.1",
                                       "gcp-gcr": "circleci/gcp-gcr@0.16.10"}),
                          machine_image="ubuntu-2404:2025.09.1", registry_auth="docker-login",
                          context=None),
        github=GitHub(workflow_file=".github/workflows/ci.yml", runs_on="ubuntu-24.04",
                      cache="gha", auth="ghcr", pin_actions=True),
        cloudbuild=CloudBuild(file="cloudbuild.yaml",
                              kaniko_image="ghcr.io/osscontainertools/kaniko:v1.28.3", cache=True,
                              cache_ttl="8h", substitutions=frozen({}),
                              destination="ghcr.io/acme/hello:$COMMIT_SHA", tags=(),
                              cache_repo=None, builder="kaniko",
                              docker_image="gcr.io/cloud-builders/docker:24.0.9",
                              run_checks=False, timeout=None, machine_type=None, logging=None,
                              service_account=None, secrets=frozen({}),
                              registry_auth="docker-login",
                              registry_username_secret="projects/$PROJECT_ID/secrets/"
                              "registry-username/versions/latest",
                              registry_password_secret="projects/$PROJECT_ID/secrets/"
                              "registry-password/versions/latest",
                              release_file="cloudbuild.release.yaml"),
        user_dockerfile=None,
    )
    assert load_project(FIXTURES / "minimal" / "cigen.yaml") == expected


def test_registry_host_picks_the_auth_defaults() -> None:
    project = load_project(FIXTURES / "service_discovery" / "cigen.yaml")
    assert (project.circleci.registry_auth, project.github.auth) == ("gcr", "gcp")
    assert project.publish.cache_from == "master"
