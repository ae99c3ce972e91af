from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cigen.errors import ConversionError
from cigen.kaniko import convert, parsing
from cigen.kaniko.executor import UPSTREAM, Executor, choose, from_image, parse_features
from cigen.kaniko.mounts import parse_mount
from tests import test_fuzz as fuzz
from tests.conftest import Result
from tests.helpers import load_project, texts

# What the variant keeps for each executor, feature by feature, at each version boundary
# (cigen/kaniko/executor.py cites the fork's CHANGELOG.md and code for each).


def fork(version: str) -> Executor:
    return parse_features(f"osscontainertools-v{version}")


@pytest.mark.parametrize(("image", "expected"), [
    ("ghcr.io/osscontainertools/kaniko:v1.28.3", fork("1.28.3")),
    ("ghcr.io/osscontainertools/kaniko:v1.26.0-debug", fork("1.26.0")),
    ("ghcr.io/osscontainertools/kaniko:v1.27.6-slim@sha256:" + "a" * 64, fork("1.27.6")),
    ("docker.io/martizih/kaniko:v1.28.0", fork("1.28.0")),
    ("martizih/kaniko:v1.28.1", fork("1.28.1")),  # Docker Hub without its host
    ("gcr.io/kaniko-project/executor:v1.24.0", UPSTREAM),
])
def test_the_image_names_its_executor(image: str, expected: Executor) -> None:
    assert from_image(image) == expected


@pytest.mark.parametrize("image", [
    "ghcr.io/osscontainertools/kaniko@sha256:" + "a" * 64,  # a digest alone
    "ghcr.io/osscontainertools/kaniko:latest",
    "ghcr.io/osscontainertools/kaniko:v1.28.3-warmer",  # the cache warmer, no executor
    "europe-docker.pkg.dev/acme/mirror/kaniko:v1.28.3",  # a mirror
    "ghcr.io/osscontainertools/kaniko-dev:v1.28.3",
])
def test_an_image_it_cannot_read_is_upstream(image: str) -> None:
    assert from_image(image) is None
    assert choose(image, None) == UPSTREAM
    assert choose(image, "osscontainertools-v1.28.3") == fork("1.28.3")


def test_features_override_the_image() -> None:
    assert choose("ghcr.io/osscontainertools/kaniko:v1.28.3", "upstream") == UPSTREAM
    assert fork("1.28.3").covers(UPSTREAM)
    assert fork("1.28.3").covers(fork("1.28.3"))
    assert not fork("1.28.0").covers(fork("1.28.1"))
    assert not UPSTREAM.covers(fork("1.26.0"))


def test_versions_before_the_features_have_none() -> None:
    # the fork's first releases were tagged v1.24.0-1 .. -5: no release tag cigen reads
    assert choose("ghcr.io/osscontainertools/kaniko:v1.24.0-5", None) == UPSTREAM
    early = fork("1.25.3")
    assert (early.cache_mounts, early.bind_mounts, early.heredocs) == (False, False, False)


# --- cache mounts: on by default since v1.26.0; id, mode, uid, gid read since v1.26.3

CACHE = "FROM $X\nRUN --mount=type=cache,target=/root/.cache/rebar3,sharing=locked rebar3 compile\n"
CACHE_ID = ("FROM $X\nRUN --mount=type=cache,id=hex,target=/root/.cache/rebar3,uid=1000 "
            "rebar3 compile\n")


@pytest.mark.parametrize(("version", "kept"), [("1.25.6", False), ("1.26.0", True)])
def test_cache_mount_boundary(version: str, kept: bool) -> None:
    text = convert(CACHE, executor=fork(version)).text
    assert (text == CACHE) is kept
    assert ("--mount" in text) is kept


@pytest.mark.parametrize(("version", "kept"), [("1.26.2", False), ("1.26.3", True)])
def test_cache_mount_options_boundary(version: str, kept: bool) -> None:
    result = convert(CACHE_ID, executor=fork(version))
    assert ("--mount=type=cache,id=hex" in result.text) is kept
    if not kept:
        assert result.notes == (
            "Dockerfile:2: dropped cache mount /root/.cache/rebar3: osscontainertools/kaniko "
            "v1.26.2 does not read its id, uid; what the command writes there now stays in "
            "the image layer",)


