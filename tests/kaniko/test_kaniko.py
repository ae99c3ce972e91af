from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import dockerfile
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cigen.errors import ConversionError
from cigen.kaniko import Conversion, convert
from cigen.kaniko.executor import UPSTREAM, Executor, from_image
from cigen.kaniko.heredoc import printf_args
from cigen.schema import static_default
from tests.conftest import FIXTURES

CASES_DIR = FIXTURES / "kaniko"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "Dockerfile").is_file())
CONVERTED = [name for name in CASES if not (CASES_DIR / name / "expected-error.txt").exists()]
# The executor Cloud Build runs by default (cloudbuild.kaniko_image): its goldens are each
# case's expected-fork, expected-fork-notes.txt or expected-fork-error.txt.
FORK = from_image(static_default("cloudbuild.kaniko_image"))
assert FORK is not None
FORK_CONVERTED = [n for n in CASES if not (CASES_DIR / n / "expected-fork-error.txt").exists()
                  and (n in CONVERTED or (CASES_DIR / n / "expected-fork").exists())]
ENV_UPDATE = os.environ.get("CIGEN_UPDATE_GOLDENS") == "1"
HADOLINT = Path(sys.executable).parent / "hadolint"

# Rules hadolint may raise on converted output, and why each is not the converter's to fix.
HADOLINT_IGNORES = {
    "DL3008": "apt-get install without version pins: the packages and their pinning come "
    "from the input Dockerfile; the converter does not choose versions",
    "DL3018": "apk add without version pins: as DL3008, the input's choice",
    "DL3027": "apt instead of apt-get: the input's command is kept as written (the chapter's "
    "2023 Dockerfile uses apt)",
    "DL3000": "relative WORKDIR: kept from the input (the corpus uses one to test how mount "
    "targets resolve); the converter never writes a WORKDIR",
    "DL3042": "pip without --no-cache-dir: a pip cache mount is dropped as it is, like every "
    "cache mount that is not apk's or apt's (the note says its content now stays in the layer)",
    "SC2016": "single-quoted $ in a printf argument: the converter passes heredoc lines as "
    "single-quoted printf arguments on purpose; eval or the written file sees them verbatim, "
    "exactly as BuildKit passed the heredoc",
    "DL3059": "consecutive RUN instructions: they come from the input; merging them would "
    "change the layers (and Kaniko's layer cache) the author chose",
}


def _options(case: Path) -> dict[str, str]:
    stage = case / "published-stage.txt"
    return {"published_stage": stage.read_text().strip()} if stage.exists() else {}


def _run_case(case: Path, executor: Executor = UPSTREAM) -> Conversion | ConversionError:
    text = (case / "Dockerfile").read_text()
    try:
        return convert(text, "Dockerfile", executor=executor, **_options(case))
    except ConversionError as error:
        return error


@pytest.fixture
def update(request: pytest.FixtureRequest) -> bool:
    # the suite's --update-goldens flag, or CIGEN_UPDATE_GOLDENS=1
    return ENV_UPDATE or bool(request.config.getoption("--update-goldens", default=False))


def _check_or_update(path: Path, actual: str, update: bool) -> None:
    if update:
        path.write_text(actual)
    assert path.exists(), f"missing golden {path}; run with CIGEN_UPDATE_GOLDENS=1 and review it"
    assert actual == path.read_text()


@pytest.mark.parametrize("suffix", ["", "-fork"])
@pytest.mark.parametrize("name", CASES)
def test_golden(name: str, suffix: str, update: bool) -> None:
    """The conversion for upstream Kaniko, and for the fork where it differs (a case without
    expected-fork* files converts for the fork exactly as for upstream)."""
    case = CASES_DIR / name
    result = _run_case(case, FORK if suffix else UPSTREAM)
    expected, notes_file, error = (case / f"expected{suffix}", case / f"expected{suffix}-notes.txt",
                                   case / f"expected{suffix}-error.txt")
    if suffix and _same(result, _run_case(case)):
        if update:
            for path in (expected, notes_file, error):
                path.unlink(missing_ok=True)
        assert not [p for p in (expected, notes_file, error) if p.exists()], "no longer differs"
        return
    if isinstance(result, ConversionError):
        assert not expected.exists(), str(result)
        _check_or_update(error, str(result) + "\n", update)
        return
    assert not error.exists(), "conversion unexpectedly succeeded"
    _check_or_update(expected, result.text, update)
    notes = "".join(note + "\n" for note in result.notes)
    _check_or_update(notes_file, notes, update)


