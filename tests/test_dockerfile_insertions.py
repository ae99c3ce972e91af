"""Named insertion points of the generated Dockerfile (issue 16): `overrides.<image.dockerfile>`
adds the descriptor's own instructions to cigen's stages, and to the Kaniko variant converted
from them; every text that would not read as instructions, or would change cigen's stages, is a
located error. The real build is tests/test_e2e_build.py's insertion test."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dockerfile
import pytest

from cigen import schema
from cigen.errors import DescriptorError
from cigen.model import INSERTION_POINTS
from cigen.plan import load
from tests import oracles
from tests.conftest import FIXTURES, REPO, Result
from tests.targets.test_cloudbuild import HADOLINT_IGNORES as KANIKO_IGNORES
from tests.targets.test_dockerfile import HADOLINT_IGNORES, STAGES, stages_of

CONFIG = FIXTURES / "minimal" / "cigen.yaml"  # name hello, alpine; rebar.lock beside it
BASE = CONFIG.read_text("utf-8")
KANIKO = "ci/Dockerfile.cb"
# One instruction per point, each found by its text in the generated files.
MARKS = {
    "builder": "ENV ERL_COMPILER_OPTIONS=deterministic",
    "builder_end": 'LABEL stage.end="builder"',
    "runner": "RUN mkdir /data && chown 10001:10001 /data",
    "runner_end": 'HEALTHCHECK CMD ["/opt/hello/bin/hello", "ping"]',
}


def descriptor(points: dict[str, Any], more: str = "", key: str = "Dockerfile") -> str:
    """The minimal fixture's descriptor with `points` under overrides.<key>, as JSON strings
    (YAML reads them), after the `more` keys."""
    body = "".join(f"\n    {point}: {json.dumps(text)}" for point, text in points.items())
    return f"{BASE}{more}overrides:\n  {key}:{body or ' {}'}\n"


def rendered(points: dict[str, Any], more: str = "", names: tuple[str, ...] = ()
             ) -> dict[str, str]:
    return load(CONFIG, names, source=descriptor(points, more))[1].texts()


def errors(text: str) -> list[str]:
    with pytest.raises(DescriptorError) as caught:
        load(CONFIG, source=text)
    return [line.removeprefix(f"{CONFIG}:") for line in caught.value.problems]


def commands(text: str) -> list[Any]:
    return list(dockerfile.parse_string(text))


def test_the_points_are_the_schemas() -> None:
    node = schema.schema()["$defs"]["dockerfileInsertions"]
    assert tuple(node["properties"]) == INSERTION_POINTS


# --- where each point is ---------------------------------------------------------------------

def _neighbours(text: str, mark: str) -> tuple[str, str, str]:
    """The stage holding `mark`, and the instructions just before and after it ("" at an end)."""
    found = commands(text)
    index = next(i for i, c in enumerate(found) if c.original == mark)
    stage = next(c.value[2] for c in reversed(found[:index]) if c.cmd == "FROM")
    before = found[index - 1].original
    after = found[index + 1].original if index + 1 < len(found) else ""
    return stage, before, after


@pytest.mark.parametrize(("point", "stage", "before", "after"), [
    ("builder", "builder", "apk add --update git", "COPY rebar.config rebar.lock ./"),
    ("builder_end", "builder", "rebar3 compile", "FROM builder AS prod_compiled"),
    ("runner", "runner", "adduser", "COPY --from=releaser /opt/rel ."),
    ("runner_end", "runner", 'CMD ["foreground"]', ""),
])
def test_each_point_in_the_buildkit_dockerfile(point: str, stage: str, before: str,
                                               after: str) -> None:
    text = rendered({point: MARKS[point] + "\n"}, names=("dockerfile",))["Dockerfile"]
    found = _neighbours(text, MARKS[point])
    assert found[0] == stage
    assert before in found[1], found
    assert found[2] == after or (after and found[2].startswith(after)), found


def test_the_builder_point_follows_the_ssh_set_up_of_private_dependencies() -> None:
    more = "private: {git_hosts: [github.com]}\n"
    text = rendered({"builder": MARKS["builder"]}, more, ("dockerfile",))["Dockerfile"]
    assert "ssh-keyscan" in _neighbours(text, MARKS["builder"])[1]


def test_no_insertion_no_change() -> None:
    """Opt-in: an empty set of points writes the Dockerfile as it was (the goldens hold it)."""
    text = rendered({}, names=("dockerfile",))["Dockerfile"]
    assert text == (FIXTURES / "minimal" / "Dockerfile").read_text("utf-8")


def test_the_text_is_written_as_given_with_one_final_newline() -> None:
    block = "RUN apk add --no-cache curl=8.5.0-r0 \\\n    && curl --version\n\n\n"
    text = rendered({"runner": block}, names=("dockerfile",))["Dockerfile"]
    assert "RUN apk add --no-cache curl=8.5.0-r0 \\\n    && curl --version\n" \
           "COPY --from=releaser" in text


# --- into every Dockerfile cigen writes, past the oracles ------------------------------------

def test_every_point_reaches_both_dockerfiles_and_passes_the_oracles(tmp_path: Path) -> None:
    texts = rendered({point: mark + "\n" for point, mark in MARKS.items()})
    for path in ("Dockerfile", KANIKO):
        found = commands(texts[path])
        assert [c.original for c in found if c.original in MARKS.values()] == list(MARKS.values())
        assert list(stages_of(tuple(found))) == list(STAGES), path  # BuildKit's parser
        (tmp_path / Path(path).name).write_text(texts[path], "utf-8")
        ignore = KANIKO_IGNORES if path == KANIKO else tuple(HADOLINT_IGNORES)
        oracles.hadolint(tmp_path / Path(path).name, ignore=ignore)


# Upstream Kaniko takes no RUN --mount and no heredoc: the strict conversion. The fork's
# executor (the default cloudbuild.kaniko_image) keeps what it builds (cigen/kaniko/executor.py).
UPSTREAM = "cloudbuild: {kaniko_image: gcr.io/kaniko-project/executor:v1.24.0}\n"


@pytest.mark.parametrize("more", ["", UPSTREAM])
def test_the_kaniko_variant_converts_the_insertions_like_the_rest(more: str) -> None:
    points = {
        "builder": "RUN --mount=type=cache,target=/root/.npm echo cached > /tmp/npm\n",
        "builder_end": "RUN <<EOF\nset -e\necho built > /tmp/built\nEOF\n",
    }
    texts = rendered(points, more)
    buildkit, kaniko = commands(texts["Dockerfile"]), commands(texts[KANIKO])
    assert [c for c in buildkit if c.heredocs]
    assert [c for c in buildkit if "--mount" in c.original and "/tmp/npm" in c.original]
    mine = next(c for c in kaniko if "/tmp/npm" in c.original)
    own = next(c for c in kaniko if c.original.endswith("rebar3 compile"))  # its cache mount
    assert bool(mine.flags) == bool(own.flags), (mine, own)
    built = next(c for c in kaniko if "echo built > /tmp/built" in c.original)
    if more == UPSTREAM:
        assert not mine.flags
        assert not built.heredocs
        assert "set -e" in built.value[0], built


def test_render_then_check_is_clean(tmp_path: Path, run_line: Callable[..., Result]) -> None:
    project = tmp_path / "p"
    shutil.copytree(FIXTURES / "minimal", project)
    (project / "cigen.yaml").write_text(descriptor(MARKS), "utf-8")
    assert run_line("cigen render", cwd=project).code == 0
    for path in ("Dockerfile", KANIKO):
        assert MARKS["runner"] in (project / path).read_text("utf-8")
    result = run_line("cigen check", cwd=project)
    assert result.code == 0, result


def test_the_documented_example_renders_and_passes_hadolint(tmp_path: Path) -> None:
    page = (REPO / "docs" / "overrides.md").read_text("utf-8")
    section = page[page.index("## The Dockerfile: named insertion points"):]
    example = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert example is not None
    texts = load(CONFIG, source=BASE + example.group(1))[1].texts()
    assert "HEALTHCHECK" in texts["Dockerfile"]
    assert "HEALTHCHECK" in texts[KANIKO]
    (tmp_path / "Dockerfile").write_text(texts["Dockerfile"], "utf-8")
    oracles.hadolint(tmp_path / "Dockerfile", ignore=tuple(HADOLINT_IGNORES))


# --- what is refused, and where --------------------------------------------------------------

def _at(point: str) -> str:
    """Where the first point's value is: line 8, after `    <point>: `."""
    return f"8:{len(point) + 7}: overrides.Dockerfile.{point}:"


