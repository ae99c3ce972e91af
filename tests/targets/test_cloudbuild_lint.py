from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cigen import schema, yamlio
from cigen.descriptor import schema_problems
from cigen.model import Project
from cigen.targets import cloudbuild
from cigen.targets.cloudbuild import lint_text
from cigen.targets.cloudbuild import substitutions as subst
from tests.conftest import Result
from tests.helpers import texts

KANIKO = "gcr.io/kaniko-project/executor:v1.24.0"
_AUTH = {"name": "auth", "path": "/registry-auth"}
GOOD = {
    "steps": [{"name": KANIKO, "args": ["--dockerfile=./ci/Dockerfile.cb", "--build-arg=B=$_B",
                                        "--destination=gcr.io/$PROJECT_ID/app:$COMMIT_SHA",
                                        "--cache=true", "--cache-ttl=8h"]}],
    "substitutions": {"_B": "erlang:26"},
}


def _check(**changes: object) -> list[str]:
    data = {**GOOD, **changes}
    return lint_text(yamlio.dump(data), available={"ci/Dockerfile.cb"})


def test_a_good_config_passes() -> None:
    assert _check() == []


# Each broken config, and the words its one problem must be reported with.
BROKEN = {
    "undefined": ({"substitutions": {}}, "steps[0].args[1]: $_B is not defined"),
    "unused": ({"substitutions": {"_B": "x", "_C": "y"}}, "substitutions._C: is never used"),
    "not-user-key": ({"substitutions": {"_B": "x", "B": "y"}}, "substitutions.B: a user"),
    "latest": ({"steps": [{**GOOD["steps"][0], "name": "gcr.io/kaniko-project/executor:latest"}]},
               "steps[0].name: \"gcr.io/kaniko-project/executor:latest\" is :latest"),
    "untagged": ({"steps": [{**GOOD["steps"][0], "name": "gcr.io/kaniko-project/executor"}]},
                 "steps[0].name: \"gcr.io/kaniko-project/executor\" has no tag"),
    "dynamic": ({"substitutions": {"_B": "gcr.io/$PROJECT_ID/erlang:26"}},
                "substitutions._B: names a substitution, which expands only with"),
    "ttl": ({"steps": [{"name": KANIKO, "args": ["--cache-ttl=8 hours", "--build-arg=B=$_B"]}]},
            "steps[0].args[0]: \"8 hours\" is not a duration"),
    "timeout": ({"timeout": "20m"}, "timeout: \"20m\" is not a duration in seconds"),
    "long": ({"timeout": "90000s"}, "timeout: \"90000s\""),
    "destination": ({"steps": [{"name": KANIKO, "args": ["--destination=gcr.io/p/App:$_B"]}]},
                    "steps[0].args[0]: \"gcr.io/p/App:$_B\" is not an image reference"),
    "wait": ({"steps": [{**GOOD["steps"][0], "waitFor": ["compile"]}]},
             "steps[0].waitFor: \"compile\" is no earlier step id"),
    "secret-undefined": ({"steps": [{**GOOD["steps"][0], "secretEnv": ["TOKEN"]}]},
                         "steps[0].secretEnv: TOKEN is not in availableSecrets"),
    "secret-unused": ({"availableSecrets": {"secretManager": [
        {"versionName": "projects/p/secrets/t/versions/1", "env": "TOKEN"}]}},
        "availableSecrets: TOKEN is never used"),
    "account": ({"serviceAccount": "projects/p/serviceAccounts/a@p.iam.gserviceaccount.com"},
                "options.logging: a build with serviceAccount needs logging"),
    "machine": ({"options": {"machineType": "HUGE"}}, "options.machineType: HUGE is not one of"),
    "dockerfile": ({"steps": [{**GOOD["steps"][0],
                               "args": ["--dockerfile=./Dockerfile.cb", "--build-arg=B=$_B"]}]},
                   "steps[0].args[0]: Dockerfile.cb is not in this render"),
    "builtin": ({"steps": [{"name": KANIKO, "args": ["--build-arg=B=$_B", "$HOME"]}]},
                "steps[0].args[1]: $HOME is neither a built-in nor a user substitution"),
    # a login's Docker config in the build context would be copied into the image
    "volume-in-context": ({"steps": [{**GOOD["steps"][0], "volumes": [_AUTH]}, {
        "name": KANIKO, "volumes": [{"name": "auth", "path": "/workspace/.docker"}]}]},
        "steps[1].volumes: /workspace/.docker is not an absolute path outside /workspace"),
    "volume-once": ({"steps": [{**GOOD["steps"][0], "volumes": [_AUTH]}]},
                    "steps: volume auth is used by one step; Cloud Build wants two or more"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_config_is_reported(case: str) -> None:
    changes, expected = BROKEN[case]
    found = _check(**changes)
    assert len(found) == 1, found
    assert found[0].startswith(f"cloudbuild.yaml: {expected}"), found


def test_escaped_dollars_and_allow_loose_are_respected() -> None:
    assert _check(steps=[{"name": KANIKO, "args": ["--build-arg=B=$_B", "$$HOME"]}]) == []
    loose = {"substitutionOption": "ALLOW_LOOSE"}
    assert _check(substitutions={"_B": "x", "_C": "y"}, options=loose) == []


def test_not_a_config() -> None:
    assert lint_text("- a\n- b\n") == ["cloudbuild.yaml: (top level): is not a mapping"]
    assert lint_text("steps: []\n")[0].startswith("cloudbuild.yaml: steps: a build needs")
    assert lint_text("steps: [\n")[0].startswith("cloudbuild.yaml: not valid YAML")


def test_keys_follow_cloud_builds_template_syntax() -> None:
    assert subst.keys("$_A-${_B}x$$C$c${d}$PROJECT_ID") == ["_A", "_B", "PROJECT_ID"]
    assert subst.value_keys("${BRANCH_NAME//\\//-}$$X$y") == ["BRANCH_NAME", "y"]
    assert subst.fill("gcr.io/$PROJECT_ID/app:${_TAG}$$") == "gcr.io/x/app:x$"
    assert subst.tag_safe("$BRANCH_NAME-${TAG_NAME}$$REF_NAME") == \
        "$_SAFE_BRANCH_NAME-${_SAFE_TAG_NAME}$$REF_NAME"


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_escaped_text_has_no_substitution_and_reads_back(text: str) -> None:
    escaped = subst.escape(text)
    assert subst.keys(escaped) == []
    assert subst.fill(escaped) == text  # Cloud Build turns each $$ back into $


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="abcXYZ019._-/", min_size=1, max_size=60).filter(
    lambda b: b[0] not in "./-" and "//" not in b and not b.endswith("/")))
