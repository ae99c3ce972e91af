from __future__ import annotations

import pytest

from cigen import files
from tests.conftest import FIXTURES, PROJECTS
from tests.helpers import built, load_project


@pytest.mark.parametrize("name", PROJECTS)
def test_committed_outputs_are_current(name: str, update_goldens: bool) -> None:
    """Each fixture project's committed outputs are its reviewed golden files."""
    config = FIXTURES / name / "cigen.yaml"
    project = load_project(config)
    planned = built(project).outputs
    if update_goldens:
        files.write(planned, config.parent)
    stale = files.drift(planned, config.parent)
    assert not stale, "\n".join(f"{d.path}: {d.kind}\n{d.diff}" for d in stale)
