from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from cigen.targets import circleci
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
    real = circleci.plan

    def broken(project):  # type: ignore[no-untyped-def]
        plan = real(project)
        config = plan.outputs[0]
        assert config.path == ".circleci/config.yml"
        text = config.text.replace("version: 2.1", "version: 7", 1)
        return replace(plan, outputs=(replace(config, text=text), *plan.outputs[1:]))

    monkeypatch.setattr(circleci, "plan", broken)
    root = project_copy("minimal")
    result = run_line(["cigen", "validate", "-c", str(root / "cigen.yaml")])
    assert result.code == 1, result
    assert result.stderr == ".circleci/config.yml: $.version: 7 is not one of ['2.1', 2.1]\n"


def test_validate_without_check_jsonschema_says_what_to_install(
    run_line: Callable[..., Result],
    project_copy: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = project_copy("minimal")
    monkeypatch.setitem(sys.modules, "check_jsonschema", None)  # as if not installed
    result = run_line(["cigen", "validate", "-c", str(root / "cigen.yaml")])
    assert result.code == 2, result
    hint = "checking outputs needs check-jsonschema: pip install 'cigen[validate]'\n"
    assert result.stderr == hint
