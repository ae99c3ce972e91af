"""`overrides` (issue 16): RFC 6902 JSON Patch on the YAML files cigen writes; render writes and
check compares the patched text, and a patched file must still pass its official schema."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cigen.overrides import PatchError, patch_text, pointer
from cigen.yamlio import load_plain
from tests import oracles
from tests.conftest import FIXTURES, Result

DOC = "# marker line\nname: CI\njobs:  # the jobs\n  a:\n    steps: [x, y]\n  b: {}\n"


def patched(*operations: dict[str, Any]) -> Any:
    return load_plain(patch_text(DOC, operations))


@pytest.mark.parametrize(("operation", "expected"), [
    ({"op": "add", "path": "/jobs/c", "value": {"k": 1}},
     {"a": {"steps": ["x", "y"]}, "b": {}, "c": {"k": 1}}),
    ({"op": "add", "path": "/jobs/a/steps/0", "value": "w"}, {"a": {"steps": ["w", "x", "y"]},
                                                             "b": {}}),
    ({"op": "add", "path": "/jobs/a/steps/-", "value": "z"}, {"a": {"steps": ["x", "y", "z"]},
                                                             "b": {}}),
    ({"op": "remove", "path": "/jobs/b"}, {"a": {"steps": ["x", "y"]}}),
    ({"op": "remove", "path": "/jobs/a/steps/1"}, {"a": {"steps": ["x"]}, "b": {}}),
    ({"op": "replace", "path": "/jobs/b", "value": 3}, {"a": {"steps": ["x", "y"]}, "b": 3}),
    ({"op": "move", "from": "/jobs/a/steps", "path": "/jobs/b/steps"},
     {"a": {}, "b": {"steps": ["x", "y"]}}),
    ({"op": "copy", "from": "/jobs/a", "path": "/jobs/c"},
     {"a": {"steps": ["x", "y"]}, "b": {}, "c": {"steps": ["x", "y"]}}),
    ({"op": "test", "path": "/jobs/a/steps", "value": ["x", "y"]},
     {"a": {"steps": ["x", "y"]}, "b": {}}),
])
def test_each_operation(operation: dict[str, Any], expected: dict[str, Any]) -> None:
    assert patched(operation)["jobs"] == expected


def test_a_replaced_key_keeps_its_place_and_comments_and_the_marker_stay() -> None:
    text = patch_text(DOC, [{"op": "replace", "path": "/name", "value": "Build"}])
    assert text.startswith("# marker line\nname: Build\njobs:  # the jobs\n")


def test_pointer_escapes() -> None:
    assert pointer("/a~1b/c~0d/0") == ["a/b", "c~d", "0"]
    assert pointer("") == []
    with pytest.raises(PatchError):
        pointer("a/b")


@pytest.mark.parametrize(("operation", "why"), [
    ({"op": "remove", "path": "/jobs/c"}, "remove /jobs/c: /jobs/c does not exist"),
    ({"op": "replace", "path": "/jobs/c/x", "value": 1},
     "replace /jobs/c/x: /jobs/c/x does not exist (/jobs/c is not there)"),
    ({"op": "add", "path": "/jobs/a/steps/5", "value": 1},
     "add /jobs/a/steps/5: '5' is no position in a list of 2"),
    ({"op": "add", "path": "/jobs/a/steps/01", "value": 1},
     "add /jobs/a/steps/01: '01' is no position in a list of 2"),
    ({"op": "remove", "path": ""}, "remove (the whole file): cannot remove the whole file"),
    ({"op": "move", "from": "/jobs", "path": "/jobs/a/x"},
     "move /jobs/a/x from /jobs: cannot move a value into itself"),
    ({"op": "test", "path": "/name", "value": "Other"},
     "test /name: the value there is not the one the test expects"),
])
def test_errors_say_which_operation_and_why(operation: dict[str, Any], why: str) -> None:
    with pytest.raises(PatchError) as caught:
        patch_text(DOC, [{"op": "test", "path": "/name", "value": "CI"}, operation])
    assert caught.value.args == (1, why)


@pytest.mark.parametrize("path", sorted(
    str(p.relative_to(FIXTURES)) for pattern in ("*/.github/workflows/*.yml",
                                                  "*/.circleci/config.yml", "*/cloudbuild*.yaml")
    for p in FIXTURES.glob(pattern)))
def test_an_empty_patch_gives_back_every_byte(path: str) -> None:
    """Round trip: what no operation touches stays as cigen wrote it, comments and quotes too."""
    text = (FIXTURES / path).read_text("utf-8")
    assert patch_text(text, []) == text


# --- through render and check, on all three CIs ---------------------------------------------

OVERRIDES = """\
overrides:
  .github/workflows/ci.yml:
    - {op: add, path: /jobs/ct/env, value: {EXTRA: "1"}}
    - {op: replace, path: /jobs/ct/runs-on, value: ubuntu-22.04}
  .circleci/config.yml:
    - {op: add, path: /workflows/build-test-maybe-publish/jobs/0/rebar3~1compile/context,
       value: [org-global]}
  cloudbuild.yaml:
    - {op: add, path: /timeout, value: 3600s}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES / "minimal", tmp_path / "p",
                    ignore=shutil.ignore_patterns(".github", ".circleci", "ci", "cloudbuild*",
                                                  ".cigen"))
    return tmp_path / "p"