def _same(one: Conversion | ConversionError, two: Conversion | ConversionError) -> bool:
    if isinstance(one, ConversionError) or isinstance(two, ConversionError):
        return str(one) == str(two)
    return (one.text, one.notes) == (two.text, two.notes)


def _converted(name: str, executor: Executor = UPSTREAM) -> Conversion:
    result = _run_case(CASES_DIR / name, executor)
    assert isinstance(result, Conversion), str(result)
    return result


@pytest.mark.parametrize("name", CONVERTED)
def test_output_is_plain_dockerfile(name: str) -> None:
    result = _converted(name)
    assert result.text.endswith("\n")
    assert not result.text.endswith("\n\n")
    commands = dockerfile.parse_string(result.text)
    for cmd in commands:
        assert not cmd.heredocs, cmd
        assert not any(f.lower().startswith("--mount") for f in cmd.flags), cmd
        assert "--mount" not in cmd.original, cmd
    assert not re.match(r"(?:#[ \t]*\w+[ \t]*=.*\n)*#[ \t]*syntax[ \t]*=", result.text, re.I)


@pytest.mark.parametrize("name", FORK_CONVERTED)
def test_fork_output_keeps_only_what_the_fork_builds(name: str) -> None:
    # the parser oracle: cache mounts, context binds (absolute targets: the fork mounts a
    # relative one under /) and heredocs, nothing else BuildKit-only
    result = _converted(name, FORK)
    for cmd in dockerfile.parse_string(result.text):
        for flag in cmd.flags:
            if flag.lower().startswith("--mount"):
                spec = dict(item.partition("=")[::2] for item in flag.split("=", 1)[1].split(","))
                assert spec.get("type", "bind") in ("cache", "bind"), cmd
                assert "from" not in spec, cmd
                target = spec.get("target") or spec.get("dst") or spec.get("destination")
                assert (target or "").startswith("/"), cmd
        if cmd.heredocs and cmd.cmd.upper() == "RUN":
            assert cmd.value[0].strip() != f"<<{cmd.heredocs[0].name}" or not \
                cmd.heredocs[0].content.startswith("#!"), cmd
    assert not re.match(r"(?:#[ \t]*\w+[ \t]*=.*\n)*#[ \t]*syntax[ \t]*=", result.text, re.I)


@pytest.mark.parametrize("name", CONVERTED)
def test_output_is_a_fixed_point(name: str) -> None:
    result = _converted(name)
    again = convert(result.text)
    assert again.text == result.text
    assert again.base_args == ()


@pytest.mark.parametrize("name", FORK_CONVERTED)
def test_fork_output_is_a_fixed_point(name: str) -> None:
    result = _converted(name, FORK)
    again = convert(result.text, executor=FORK)
    assert again.text == result.text
    assert again.base_args == ()


@pytest.mark.parametrize("name", CONVERTED)
def test_base_args_are_declared(name: str) -> None:
    result = _converted(name)
    for arg, image in result.base_args:
        assert f"ARG {arg}={image}\n".lower() in result.text.lower()
        assert re.search(rf"^from (--\S+ )*\${arg}\b", result.text, re.I | re.M)


@pytest.mark.parametrize("name", CONVERTED)
def test_hadolint_passes(name: str, tmp_path: Path) -> None:
    findings = _hadolint(_converted(name).text, tmp_path)
    assert not findings, findings