def test_a_cache_mount_seeded_from_a_stage_is_dropped() -> None:
    text = "FROM $X\nRUN --mount=type=cache,target=/c,from=seed,source=/c ls /c\n"
    result = convert(text, executor=fork("1.28.3"))
    assert result.text == "FROM $X\nRUN mkdir -p /c && ls /c\n"
    assert "does not read its from, source" in result.notes[0]


def test_apt_cache_mounts_keep_their_set_up_on_the_fork() -> None:
    text = ("FROM $X\nRUN --mount=type=cache,target=/var/cache/apt "
            "rm -f /etc/apt/apt.conf.d/docker-clean && apt-get install -y git\n")
    assert convert(text, executor=fork("1.26.0")).text == text
    assert convert(text, executor=fork("1.25.6")).text == (
        "FROM $X\nRUN apt-get update && apt-get install -y git && rm -rf /var/lib/apt/lists/*\n")


# --- context bind mounts: on by default since v1.28.0; from=<stage> never

BIND = "FROM $X\nWORKDIR /app\nRUN --mount=target=/app/src make -C src\n"


@pytest.mark.parametrize(("version", "kept"), [("1.27.6", False), ("1.28.0", True)])
def test_bind_mount_boundary(version: str, kept: bool) -> None:
    text = convert(BIND, executor=fork(version)).text
    assert (text == BIND) is kept
    assert ("COPY . /app/src\n" in text) is not kept


def test_a_relative_bind_target_is_written_resolved() -> None:
    # the fork mounts a target as written, from / (cmd/executor/cmd/root.go); BuildKit from
    # WORKDIR: the variant spells out what BuildKit means
    text = "FROM $X\nWORKDIR /app\nRUN --mount=type=bind,target=src,ro \\\n    make -C src\n"
    assert convert(text, executor=fork("1.28.3")).text == (
        "FROM $X\nWORKDIR /app\nRUN --mount=type=bind,target=/app/src,ro \\\n    make -C src\n")


def test_a_relative_target_under_an_unknown_workdir_becomes_a_copy() -> None:
    result = convert("FROM $X\nRUN --mount=target=src ls src\n", executor=fork("1.28.3"))
    assert result.text == "FROM $X\nCOPY . src\nRUN ls src\n"


@pytest.mark.parametrize("mount", ["type=bind,from=build,source=/out,target=/in",
                                   "type=bind,source=../up,target=/in"])
def test_binds_the_fork_cannot_make_stay_copies(mount: str) -> None:
    text = f"FROM a AS build\nFROM $X\nRUN --mount={mount} ls /in\n"
    fork_text = convert(text, executor=fork("1.28.3")).text
    assert fork_text == convert(text).text
    assert "--mount" not in fork_text
    assert "COPY " in fork_text


# --- heredocs: parsed since v1.25.4, but their bodies key the layer cache only since v1.28.1

RUN_HEREDOC = "FROM $X\nRUN <<EOF\nset -e\necho hi > /hi\nEOF\n"
COPY_HEREDOC = "FROM $X\nCOPY <<'EOF' /etc/motd\nhello $USER\nEOF\n"


@pytest.mark.parametrize(("version", "kept"), [("1.28.0", False), ("1.28.1", True)])
def test_heredoc_boundary(version: str, kept: bool) -> None:
    for text in (RUN_HEREDOC, COPY_HEREDOC):
        result = convert(text, executor=fork(version))
        assert (result.text == text) is kept, result.text
        if not kept:
            assert result.notes[-1].endswith(
                "(osscontainertools/kaniko v1.28.0 does not key heredoc bodies in its layer "
                "cache)"), result.notes


@pytest.mark.parametrize(("text", "why"), [
    ("FROM $X\nRUN <<EOF\n#!/bin/sh\necho hi\nEOF\n", "runs a lone heredoc with sh, ignoring #!"),
    ("FROM $X\nRUN <<'EOF'\necho hi\nEOF\n", "runs nothing for a lone heredoc with a quoted"),
    ("FROM $X\nRUN <<-EOF\n\techo hi\n\tEOF\n", "runs nothing for a lone heredoc with a quoted"),
    ('FROM $X\nSHELL ["/bin/bash", "-c"]\nRUN <<EOF\necho hi\nEOF\n',
     "runs a lone heredoc with sh, not the SHELL"),
])
def test_lone_heredocs_the_fork_runs_otherwise_are_rewritten(text: str, why: str) -> None:
    result = convert(text, executor=fork("1.28.3"))
    assert "<<" not in result.text
    assert why in result.notes[-1]


