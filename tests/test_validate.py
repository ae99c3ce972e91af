from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cigen.targets import circleci
from cigen.validation import _ecma_validator, _vendored
from tests.conftest import PROJECTS, Result


@pytest.mark.parametrize("name", PROJECTS)
def test_fixture_projects_validate(
    name: str, run_line: Callable[..., Result], project_copy: Callable[[str], Path]
) -> None:
    root = project_copy(name)
    result = run_line(["cigen", "validate", "-c", str(root / "cigen.yaml")])
    assert result.code == 0, result
    assert "outputs valid" in result.stdout


def test_a_broken_output_fails_validation(
    run_line: Callable[..., Result],
    project_copy: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = circleci.render

    def broken(project):  # type: ignore[no-untyped-def]
        files = real(project)
        files[".circleci/config.yml"] = files[".circleci/config.yml"].replace(
            "version: 2.1", "version: 7", 1
        )
        return files

    monkeypatch.setattr(circleci, "render", broken)
    root = project_copy("minimal")
    result = run_line(["cigen", "validate", "-c", str(root / "cigen.yaml")])
    assert result.code == 1, result
    assert result.stderr == ".circleci/config.yml: $.version: 7 is not one of ['2.1', 2.1]\n"


def test_vendored_patterns_use_ecma_regexes() -> None:
    # The CircleCI schema's patterns use \p{...} classes that Python's re rejects.
    schema = {
        "type": "object",
        "patternProperties": {r"^\p{L}+$": {"type": "integer"}},
        "properties": {"x1": {"pattern": r"^\p{Lu}"}},
    }
    errors = [e.message for e in _ecma_validator(schema).iter_errors({"é": "no", "x1": "lower"})]
    assert sorted(errors) == [
        "'lower' does not match '^\\\\p{Lu}'",
        "'no' is not of type 'integer'",
    ]


def test_every_vendored_schema_cigen_uses_loads() -> None:
    for name in ("circle-ci", "github-workflows", "cloudbuild"):
        assert _vendored(name)["$schema"]