@pytest.mark.parametrize(("point", "text", "message"), [
    ("builder", "FROM alpine:3.20\n", "FROM would start another stage, and change which stage "
     "is built and published; insert instructions into cigen's stages only"),
    ("runner", "LABEL a=b\nRUN echo \\\n", "line 2: the last line continues (\\) past the end "
     "of the text, into the instruction cigen writes next; remove the \\"),
    ("runner", "RUN echo \\\n# a comment\n", "line 1: the last line continues (\\) past the "
     "end of the text, into the instruction cigen writes next; remove the \\"),
    ("runner", "RUN <<EOF\necho\n", "line 1: unterminated heredoc; end it with a line holding "
     "only its delimiter"),
    ("runner", "# only a comment\n", "holds no instruction, only comments or blank lines"),
    ("runner", "COPY --mount=type=cache,target=/x a b\n",
     "COPY --mount: only RUN takes --mount; remove the flag"),
    ("builder", "ENV A=1\nRUNN echo\n", "line 2: unknown instruction RUNN; fix the typo or "
     "remove the line"),
    ("runner_end", "ENV\n", "ENV has no arguments"),
    ("runner", "\x1b[31mRUN x\n", "holds the control character U+001B, which no Dockerfile "
     "instruction needs; remove it"),
    ("runner", "LABEL note='Generated by cigen'\n", 'holds "Generated by cigen", the words '
     "cigen marks its files with; word it otherwise"),
    ("builder", "WORKDIR /elsewhere\n", "WORKDIR moves where the instructions cigen writes "
     "after it run; use absolute paths instead"),
    ("builder_end", "USER nobody\n", "USER changes the user the instructions cigen writes after "
     "it run as (they need root); switch users inside the RUN instead"),
    ("builder", 'SHELL ["/bin/bash", "-c"]\n', "SHELL changes the shell of the RUN "
     "instructions cigen writes after it; name the shell in the RUN instead"),
    ("builder", 'CMD ["x"]\n', "CMD would be replaced by cigen's own at the end of the runner "
     "stage; put it at runner_end"),
    ("runner", "USER 10001\n", "USER changes the user the instructions cigen writes after it "
     "run as (they need root); put it at runner_end"),
    ("runner", 'ENTRYPOINT ["/bin/sh"]\n', "ENTRYPOINT would be replaced by cigen's own at the "
     "end of the runner stage; put it at runner_end"),
    ("builder_end", "ONBUILD RUN echo\n", "ONBUILD in the builder would run in the stages cigen "
     "builds FROM it; write the instruction itself"),
    ("runner_end", "ONBUILD FROM alpine\n", "FROM is not allowed as an ONBUILD trigger"),
])
def test_a_text_that_would_break_the_stages_is_located_at_its_point(
        point: str, text: str, message: str) -> None:
    assert errors(descriptor({point: text})) == [f"{_at(point)} {message}"]


