from __future__ import annotations

import collections
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dockerfile
import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML: yamllint's dependency
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cigen import validation
from cigen.core import is_generated
from cigen.errors import CigenError, DescriptorError
from cigen.model import Project
from cigen.targets import selected
from cigen.targets.cloudbuild import substitutions as subst
from cigen.yamlio import dump, load_plain
from tests import oracles
from tests import strategies as gen
from tests.helpers import built

# No shrinking: one render takes ~0.1 s and shrinking a descriptor took over five minutes; the
# failing descriptor is shown as drawn.
PROPERTY = settings(max_examples=100, deadline=None, database=None,
                    phases=[Phase.explicit, Phase.reuse, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SAMPLE = 25  # renders the external (slow) oracles check, every one written to disk
HADOLINT_IGNORES = ("DL3018", "DL3008", "DL3059")  # as tests/test_dockerfile.py, test_cloudbuild.py


def attempt(descriptor: dict[str, Any], as_json: bool) -> tuple[Project, dict[str, str]] | str:
    """The render of a descriptor, or the CigenError it is refused with (as text)."""
    with tempfile.TemporaryDirectory() as tmp:
        config = gen.write_project(Path(tmp), descriptor, as_json)
        try:
            return gen.render(config)
        except DescriptorError as e:
            return refused(e.problems, str(config))
        except CigenError as e:
            return str(e)


def refused(problems: list[str], config: str) -> str:
    assert problems, "a DescriptorError without problems"
    assert [p for p in problems if p.startswith(config)] == problems, problems
    return "\n".join(problems)


# --- what every accepted render must satisfy, checked in-process on every example ---


def check_render(descriptor: dict[str, Any], project: Project, out: dict[str, str],
                 validate: bool = True) -> None:
    if validate:  # check-jsonschema in-process: most of an example's time
        assert validation.validate_outputs(project, built(project).outputs) == []
    for path, text in out.items():
        assert is_generated(text), path
        if path.endswith((".yml", ".yaml")):
            assert_same_in_yaml_1_1_and_1_2(path, text, project)
    check_dockerfiles(project, out)
    check_circleci(out)
    check_placements(descriptor, project, out)


def both_readers(text: str, workflow: bool = False) -> tuple[Any, Any]:
    new, old = load_plain(text), yaml.safe_load(text)
    if workflow and True in old:
        old["on"] = old.pop(True)  # the one plain `on:`, which GitHub reads as a string
    return new, old


def assert_same_in_yaml_1_1_and_1_2(path: str, text: str, project: Project) -> None:
    refresh = project.github.refresh
    workflows = {project.github.workflow_file, *([refresh.workflow_file] if refresh else [])}
    new, old = both_readers(text, workflow=path in workflows)
    assert new == old, path


def check_dockerfiles(project: Project, out: dict[str, str]) -> None:
    for path in (project.image.dockerfile, project.image.kaniko_dockerfile):
        if path in out:
            assert dockerfile.parse_string(out[path]), path
    kaniko = out.get(project.image.kaniko_dockerfile)
    if kaniko is not None:
        # nothing BuildKit-only but what the executor builds (cigen/kaniko/executor.py)
        from cigen.kaniko import parsing
        from cigen.kaniko.executor import choose

        cb = project.cloudbuild
        parsing.ensure_parses(kaniko, "variant", choose(cb.kaniko_image, cb.kaniko_features))


def check_circleci(out: dict[str, str]) -> None:
    """CircleCI 2.1 expands `<< ... >>` in any string: each `<<` must be escaped as `\\<<`,
    but for the one parameter cigen's own matrix job takes (erlang.matrix)."""
    text = out.get(".circleci/config.yml")
    if text is not None:
        for leaf in leaves(load_plain(text)):
            if leaf != "<< parameters.executor >>":
                assert not re.search(r"(?<!\\)<<", leaf), leaf


def leaves(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(key)
            yield from leaves(value)
    elif isinstance(node, list):
        for item in node:
            yield from leaves(item)


def check_placements(descriptor: dict[str, Any], project: Project, out: dict[str, str]) -> None:
    """Every free-text value as the descriptor dict holds it (before it was written to
    cigen.yaml and read back) reads back from each YAML output, in both readers, as the same
    string, in the form its CI needs: CircleCI's \\<<, Cloud Build's $$."""
    rendered = selected(project, ())
    for target, path, wanted in placements(descriptor, project):
        # Another target's output may sit at a path of a target not rendered (e.g. both "h").
        if target in rendered and path in out:
            for tree in both_readers(out[path], path == project.github.workflow_file):
                found = set(leaves(tree))
                assert wanted <= found, (path, wanted - found)
    if "github" in project.targets:
        assert not any("${{" in v for v in github_free_text(project)), "GitHub would evaluate it"


def placements(
    descriptor: dict[str, Any], project: Project
) -> Iterator[tuple[str, str, set[str]]]:
    erlang, cb = descriptor["erlang"], descriptor.get("cloudbuild", {})
    env = {k: v for k, v in erlang.get("env", {}).items() if isinstance(v, str)}
    steps = [s for checks in erlang.get("setup", {}).values() for s in checks]
    setup = {text for s in steps for text in (s["name"], s["run"])}
    service_env = {v for s in erlang.get("services", []) for v in s.get("env", {}).values()
                   if isinstance(v, str)}
    free = {*env.values(), *setup, *service_env}
    yield "circleci", ".circleci/config.yml", {v.replace("<<", "\\<<") for v in free}
    if project.erlang.checks:  # erlang.env goes into the check jobs: with no checks, nowhere
        yield "github", project.github.workflow_file, {*env.values(), *setup, *service_env}
    if project.cloudbuild.run_checks:
        literal = {f"{k}={subst.escape(v)}" for k, v in env.items()}
        runs = {subst.escape(s["run"]) for s in steps}
        yield "cloudbuild", project.cloudbuild.file, literal | runs
    yield "cloudbuild", project.cloudbuild.file, set(cb.get("substitutions", {}).values())


def github_free_text(project: Project) -> Iterator[str]:
    erlang = project.erlang
    yield from (v for v in erlang.env.values() if isinstance(v, str))
    yield from (v for s in erlang.services for v in s.env.values() if isinstance(v, str))
    yield from (t for steps in erlang.setup.values() for s in steps for t in (s.name, s.run))


# --- the properties ---


def check_descriptor(descriptor: dict[str, Any], as_json: bool, validate: bool = True) -> None:
    result = attempt(descriptor, as_json)
    if not isinstance(result, str):
        check_render(descriptor, *result, validate=validate)


@given(gen.descriptors(), st.booleans())
@PROPERTY
def test_random_descriptors_render_valid_outputs_or_are_refused_cleanly(
    descriptor: dict[str, Any], as_json: bool
) -> None:
    check_descriptor(descriptor, as_json)


@pytest.mark.slow
@given(gen.descriptors(), st.booleans(), st.integers(0, 9))
@settings(PROPERTY, max_examples=2_000)
def test_thousands_of_random_descriptors(descriptor: dict[str, Any], as_json: bool,
                                         tenth: int) -> None:
    # Every example gets every in-process check but the official schemas, which one in ten
    # gets (the 100-example property above validates all): the run stays well inside CI's time.
    check_descriptor(descriptor, as_json, validate=tenth == 0)


def sample(strategy: st.SearchStrategy[dict[str, Any]], count: int) -> list[Any]:
    """The first `count` examples of a fixed (derandomized) run: the same list every time."""
    drawn: list[Any] = []

    @given(strategy, st.booleans())
    @settings(PROPERTY, max_examples=count, derandomize=True)
    def collect(descriptor: dict[str, Any], as_json: bool) -> None:
        drawn.append((descriptor, attempt(descriptor, as_json)))

    collect()
    return drawn


def refusal_keys(message: str) -> Iterator[str]:
    for line in message.splitlines():
        match = re.match(r".*?:\d+:\d+: ([^:]+): ", line)
        yield re.sub(r"\.[^.]*$|\[\d+\]", "", match.group(1)) if match else "(render)"


def test_most_coherent_descriptors_render_and_refusals_are_counted() -> None:
    """Acceptance is measured, so that the property above cannot pass by refusing everything."""
    for strategy, floor in ((gen.descriptors(), 0.5), (gen.raw_descriptors(), 0.2)):
        drawn = sample(strategy, 80)
        refused = [r for _, r in drawn if isinstance(r, str)]
        causes = collections.Counter(k for r in refused for k in set(refusal_keys(r)))
        accepted = 1 - len(refused) / len(drawn)
        print(f"\n{accepted:.0%} of {len(drawn)} rendered; refused for: {causes.most_common(8)}")
        assert accepted >= floor, causes.most_common(8)


def _shell_commands(descriptor: dict[str, Any]) -> dict[str, Any]:
    """Setup commands are the user's own shell, passed through verbatim (test_injection shows
    they stay inert); shellcheck, which actionlint runs on them, would judge the user's text,
    not cigen's. The oracle sample runs valid commands."""
    for steps in descriptor.get("erlang", {}).get("setup", {}).values():
        for step in steps:
            step["run"] = "echo setup"
    return descriptor


def test_independent_oracles_accept_a_sample_of_random_renders(tmp_path: Path) -> None:
    drawn = sample(gen.descriptors().map(_shell_commands), 80)
    renders = [r for _, r in drawn if not isinstance(r, str)][:SAMPLE]
    assert len(renders) == SAMPLE
    written: dict[str, list[Path]] = collections.defaultdict(list)
    for i, (project, out) in enumerate(renders):
        for rel, text in out.items():
            path = tmp_path / str(i) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, "utf-8")
            written[_kind(project, rel)].append(path)
    run_oracles(written)


def _kind(project: Project, rel: str) -> str:
    kinds = {".circleci/config.yml": "circleci", "ci/build_images.sh": "script",
             project.github.workflow_file: "github", project.cloudbuild.file: "cloudbuild",
             project.image.dockerfile: "dockerfile", project.image.kaniko_dockerfile: "kaniko"}
    return kinds.get(rel, "other")


def run_oracles(written: dict[str, list[Path]]) -> None:
    """Every oracle runs; the failures of all of them are reported together."""
    github = written["github"]
    checks: list[Callable[[], object]] = [
        lambda: oracles.check_jsonschema("vendor.circle-ci", *written["circleci"]),
        lambda: oracles.check_jsonschema("vendor.github-workflows", *github),
        # cloudbuild.file may have any name: gcloud reads it as YAML, so does the checker here
        lambda: oracles.run(oracles.tool("check-jsonschema"), "--default-filetype", "yaml",
                            "--builtin-schema", "vendor.cloudbuild", *written["cloudbuild"]),
        lambda: yamllint(*written["circleci"], *github, *written["cloudbuild"]),
        lambda: oracles.shellcheck(*written["script"]),
        lambda: oracles.hadolint(*written["dockerfile"], *written["kaniko"],
                                 ignore=HADOLINT_IGNORES),
        lambda: actionlint(*github),
        lambda: oracles.zizmor(*github),
        lambda: oracles.workflow_parser(*github),
    ]
    failed = []
    for check in checks:
        try:
            check()
        except pytest.fail.Exception as e:
            failed.append(str(e))
    assert not failed, "\n\n".join(failed)


def actionlint(*paths: Path) -> None:
    """oracles.actionlint, told that the random runs-on labels are self-hosted runners'."""
    labels = {load_plain(p.read_text())["jobs"]["image"]["runs-on"] for p in paths}
    config = paths[0].parent.parent.parent.parent / "actionlint.yaml"
    config.write_text(dump({"self-hosted-runner": {"labels": sorted(labels)}}), "utf-8")
    oracles.tool("shellcheck")  # actionlint skips run: scripts silently without it
    oracles.run(oracles.tool("actionlint"), "-no-color", "-config-file", config, *paths)


def yamllint(*paths: Path) -> None:
    """oracles.yamllint without its 200-column limit: random values (a 300-character registry
    path) make long lines, which YAML allows."""
    config = ("{extends: default, rules: {document-start: disable, truthy: {check-keys: false},"
              " line-length: disable, comments: {min-spaces-from-content: 1}}}")
    oracles.run(oracles.tool("yamllint"), "-s", "-f", "parsable", "-d", config, *paths)


@pytest.mark.parametrize("value", gen.YAML_TRICKY)
def test_yaml_tricky_values_read_back_the_same_everywhere(tmp_path: Path, value: str) -> None:
    """Each tricky string in every free-text slot that reaches a YAML output, both readers."""
    for descriptor in tricky_descriptors(value or "x"):
        root = tmp_path / str(len(list(tmp_path.iterdir())))
        root.mkdir()
        project, out = gen.render(gen.write_project(root, descriptor))
        check_render(descriptor, project, out)


def tricky_descriptors(value: str) -> list[dict[str, Any]]:
    base = {"version": 1, "name": "hello", "registry": "ghcr.io/acme"}
    setup = {"ct": [{"name": value, "run": value}]}
    service = {"name": "db", "image": "postgres:16.4", "ports": [5432], "env": {"P": value}}
    with_services = {**base, "erlang": {"otp": "26.2.5", "checks": ["xref", "ct"], "setup": setup,
                                        "env": {"TRICKY": value}, "services": [service]},
                     "cloudbuild": {"substitutions": {"_TRICKY": value.replace("$", "$$")},
                                    "tags": ["${_TRICKY}"]}}
    erlang = {"otp": "26.2.5", "checks": ["ct"], "env": {"T": value}, "setup": setup}
    run_checks = {**base, "targets": ["cloudbuild"], "cloudbuild": {"run_checks": True},
                  "erlang": erlang}
    return [with_services, run_checks]


def test_env_names_a_yaml_1_1_reader_takes_for_booleans_stay_names(tmp_path: Path) -> None:
    """`on`, `y`, `NO`, `null`... as variable names: CircleCI (YAML 1.1) must see the names."""
    names = ["on", "On", "off", "y", "n", "NO", "yes", "true", "null", "Null", "_"]
    descriptor = {"version": 1, "name": "hello", "registry": "ghcr.io/acme",
                  "erlang": {"otp": "26.2.5", "env": {name: name for name in names}}}
    project, out = gen.render(gen.write_project(tmp_path, descriptor))
    check_render(descriptor, project, out)
    old = yaml.safe_load(out[".circleci/config.yml"])
    environment = old["executors"]["erlang"]["environment"]
    assert {k: v for k, v in environment.items() if k != "OTP_VERSION"} == {n: n for n in names}
