from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cigen.descriptor import MAX_BYTES
from cigen.errors import DescriptorError
from cigen.model import Project
from tests.conftest import FIXTURES, PROJECTS
from tests.helpers import load_project

HEAD = 'version: 1\nname: hello\nregistry: ghcr.io/acme\n'
VALID = HEAD + 'erlang:\n  otp: "26.2.5"\n'
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def load(tmp_path: Path, text: str | bytes) -> Project:
    path = tmp_path / "cigen.yaml"
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    return load_project(path)


def errors(tmp_path: Path, text: str | bytes) -> list[str]:
    with pytest.raises(DescriptorError) as raised:
        load(tmp_path, text)
    shown = str(tmp_path / "cigen.yaml")
    return [line.replace(shown, "cigen.yaml") for line in raised.value.problems]


@pytest.mark.parametrize("name", PROJECTS)
def test_every_fixture_project_loads(name: str) -> None:
    project = load_project(FIXTURES / name / "cigen.yaml")
    assert project.source == "cigen.yaml"


def test_a_descriptor_with_another_name_is_its_own_source(tmp_path: Path) -> None:
    path = tmp_path / "ci.yaml"
    path.write_text(VALID)
    assert load_project(path).source == "ci.yaml"


def test_byte_order_mark_and_crlf_are_accepted(tmp_path: Path) -> None:
    project = load(tmp_path, b"\xef\xbb\xbf" + VALID.replace("\n", "\r\n").encode())
    assert project.erlang.otp == "26.2.5"


def test_positions_survive_crlf(tmp_path: Path) -> None:
    text = HEAD.replace("\n", "\r\n") + "erlang:\r\n  otp: 26.2\r\n"
    assert errors(tmp_path, text) == [
        'cigen.yaml:5:8: erlang.otp: 26.2 is not a string; quote versions: "26.2"'
    ]


@given(major=st.integers(0, 99), minor=st.from_regex(r"\A[0-9]{1,3}\Z"))
@FUZZ
def test_an_unquoted_version_is_shown_exactly_as_written(
    tmp_path: Path, major: int, minor: str
) -> None:
    written = f"{major}.{minor}"
    message = f'cigen.yaml:5:8: erlang.otp: {written} is not a string; quote versions: "{written}"'
    assert errors(tmp_path, HEAD + f"erlang:\n  otp: {written}\n") == [message]


def test_an_anchored_value_is_shown_without_its_anchor(tmp_path: Path) -> None:
    text = HEAD + "erlang:\n  otp: &v 26.2\n  rebar3: *v\n"
    assert errors(tmp_path, text) == [
        'cigen.yaml:5:8: erlang.otp: 26.2 is not a string; quote versions: "26.2"',
        'cigen.yaml:6:3: erlang.rebar3: 26.2 is not a string; quote versions: "26.2"',
    ]


def test_anchored_booleans_are_booleans(tmp_path: Path) -> None:
    project = load(tmp_path, VALID + "image:\n  generate: &yes true\n  keep_git: *yes\n")
    assert project.image.generate is True
    assert project.image.keep_git is True


def test_merge_keys_work_and_their_errors_are_located(tmp_path: Path) -> None:
    common = "base: &base\n  otp: \"26.2.5\"\n"
    assert errors(tmp_path, HEAD + common + "erlang:\n  <<: *base\n  rebar3: \"3.24.0\"\n") == [
        'cigen.yaml:4:1: base: unknown key; known keys: version, name, image_name, registry, '
        "directory, targets, erlang, image, private, publish, overrides, circleci, github, "
        "cloudbuild",
    ]
    # A merged key's problem is where the merged mapping writes it, not at the `<<`.
    text = HEAD + "erlang:\n  <<: {otp: \"26.2.5\", colour: blue}\n"
    assert errors(tmp_path, text) == [
        "cigen.yaml:5:23: erlang.colour: unknown key; known keys: otp, matrix, rebar3, "
        "release_profile, checks, env, services, setup, timeouts",
    ]
    text = HEAD + "base: &b\n  otp: 26\nerlang:\n  <<: *b\n  rebar3: \"3.24.0\"\n"
    assert errors(tmp_path, text)[1] == \
        'cigen.yaml:5:8: erlang.otp: 26 is not a string; quote versions: "26"'


def test_a_cross_key_rule_waits_for_its_inputs_to_be_valid(tmp_path: Path) -> None:
    text = HEAD + 'erlang:\n  otp: "26.2.5"\n  checks: [ct, ct]\npublish:\n  after: [eunit]\n'
    assert errors(tmp_path, text) == ['cigen.yaml:6:11: erlang.checks: lists "ct" more than once']


def test_one_cause_one_message(tmp_path: Path) -> None:
    text = HEAD + 'erlang:\n  otp: "26.2.5"\n  env:\n    2: x\n'
    assert errors(tmp_path, text) == [
        'cigen.yaml:7:5: erlang.env.2: key 2 is not a string; write keys as names, or quote it'
    ]


def test_a_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    text = VALID + "#" * MAX_BYTES + "\n"
    assert errors(tmp_path, text) == ["cigen.yaml: over 1024 KiB; a descriptor is a few KiB"]


def test_non_utf8_column_counts_characters(tmp_path: Path) -> None:
    assert errors(tmp_path, HEAD.encode() + "# café\n".encode() + b"x: \xe9\n") == [
        "cigen.yaml:5:4: not UTF-8 text (byte 0xe9); save the file as UTF-8"
    ]


def test_selected_target_checks_run(tmp_path: Path) -> None:
    path = tmp_path / "cigen.yaml"
    path.write_text(VALID)
    assert load_project(path, ("circleci",)).name == "hello"


def assert_project_or_error(tmp_path: Path, data: bytes) -> None:
    """Never a crash: a Project, or a DescriptorError whose every line names the file."""
    problems: list[str] = []
    try:
        load(tmp_path, data)
    except DescriptorError as e:
        problems = e.problems or ["(an error without problems)"]
    assert all(line.startswith(str(tmp_path / "cigen.yaml")) for line in problems), problems


YAML_BITS = st.sampled_from([
    "\n", " ", "  ", ":", ": ", "- ", "[", "]", "{", "}", ",", "&a ", "*a", "!t ", "!!str ", "#",
    '"', "'", "|", ">", "? ", "---\n", "...", "<<: ", "\t", "%YAML 1.1\n", "~", "1", "26.10",
    "true", "otp", "erlang", "name", "version", "image", "env", "x", "é", "\x00", "\ufeff",
])


@given(st.lists(YAML_BITS, max_size=40).map("".join))
@FUZZ
def test_any_text_gives_a_project_or_a_descriptor_error(tmp_path: Path, text: str) -> None:
    assert_project_or_error(tmp_path, text.encode("utf-8", "surrogatepass"))


@given(st.data())
@FUZZ
def test_any_edit_of_a_real_descriptor_gives_a_project_or_a_descriptor_error(
    tmp_path: Path, data: st.DataObject
) -> None:
    text = (FIXTURES / "service_discovery" / "cigen.yaml").read_text()
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 8))
        text = text[:at] + data.draw(YAML_BITS) + text[at + cut:]
    assert_project_or_error(tmp_path, text.encode())