def test_a_heredoc_given_to_a_command_stays_under_any_shell() -> None:
    # BuildKit and the fork both hand the SHELL the command line and the bodies
    text = 'FROM $X\nSHELL ["/bin/bash", "-c"]\nRUN cat <<EOF > /a\n$HOME\nEOF\n'
    assert convert(text, executor=fork("1.28.3")).text == text


def test_an_explicit_default_shell_keeps_a_lone_heredoc() -> None:
    text = 'FROM $X\nSHELL ["/bin/sh", "-c"]\nRUN <<EOF\necho hi\nEOF\n'
    assert convert(text, executor=fork("1.28.3")).text == text


@pytest.mark.parametrize(("text", "kept"), [
    ("FROM scratch\nCOPY <<'EOF' /hello\nhi\nEOF\n", True),  # the fork needs no shell for it
    ("FROM $X\nUSER app\nCOPY --chown=app <<'EOF' /home/app/a\nhi\nEOF\n", True),
    ("FROM $X\nCOPY <<A <<B /etc/conf.d/\na\nA\nb\nB\n", True),
    # the fork gives the file to USER (FF_KANIKO_COPY_AS_ROOT is off), BuildKit to root
    ("FROM $X\nUSER app\nCOPY <<'EOF' /etc/a\nhi\nEOF\n", False),
    # the fork writes both bodies into one file
    ("FROM $X\nCOPY <<A <<B /etc/conf\na\nA\nb\nB\n", False),
])
def test_copy_heredocs(text: str, kept: bool) -> None:
    assert (convert(text, executor=fork("1.28.3")).text == text) is kept


def test_an_expanding_copy_heredoc_is_refused_on_the_fork_too() -> None:
    with pytest.raises(ConversionError) as info:
        convert("FROM $X\nARG P=1\nCOPY <<EOF /a\np=$P\nEOF\n", executor=fork("1.28.3"))
    assert "osscontainertools/kaniko v1.28.3 writes the text unexpanded" in str(info.value)


def test_a_dropped_mount_edits_the_heredoc_it_runs() -> None:
    # tmpfs is dropped on every executor: the script needs its mkdir
    text = "FROM $X\nRUN --mount=type=tmpfs,target=/t <<EOF\ncp a /t/b\nEOF\n"
    result = convert(text, executor=fork("1.28.3"))
    assert result.text.startswith("FROM $X\nRUN mkdir -p /t && eval ")


@pytest.mark.parametrize("mount", ["type=secret,id=hex", "type=ssh"])
def test_secret_and_ssh_mounts_stay_errors_on_the_fork(mount: str) -> None:
    with pytest.raises(ConversionError):
        convert(f"FROM $X\nRUN --mount={mount} make\n", executor=fork("1.28.3"))


@pytest.mark.parametrize(("text", "executor"), [
    ("FROM a\nRUN --mount=type=cache,target=/c ls\n", UPSTREAM),
    ("FROM a\nRUN --mount=target=/c ls\n", fork("1.27.6")),
    ("FROM a\nRUN --mount=type=bind,from=b,target=/c ls\n", fork("1.28.3")),
    ("FROM a\nRUN --mount=type=tmpfs,target=/c ls\n", fork("1.28.3")),
    ("FROM a\nRUN <<EOF\nls\nEOF\n", fork("1.28.0")),
])
def test_the_read_back_refuses_what_the_executor_cannot_build(text: str,
                                                               executor: Executor) -> None:
    with pytest.raises(ConversionError, match="keeps BuildKit syntax"):
        parsing.ensure_parses(text, "Dockerfile", executor)


def test_the_read_back_takes_what_the_fork_builds() -> None:
    text = "FROM a\nRUN --mount=type=cache,target=/c --mount=target=/s <<EOF\nls\nEOF\n"
    parsing.ensure_parses(text, "Dockerfile", fork("1.28.3"))


# --- the Cloud Build target: the executor of cloudbuild.kaniko_image, or kaniko_features

DESCRIPTOR = 'version: 1\nname: hello\nregistry: us.gcr.io/p\nerlang: {otp: "26.2.5"}\n'