def test_the_tag_safe_value_yields_a_valid_tag(branch: str) -> None:
    value = subst.safe_value("BRANCH_NAME")
    out = subprocess.run(["bash", "-c", f'printf %s "{value}"'], env={"BRANCH_NAME": branch},
                         capture_output=True, text=True, check=True).stdout
    assert out == branch.replace("/", "-")
    assert subst.reference_problem(f"gcr.io/p/app:{out}", pushed=True) is None


def test_durations() -> None:
    assert subst.seconds("1h30m") == 5400
    assert subst.seconds("45s") == 45
    assert subst.is_go_duration("1h30m")
    assert not subst.is_go_duration("8 hours")


CHECKS = ("xref", "dialyzer", "eunit", "ct", "cover")


@st.composite
def descriptors(draw: st.DrawFn) -> dict[str, Any]:
    checks = draw(st.lists(st.sampled_from(CHECKS), unique=True))
    cb = {
        "builder": draw(st.sampled_from(["kaniko", "buildx"])),
        "run_checks": draw(st.booleans()),
        "cache": draw(st.booleans()),
        "tags": draw(st.lists(st.sampled_from(["$SHORT_SHA", "$REF_NAME", "v-${BUILD_ID}", "edge"]),
                              unique=True)),
    }
    if draw(st.booleans()):
        cb["timeout"] = draw(st.sampled_from(["1s", "20m", "1h30m", "24h"]))
    if cb["run_checks"] and draw(st.booleans()):
        cb["secrets"] = {"HEX_API_KEY": "projects/$PROJECT_ID/secrets/hex/versions/3"}
    if draw(st.booleans()):
        cb["substitutions"] = {"_REPO": "us-docker.pkg.dev/$PROJECT_ID/apps"}
        cb["destination"] = "$_REPO/hello:$COMMIT_SHA"
    private = {}
    if cb["builder"] == "buildx":  # Kaniko refuses private dependencies (test_private.py)
        private = draw(st.sampled_from([{}, {"hex_organizations": ["acme"]},
                                        {"git_hosts": ["github.com"]},
                                        {"hex_organizations": ["acme"], "git_hosts": ["x.org"]}]))
    return {
        "version": 1, "name": "hello", "registry": "us-docker.pkg.dev/acme/apps",
        "erlang": {"otp": "26.2.5", "checks": checks}, "private": private,
        "publish": {"after": draw(st.lists(st.sampled_from(checks), unique=True)) if checks
                    else []},
        "cloudbuild": cb,
    }


