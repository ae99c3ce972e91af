"""`cigen init` on layouts modelled on real rebar3 projects (issue #15): each corpus case is a few
hand-written files that reproduce a project's layout (tests/init/corpus/<case>/repo; case.yaml
says which project and what it shows), made into a git repository with the case's default
branch and remote. init must write the reviewed descriptor (expected.yaml) and report
(report.txt); then render (--force over the user's CI files), validate, check, the real
linters, and the compatibility rules must all pass on it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cigen import commands, compat
from cigen.core import is_generated
from cigen.init import init
from cigen.targets import fit
from cigen.yamlio import load_plain
from tests import oracles
from tests.helpers import load_project

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "case.yaml").is_file())


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com",
                    *args], check=True, capture_output=True)


def repository(case: dict[str, Any], files: Path, tmp_path: Path) -> Path:
    """The case's files as a clone of a repository whose default branch is the case's (git sets
    origin/HEAD), its origin then pointed at the project's URL; without a remote, a fresh
    `git init` on that branch."""
    upstream = tmp_path / ("upstream" if case.get("remote") else "repo")
    shutil.copytree(files, upstream, symlinks=True)
    subprocess.run(["git", "init", "-q", "-b", case["branch"], str(upstream)], check=True)
    git(upstream, "add", "-A")
    git(upstream, "commit", "-q", "-m", "the layout")
    if not case.get("remote"):
        return upstream
    root = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", str(upstream), str(root)], check=True)
    git(root, "remote", "set-url", "origin", case["remote"])
    return root


def test_the_corpus_has_ten_layouts_at_least() -> None:
    assert len(CASES) >= 10, CASES


@pytest.mark.parametrize("name", CASES)
def test_init_on_a_real_layout(
    name: str, tmp_path: Path, update_goldens: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    case = load_plain((CORPUS / name / "case.yaml").read_text("utf-8"))
    if case.get("xfail"):
        pytest.xfail(case["xfail"])
    root = repository(case, CORPUS / name / "repo", tmp_path)
    project = root / case.get("directory", ".")
    assert init(project) == 0
    report = capsys.readouterr().out.replace(str(tmp_path), "<tmp>")
    config = root / "cigen.yaml"  # at the repository's root, where CI reads its files
    _golden(CORPUS / name / "expected.yaml", config.read_text("utf-8"), update_goldens)
    _golden(CORPUS / name / "report.txt", report, update_goldens)
    oracles.yamllint(config)
    force = "render --force" in report
    assert commands.render(config, [], force=force) == 0
    assert commands.validate(config) == 0
    assert commands.check(config, []) == 0
    _fits(load_project(config))
    _lint(root)
    _at_the_root(root, project)


def _golden(expected: Path, text: str, update: bool) -> None:
    if update:
        expected.write_text(text, "utf-8")
    assert text == expected.read_text("utf-8")


def _fits(project: Any) -> None:
    """The compatibility work's rules (cigen/targets/fit.py, cigen/compat.py) hold."""
    assert not list(fit.toolchain_problems(project))
    assert compat.rebar3_refusal(project.erlang.rebar3, project.erlang.otp) is None
    image = project.image
    if image and image.generate:
        assert not list(fit.image_problems(project))
        base, runner = compat.image_release(image.base), compat.image_release(image.runner)
        assert base == runner, (image.base, image.runner)
        assert base is not None
        assert compat.supported(base) is not False


def _lint(project: Path) -> None:
    """The real linters on what cigen wrote (the user's other workflows stay as they were)."""
    mine = [p for p in project.rglob("*") if p.is_file() and ".git" not in p.parts
            and is_generated(p.read_text("utf-8", errors="replace"))]
    workflows = [p for p in mine if p.parent.name == "workflows"]
    if workflows:
        oracles.actionlint(*workflows)
        oracles.workflow_parser(*workflows)
    scripts = [p for p in mine if p.suffix == ".sh"]
    if scripts:
        oracles.shellcheck(*scripts)


def _at_the_root(root: Path, project: Path) -> None:
    """CI reads its files at the repository's root only: none may be written below it."""
    if project != root:
        for ci in (".github", ".circleci"):
            assert not (project / ci).exists(), f"{ci} in {project.name}/, which no CI reads"