@pytest.mark.parametrize("name", FORK_CONVERTED)
def test_hadolint_on_the_fork_output_finds_only_what_the_input_has(
    name: str, tmp_path: Path
) -> None:
    # The fork's variant keeps heredoc scripts and the package-cache set-up as written, so
    # hadolint (and the ShellCheck it runs on them) sees the input's own text: what it
    # reports there, it reports on the input too. Its parser reads neither <<- heredocs nor
    # two heredocs in one RUN (language-docker); then it fails on the input alike.
    found = _codes(_hadolint(_converted(name, FORK).text, tmp_path))
    assert found <= _codes(_hadolint((CASES_DIR / name / "Dockerfile").read_text(), tmp_path))


def _hadolint(text: str, tmp_path: Path) -> list[str]:
    target = tmp_path / "Dockerfile"
    target.write_text(text)
    ignores = [arg for rule in HADOLINT_IGNORES for arg in ("--ignore", rule)]
    lint = subprocess.run(
        [str(HADOLINT), "--no-color", *ignores, str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = (lint.stdout + lint.stderr).splitlines()
    assert (lint.returncode == 0) is not findings, lint
    return findings


def _codes(findings: list[str]) -> set[str]:
    """Rule codes, or "parse" for a file hadolint's parser cannot read."""
    codes = {m[1] for line in findings if (m := re.search(r":\d+ ((?:DL|SC)\d+) ", line))}
    return codes | ({"parse"} if any("unexpected" in line for line in findings) else set())


def _error(text: str, **kwargs: str) -> str:
    with pytest.raises(ConversionError) as info:
        convert(text, **kwargs)
    return str(info.value)


def test_single_stage_base_image_is_base_image() -> None:
    result = convert("FROM alpine:3.19\nRUN true\n")
    assert result.base_args == (("BASE_IMAGE", "alpine:3.19"),)
    assert result.text == "ARG BASE_IMAGE=alpine:3.19\n\nFROM $BASE_IMAGE\nRUN true\n"


def test_arg_names_never_clash() -> None:
    text = "ARG BASE_IMAGE=x\nFROM a:1 AS base\nFROM b:1 AS tool\nFROM base\nFROM c@sha256:ab\n"
    result = convert(text)
    assert result.base_args == (
        ("BASE_IMAGE_2", "a:1"),
        ("TOOL_IMAGE", "b:1"),
        ("RUNNER_IMAGE", "c@sha256:ab"),
    )


def test_unknown_published_stage() -> None:
    message = _error("FROM a:1 AS one\n", path="ci/Dockerfile", published_stage="two")
    assert message == "ci/Dockerfile: no stage is named two; pass an existing stage name"


def test_crlf_is_kept() -> None:
    text = "FROM a:1\r\nRUN --mount=type=cache,target=/x \\\r\n    echo hi\r\n"
    result = convert(text)
    assert result.text == "ARG BASE_IMAGE=a:1\r\n\r\nFROM $BASE_IMAGE\r\nRUN echo hi\r\n"


def test_missing_final_newline_and_extra_blank_lines() -> None:
    assert convert("FROM $X").text == "FROM $X\n"
    assert convert("FROM $X\n\n\n").text == "FROM $X\n"


def test_json_run_keeps_its_command() -> None:
    result = convert('FROM $X\nWORKDIR /w\nRUN --mount=target=src ["ls", "src"]\n')
    assert result.text == 'FROM $X\nWORKDIR /w\nCOPY . /w/src\nRUN ["ls", "src"]\n'


def test_relative_target_with_unknown_workdir_stays_relative() -> None:
    result = convert("FROM $X\nRUN --mount=target=src ls src\n")
    assert result.text == "FROM $X\nCOPY . src\nRUN ls src\n"


def test_apk_untouched_without_apk_cache_mount() -> None:
    result = convert("FROM $X\nRUN --mount=type=cache,target=/root/.cache apk add --update gcc\n")
    assert result.text == "FROM $X\nRUN apk add --update gcc\n"


def test_add_multi_source_gets_a_slash_and_loses_link() -> None:
    result = convert("FROM $X\nADD --link --chown=1:1 a.tar b.tar /opt\n")
    assert result.text == "FROM $X\nADD --chown=1:1 a.tar b.tar /opt/\n"


def test_heredoc_with_apt_cache_cleans_after_the_script() -> None:
    text = (
        "FROM $X\nRUN --mount=type=cache,target=/var/lib/apt/lists <<EOF\n"
        "apt-get install -y git\nEOF\n"
    )
    assert convert(text).text == (
        "FROM $X\nRUN eval \"$(printf '%s\\n' \\\n"
        "    'apt-get update && apt-get install -y git')\" && rm -rf /var/lib/apt/lists/*\n"
    )


def test_copy_heredoc_to_a_variable_destination() -> None:
    text = "FROM $X\nARG D=/etc\nCOPY <<'EOF' ${D}/app.conf\nk=v\nEOF\n"
    assert convert(text).text == (
        "FROM $X\nARG D=/etc\nRUN mkdir -p \"${D}\" && printf '%s\\n' \\\n"
        '    \'k=v\' > "${D}/app.conf" && chmod 644 "${D}/app.conf"\n'
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "FROM $X\nRUN --mount=type=cache echo\n",
            "Dockerfile:2: cannot read the mount: --mount=type=cache has no target; "
            "fix the --mount flag",
            id="mount-without-target",
        ),
        pytest.param(
            "FROM $X\nRUN --device=/dev/fuse echo\n",
            "Dockerfile:2: RUN --device is not a Dockerfile flag Kaniko knows; remove it",
            id="unknown-run-flag",
        ),
        pytest.param(
            'FROM $X\nSHELL ["pwsh", "-c"]\nRUN <<EOF\nWrite-Host hi\nEOF\n',
            "Dockerfile:3: RUN <<EOF under a non-POSIX SHELL cannot be rewritten for Kaniko; "
            "write the script to a file in the context, COPY it and RUN it",
            id="heredoc-non-posix-shell",
        ),
        pytest.param(
            "FROM $X\n# a comment\n\nRUN <<EOF\necho\n",
            "Dockerfile:4: unterminated heredoc; end it with a line holding only its delimiter",
            id="unterminated-heredoc-after-comments",
        ),
        pytest.param(
            "\x00\x01\x02\n",
            "Dockerfile: the file has no instructions; a Dockerfile needs at least a FROM",
            id="binary-garbage",
        ),
        pytest.param(
            "ARG A=1\n",
            "Dockerfile: the file has no FROM; start the build stage with FROM",
            id="only-args",
        ),
    ],
)
def test_errors(text: str, message: str) -> None:
    assert _error(text) == message


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.text(st.characters(codec="utf-8", exclude_characters="\x00\n\r"), max_size=12),
        min_size=1,
    )
)
def test_printf_args_reproduce_every_line(lines: list[str]) -> None:
    # the shell sees exactly the heredoc's lines, whatever quotes, $, % or backslashes hold
    command = printf_args(lines, "\\", "\n")
    shown = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)
    assert shown.stdout == "".join(line + "\n" for line in lines)


@pytest.mark.parametrize("name", ["chapter-2019-alpine", "chapter-2023-debian"])
def test_chapter_matches_the_dockerfile_cb_design(name: str) -> None:
    # the shape of the chapter's hand-written ci/Dockerfile.cb
    lines = convert((CASES_DIR / name / "Dockerfile").read_text()).text.splitlines()
    assert lines[0].startswith("ARG BASE_IMAGE=")
    assert lines[1].startswith("ARG RUNNER_IMAGE=")
    for wanted in (
        "FROM $BASE_IMAGE as builder",
        "FROM $RUNNER_IMAGE as runner",
        "COPY rebar.config rebar.lock ./",
        "RUN rebar3 compile",
        "COPY --from=releaser /opt/rel .",
    ):
        assert wanted in lines
    assert not any("--mount" in line or "docker-clean" in line for line in lines)


def test_copy_heredoc_strips_tabs() -> None:
    text = "FROM $X\nCOPY <<-'EOF' /a\n\tone\n\t\ttwo\n\tEOF\n"
    assert convert(text).text == (
        "FROM $X\nRUN printf '%s\\n' \\\n    'one' \\\n    'two' > /a && chmod 644 /a\n"
    )