def _vendored_schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    data: dict[str, Any] = json.loads((vendor / "cloudbuild.json").read_text("utf-8"))
    return data


@settings(max_examples=60, deadline=None)
@given(descriptors())
def test_any_combination_renders_a_config_cloud_build_accepts(raw: dict[str, Any]) -> None:
    from jsonschema import Draft7Validator

    assert list(schema_problems(raw, str)) == []
    project = Project.create(schema.apply_defaults(raw))
    files = texts(project, "cloudbuild")  # asserts that it has no problems
    text = files["cloudbuild.yaml"]
    validator = Draft7Validator(_vendored_schema())
    errors = [e.message for e in validator.iter_errors(yamlio.load_plain(text))]
    assert errors == []
    assert cloudbuild.lint(project, {**files, "Dockerfile": ""}) == []


BAD_INPUTS = {
    "cache_ttl": ("  cache_ttl: 8 hours\n",
                  '3:14: cloudbuild.cache_ttl: "8 hours" is not a duration'),
    "key": ("  substitutions:\n    BASE: x\n", "4:5: cloudbuild.substitutions.BASE:"),
    "undefined": ("  destination: us.gcr.io/$PROJECT_ID/hello:$_VERSION\n",
                  "3:16: cloudbuild.destination: $_VERSION is not defined"),
    "not-a-ref": ("  destination: us.gcr.io/$PROJECT_ID/Hello World\n",
                  '3:16: cloudbuild.destination: "us.gcr.io/$PROJECT_ID/Hello World" is not an'),
    "latest": ("  kaniko_image: gcr.io/kaniko-project/executor:latest\n",
               '3:17: cloudbuild.kaniko_image: "gcr.io/kaniko-project/executor:latest" is :latest'),
    "untagged": ("  kaniko_image: gcr.io/kaniko-project/executor\n",
                 "3:17: cloudbuild.kaniko_image: \"gcr.io/kaniko-project/executor\" has no tag"),
    "unused": ("  substitutions:\n    _SPARE: x\n",
               "4:5: cloudbuild.substitutions._SPARE: is never used"),
    "literal-dollar": ("  destination: us.gcr.io/p/hello:$tag$HOME\n",
                       "3:16: cloudbuild.destination: $HOME is no Cloud Build substitution"),
    "digest": ("  destination: us.gcr.io/p/hello@sha256:" + "a" * 64 + "\n", "names a digest"),
    "secrets": ("  secrets:\n    TOKEN: projects/p/secrets/t/versions/1\n",
                "4:5: cloudbuild.secrets: only run_checks steps get secrets"),
    "both-refs": ("  tags: [$BRANCH_NAME, $TAG_NAME]\n",
                  "3:9: cloudbuild.tags: uses $BRANCH_NAME and"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_its_line(case: str, tmp_path: Path,
                                         run_line: Callable[..., Result]) -> None:
    body, expected = BAD_INPUTS[case]
    rest = 'name: hello\nregistry: us.gcr.io/p\nerlang: {otp: "26.2.5"}\n'
    text = "version: 1\ncloudbuild:\n" + body + rest
    (tmp_path / "cigen.yaml").write_text(text)
    result = run_line(f"cigen render cloudbuild -c {tmp_path / 'cigen.yaml'}")
    assert result.code == 2, result
    assert expected in result.stderr, result
    assert f"{tmp_path / 'cigen.yaml'}:" in result.stderr
    assert not (tmp_path / "cloudbuild.yaml").exists()