@pytest.mark.parametrize("text", [
    "USER root\n", 'CMD ["console"]\n', 'ENTRYPOINT ["/bin/sh", "-c"]\nCMD ["exec sleep 1"]\n',
    "WORKDIR /tmp\n", 'SHELL ["/bin/sh", "-eu", "-c"]\n', "ONBUILD RUN echo downstream\n",
    "CMD []\n",
])
def test_at_the_end_of_the_runner_anything_but_from_goes(text: str) -> None:
    assert text in rendered({"runner_end": text}, names=("dockerfile",))["Dockerfile"]


def test_every_problem_of_every_point_at_once() -> None:
    found = errors(descriptor({"builder": "FROM x\nWORKDIR /y\n", "runner": "USER 1\n"}))
    assert [line.split(": ", 2)[1:] for line in found] == [
        ["overrides.Dockerfile.builder", "line 1: FROM would start another stage, and change "
         "which stage is built and published; insert instructions into cigen's stages only"],
        ["overrides.Dockerfile.builder", "line 2: WORKDIR moves where the instructions cigen "
         "writes after it run; use absolute paths instead"],
        ["overrides.Dockerfile.runner", "USER changes the user the instructions cigen writes "
         "after it run as (they need root); put it at runner_end"],
    ]


@pytest.mark.parametrize(("more", "key", "message"), [
    ("image: {generate: false}\n", "Dockerfile", "image.generate is false: Dockerfile is yours "
     "and cigen writes nothing into it; add the instructions to it yourself"),
    ("", KANIKO, "is the Kaniko variant, which cigen converts from Dockerfile: insert under "
     "overrides.Dockerfile, and the instructions reach both"),
    ("", "cloudbuild.yaml", "is not image.dockerfile (Dockerfile): insertion points are for the "
     "Dockerfile cigen writes; a YAML file takes a list of JSON Patch operations"),
    ("image: {dockerfile: docker/Dockerfile}\n", "Dockerfile", "is not image.dockerfile "
     "(docker/Dockerfile): insertion points are for the Dockerfile cigen writes; a YAML file "
     "takes a list of JSON Patch operations"),
])
def test_points_under_another_key_are_located_at_the_key(more: str, key: str,
                                                         message: str) -> None:
    line = 7 + more.count("\n")
    text = descriptor({"runner": "ENV A=1"}, more, key)
    assert errors(text) == [f"{line}:3: overrides.{key}: {message}"]


