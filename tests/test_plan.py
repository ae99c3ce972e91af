from __future__ import annotations

import collections
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import cigen.kaniko
from cigen import commands, targets
from cigen.plan import build
from cigen.targets import dockerfile
from cigen.targets.cloudbuild import steps
from tests.conftest import FIXTURES, IMAGE_PROJECTS
from tests.helpers import load_project


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    """How often each renderer ran: every target's plan, the BuildKit Dockerfile's stages, the
    Kaniko conversion and the Cloud Build steps."""
    counted: collections.Counter[str] = collections.Counter()

    def count(owner: Any, name: str, label: str) -> None:
        real = getattr(owner, name)

        def counting(*args: Any, **kwargs: Any) -> Any:
            counted[label] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, counting)

    for target in targets.TARGETS:
        count(targets.load(target), "plan", target)
    count(dockerfile, "_builder", "BuildKit Dockerfile")
    count(cigen.kaniko, "convert", "Kaniko conversion")
    count(steps, "steps", "Cloud Build steps")
    return counted


@pytest.mark.parametrize("name", IMAGE_PROJECTS)  # the Dockerfile is counted too
def test_each_renderer_runs_once_per_build(name: str, calls: collections.Counter[str]) -> None:
    project = load_project(FIXTURES / name / "cigen.yaml", ("dockerfile",))  # counted too
    calls.clear()
    build(project)
    assert calls, "nothing was counted"
    assert {label: n for label, n in calls.items() if n != 1} == {}


def test_check_builds_once(
    calls: collections.Counter[str], project_copy: Callable[[str], Path]
) -> None:
    config = project_copy("service_discovery") / "cigen.yaml"
    assert commands.check(config, []) == 0
    assert calls["BuildKit Dockerfile"] == calls["Kaniko conversion"] == 1
    assert set(calls.values()) == {1}


def test_two_outputs_naming_one_file_are_refused_at_their_key(tmp_path: Path) -> None:
    from cigen.errors import DescriptorError
    from cigen.plan import load

    config = tmp_path / "cigen.yaml"
    config.write_text(
        'version: 1\nname: hello\nregistry: ghcr.io/acme\nerlang: {otp: "26.2.5"}\n'
        "targets: [cloudbuild]\ncloudbuild:\n  file: ./Dockerfile\n", "utf-8")
    with pytest.raises(DescriptorError) as caught:
        load(config)
    assert caught.value.problems == [
        f"{config}:1:1: image.dockerfile: Dockerfile is also written by cloudbuild as "
        "./Dockerfile; choose another path",
        f"{config}:7:9: cloudbuild.file: ./Dockerfile is also written by dockerfile as "
        "Dockerfile; choose another path",
    ]