def test_render_writes_and_check_compares_the_patched_files(
        project: Path, run_line: Callable[..., Result]) -> None:
    config = project / "cigen.yaml"
    config.write_text(config.read_text() + OVERRIDES)
    assert run_line("cigen render", cwd=project).code == 0
    workflow = load_plain((project / ".github/workflows/ci.yml").read_text())
    assert workflow["jobs"]["ct"]["env"] == {"EXTRA": "1"}
    assert workflow["jobs"]["ct"]["runs-on"] == "ubuntu-22.04"
    circle = load_plain((project / ".circleci/config.yml").read_text())
    [first, *_] = circle["workflows"]["build-test-maybe-publish"]["jobs"]
    assert first["rebar3/compile"]["context"] == ["org-global"]
    assert load_plain((project / "cloudbuild.yaml").read_text())["timeout"] == "3600s"
    assert run_line("cigen check", cwd=project).code == 0
    oracles.check_jsonschema("vendor.github-workflows", project / ".github/workflows/ci.yml")
    oracles.check_jsonschema("vendor.circle-ci", project / ".circleci/config.yml")
    oracles.check_jsonschema("vendor.cloudbuild", project / "cloudbuild.yaml")
    oracles.run(oracles.tool("actionlint"), project / ".github/workflows/ci.yml")


@pytest.mark.parametrize(("override", "message"), [
    ("  ci/other.yml:\n    - {op: remove, path: /x}\n",
     "cigen.yaml:7:3: overrides.ci/other.yml: is not a file cigen writes here; its YAML files "
     "are: .circleci/config.yml, .github/workflows/ci.yml, cloudbuild.release.yaml, "
     "cloudbuild.yaml"),
    ("  Dockerfile:\n    - {op: remove, path: /x}\n",
     "cigen.yaml:7:3: overrides.Dockerfile: is the Dockerfile cigen writes: it takes instructions "
     "at named points (builder, builder_end, runner, runner_end), not JSON Patch operations"),
    ("  .dockerignore:\n    - {op: remove, path: /x}\n",
     "cigen.yaml:7:3: overrides..dockerignore: is not a YAML file; overrides patch YAML files "
     "only"),
    ("  cloudbuild.yaml:\n    - {op: remove, path: /nope}\n",
     "cigen.yaml:8:7: overrides.cloudbuild.yaml[0]: remove /nope: /nope does not exist"),
    ("  .github/workflows/ci.yml:\n    - {op: remove, path: /jobs}\n",
     "cigen.yaml:7:3: overrides..github/workflows/ci.yml: the patched file fails its check: "
     "$: 'jobs' is a required property"),
    ("  cloudbuild.yaml:\n    - {op: add, path: /timeout}\n",
     "cigen.yaml:8:7: overrides.cloudbuild.yaml[0].value: required key is missing"),
])
def test_a_bad_override_is_located_and_nothing_is_written(
        project: Path, run_line: Callable[..., Result], override: str, message: str) -> None:
    config = project / "cigen.yaml"
    config.write_text(config.read_text() + "overrides:\n" + override)
    before = sorted(p.name for p in project.rglob("*"))
    result = run_line("cigen render", cwd=project)
    assert result.code == 2, result
    assert result.stderr.startswith(message), result
    assert sorted(p.name for p in project.rglob("*")) == before