def test_points_follow_image_dockerfile_as_written() -> None:
    more = "image: {dockerfile: docker/Dockerfile}\n"
    text = descriptor({"runner": MARKS["runner"]}, more, "./docker//Dockerfile")
    assert MARKS["runner"] in load(CONFIG, source=text)[1].texts()["docker/Dockerfile"]


def test_an_unknown_point_is_a_schema_error() -> None:
    assert errors(descriptor({"runer": "ENV A=1"})) == [
        '8:5: overrides.Dockerfile.runer: unknown key; did you mean "runner"?']


@pytest.mark.parametrize(("key", "message"), [
    ("Dockerfile", "is the Dockerfile cigen writes: it takes instructions at named points "
     "(builder, builder_end, runner, runner_end), not JSON Patch operations; see "
     "docs/overrides.md"),
    (KANIKO, "is the Kaniko variant, which cigen converts from image.dockerfile: instructions "
     "inserted there reach both"),
])
def test_json_patch_on_a_dockerfile_points_to_the_insertion_points(key: str,
                                                                   message: str) -> None:
    text = f"{BASE}overrides:\n  {key}:\n    - {{op: add, path: /x, value: 1}}\n"
    assert errors(text) == [f"7:3: overrides.{key}: {message}"]


# --- what the Kaniko conversion refuses, at the point ----------------------------------------

SECRET = "RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci"


def test_a_kaniko_refusal_is_located_at_the_point_and_its_line() -> None:
    found = errors(descriptor({"builder": f"ENV A=1\n{SECRET}\n",
                               "runner": "RUN --mount=type=ssh ssh-add -l"}))
    assert len(found) == 2, found
    builder, runner = found
    assert builder.startswith(f"{_at('builder')} line 2: cannot go into the Kaniko variant "
                              f"({KANIKO}): RUN --mount=type=secret has no Kaniko form"), builder
    assert builder.endswith("; or build with cloudbuild.builder: buildx")
    assert runner.startswith("9:13: overrides.Dockerfile.runner: cannot go into the Kaniko "
                             f"variant ({KANIKO}): RUN --mount=type=ssh has no Kaniko form")


def test_with_buildx_on_cloud_build_nothing_is_converted() -> None:
    texts = rendered({"builder": SECRET}, "cloudbuild: {builder: buildx}\n")
    assert SECRET in texts["Dockerfile"]
    assert KANIKO not in texts


def test_a_refused_insertion_writes_nothing(tmp_path: Path,
                                            run_line: Callable[..., Result]) -> None:
    project = tmp_path / "p"
    shutil.copytree(FIXTURES / "minimal", project)
    (project / "cigen.yaml").write_text(descriptor({"builder": SECRET}), "utf-8")
    before = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    result = run_line("cigen render", cwd=project)
    assert result.code == 2, result
    assert result.stderr.startswith("cigen.yaml:8:14: overrides.Dockerfile.builder: cannot go "
                                    "into the Kaniko variant"), result
    assert {p: p.read_bytes() for p in project.rglob("*") if p.is_file()} == before


def test_in_a_subfolder_the_key_is_the_dockerfile_render_writes(tmp_path: Path) -> None:
    """With `directory`, the Dockerfile is written inside it: the key names it as written."""
    (tmp_path / "apps" / "hello").mkdir(parents=True)
    (tmp_path / "apps" / "hello" / "rebar.config").write_text("{erl_opts, []}.\n")
    config = tmp_path / "cigen.yaml"
    more = "directory: apps/hello\nimage: {keep_git: false}\n"
    config.write_text(descriptor({"runner": MARKS["runner"]}, more, "apps/hello/Dockerfile"))
    texts = load(config, ("dockerfile",))[1].texts()
    assert MARKS["runner"] in texts["apps/hello/Dockerfile"]
    config.write_text(descriptor({"runner": MARKS["runner"]}, more))
    with pytest.raises(DescriptorError) as caught:
        load(config)
    assert caught.value.problems == [
        f"{config}:9:3: overrides.Dockerfile: is not image.dockerfile (apps/hello/Dockerfile): "
        "insertion points are for the Dockerfile cigen writes; a YAML file takes a list of JSON "
        "Patch operations"]