def _variant(tmp_path: Path, cloudbuild: str) -> str:
    (tmp_path / "cigen.yaml").write_text(DESCRIPTOR + "cloudbuild:\n" + cloudbuild)
    project = load_project(tmp_path / "cigen.yaml")
    return texts(project, "cloudbuild")[project.image.kaniko_dockerfile]


def test_the_target_converts_for_the_image_it_runs(tmp_path: Path) -> None:
    fork_variant = _variant(tmp_path, "  cache: true\n")  # the default image: the fork
    assert "--mount=type=cache" in fork_variant
    assert "--mount=target=/app/src" in fork_variant
    upstream = _variant(tmp_path, "  kaniko_image: gcr.io/kaniko-project/executor:v1.24.0\n")
    assert "--mount" not in upstream
    assert "COPY . /app/src" in upstream
    mirror = "  kaniko_image: europe-docker.pkg.dev/acme/mirror/kaniko:v1.28.3\n"
    assert _variant(tmp_path, mirror) == upstream
    named = _variant(tmp_path, mirror + "  kaniko_features: osscontainertools-v1.28.3\n")
    assert named == fork_variant


@pytest.mark.parametrize(("body", "expected"), [
    ("  builder: buildx\n  kaniko_features: upstream\n",
     "4:20: cloudbuild.kaniko_features: is set but builder is buildx"),
    ("  kaniko_image: gcr.io/kaniko-project/executor:v1.24.0\n"
     "  kaniko_features: osscontainertools-v1.28.3\n",
     "4:20: cloudbuild.kaniko_features: claims more than gcr.io/kaniko-project/executor:v1.24.0 "
     "builds (upstream Kaniko); write upstream, or remove the key"),
    ("  kaniko_image: ghcr.io/osscontainertools/kaniko:v1.26.0\n"
     "  kaniko_features: osscontainertools-v1.28.3\n",
     "4:20: cloudbuild.kaniko_features: claims more than ghcr.io/osscontainertools/kaniko:"
     "v1.26.0 builds (osscontainertools/kaniko v1.26.0); write osscontainertools-v1.26.0, or "
     "remove the key"),
    ("  kaniko_features: fork-1.28\n", '3:20: cloudbuild.kaniko_features: "fork-1.28" does not'),
])
def test_kaniko_features_errors_are_located(body: str, expected: str, tmp_path: Path,
                                            run_line: Callable[..., Result]) -> None:
    config = tmp_path / "cigen.yaml"
    config.write_text("version: 1\ncloudbuild:\n" + body + DESCRIPTOR.split("\n", 1)[1])
    result = run_line(f"cigen render cloudbuild -c {config}")
    assert result.code == 2, result
    assert f"{config}:{expected}" in result.stderr, result
    assert not (tmp_path / "cloudbuild.yaml").exists()


# --- mutated Dockerfiles (tests/test_fuzz.py's corpus and mutations), converted for the fork

FUZZ_COUNT = 1_000


def _fork_convert_or_refuse(text: str) -> str:
    try:
        result = convert(text, executor=fork("1.28.3"))
    except ConversionError as e:
        return fuzz.refused(e.problems)
    assert not fuzz.has_secret_mount(text), "a secret mount was dropped without an error"
    commands = fuzz.parsed(result.text)
    for command in commands:
        for flag in (f for f in command.flags if f.lower().startswith("--mount")):
            mount = parse_mount(flag.partition("=")[2])
            assert mount.type in ("cache", "bind"), command.original
            assert mount.from_ is None, command.original
            assert mount.target.startswith("/"), command.original
    assert not [c.original for c in commands if (c.cmd or "").upper() not in fuzz.INSTRUCTIONS]
    assert fuzz._empty_runs(commands) <= fuzz._empty_runs(fuzz.parsed(text))
    return "converted"


def test_the_fork_conversion_answers_mutated_dockerfiles() -> None:
    outcomes = {"converted": 0, "refused": 0}
    for n, text in enumerate(fuzz.dockerfile_inputs(FUZZ_COUNT)):
        with fuzz.time_limit(fuzz.LIMIT, f"Dockerfile input {n}"):
            outcome = fuzz.run_case(n, text, lambda t=text: _fork_convert_or_refuse(t))  # type: ignore[misc]
        outcomes[outcome] += 1
    assert min(outcomes.values()) > FUZZ_COUNT // 10, outcomes
