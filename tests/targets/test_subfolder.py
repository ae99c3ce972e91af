"""A rebar3 project in a subfolder of its git repository (issue 15): the descriptor at the root,
`directory` naming the project's folder, CI files where CI reads them; never CI files in the
subfolder. A scratch git repository holds the project in services/api."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cigen.init import init
from cigen.yamlio import load_plain
from tests import oracles
from tests.conftest import Result
from tests.helpers import load_project

API = "services/api"
DESCRIPTOR = f"""\
version: 1
name: api
registry: ghcr.io/acme
directory: {API}
targets: [github, cloudbuild]
erlang:
  otp: "26.2.5"
  checks: [xref, ct]
  setup:
    ct: [{{name: Migrate, run: ./migrate.sh}}]
image:
  keep_git: false
cloudbuild:
  run_checks: true
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with a rebar3 project in services/api and nothing at its root."""
    root = tmp_path / "mono"
    project = root / API
    (project / "src").mkdir(parents=True)
    (project / "rebar.config").write_text('{relx, [{release, {api, "0.1.0"}, [api]}]}.\n')
    (project / "rebar.lock").write_text("[].\n")
    (project / "src" / "api.app.src").write_text('{application, api, [{vsn, "0.1.0"}]}.\n')
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    return root


def _render(root: Path, run_line: Callable[..., Result], text: str = DESCRIPTOR) -> Result:
    (root / "cigen.yaml").write_text(text, "utf-8")
    return run_line("cigen render", cwd=root)


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and ".git" not in p.relative_to(root).parts)


def test_ci_files_at_the_root_the_image_in_the_project(
        repo: Path, run_line: Callable[..., Result]) -> None:
    assert _render(repo, run_line).code == 0
    assert _files(repo) == [
        ".cigen/files.json", ".gcloudignore", ".github/workflows/ci.yml", "cigen.yaml",
        "cloudbuild.release.yaml", "cloudbuild.yaml", f"{API}/.dockerignore", f"{API}/Dockerfile",
        f"{API}/ci/Dockerfile.cb", f"{API}/rebar.config", f"{API}/rebar.lock",
        f"{API}/src/api.app.src"]
    assert run_line("cigen check", cwd=repo).code == 0
    workflow = repo / ".github/workflows/ci.yml"
    oracles.check_jsonschema("vendor.github-workflows", workflow)
    oracles.actionlint(workflow)
    oracles.zizmor(workflow)
    oracles.workflow_parser(workflow)
    oracles.check_jsonschema("vendor.cloudbuild", repo / "cloudbuild.yaml",
                             repo / "cloudbuild.release.yaml")
    oracles.hadolint(repo / API / "ci/Dockerfile.cb", ignore=("DL3018",))
    assert run_line("cigen validate", cwd=repo).code == 0


def test_github_runs_in_the_folder_and_caches_from_the_workspace(
        repo: Path, run_line: Callable[..., Result]) -> None:
    _render(repo, run_line)
    workflow: dict[str, Any] = load_plain((repo / ".github/workflows/ci.yml").read_text())
    assert workflow["defaults"] == {"run": {"working-directory": API}}
    for job in ("xref", "ct"):
        cache = next(s for s in workflow["jobs"][job]["steps"] if "actions/cache" in s.get(
            "uses", ""))["with"]
        assert cache["path"] == f"{API}/_build\n~/.cache/rebar3\n"
        assert cache["key"].endswith(f"-rebar3-{job}-${{{{ hashFiles('{API}/rebar.lock') }}}}")
    runs = [s["run"] for s in workflow["jobs"]["ct"]["steps"] if "run" in s]
    assert runs == ["./migrate.sh", "rebar3 ct"]  # both in services/api, by the default
    build = workflow["jobs"]["image"]["steps"][-1]["with"]
    assert (build["context"], build["file"]) == (API, f"{API}/Dockerfile")


def test_cloud_build_runs_in_the_folder(repo: Path, run_line: Callable[..., Result]) -> None:
    _render(repo, run_line)
    steps = load_plain((repo / "cloudbuild.yaml").read_text())["steps"]
    checks = [s for s in steps if s.get("name") == "erlang:26.2.5"]
    assert [s["id"] for s in checks] == ["compile", "xref", "ct-setup-1", "ct"]
    assert {s["dir"] for s in checks} == {API}
    kaniko = steps[-1]["args"]
    assert f"--dockerfile=./{API}/ci/Dockerfile.cb" in kaniko
    assert f"--context=dir:///workspace/{API}" in kaniko
    # with buildx the context is the build's last argument, from /workspace
    _render(repo, run_line, DESCRIPTOR + "  builder: buildx\n")
    buildx = load_plain((repo / "cloudbuild.yaml").read_text())["steps"][-1]["args"]
    assert buildx[-2:] == ["--push", API]
    assert f"--file=./{API}/Dockerfile" in buildx


def test_the_dockerignore_applies_at_the_folder(repo: Path, tmp_path: Path,
                                                run_line: Callable[..., Result]) -> None:
    """buildah, given services/api as the context, leaves out what the .dockerignore says."""
    _render(repo, run_line)
    context = repo / API
    for rel in ("_build/default/lib/x.beam", "ci/build_images.sh", "README.md"):
        (context / rel).parent.mkdir(parents=True, exist_ok=True)
        (context / rel).write_text(rel)
    (tmp_path / "Containerfile").write_text("FROM scratch\nCOPY . /ctx/\n")
    out = tmp_path / "out"
    oracles.run(oracles.tool("buildah"), "--root", tmp_path / "root", "--runroot",
                tmp_path / "runroot", "--storage-driver", "vfs", "build", "--isolation",
                "chroot", "-f", tmp_path / "Containerfile", "--output", f"type=local,dest={out}",
                context)
    copied = sorted(str(p.relative_to(out / "ctx")) for p in (out / "ctx").rglob("*")
                    if p.is_file())
    assert copied == [".dockerignore", "README.md", "rebar.config", "rebar.lock",
                      "src/api.app.src"]


@pytest.mark.parametrize(("old", "new", "message"), [
    ("targets: [github, cloudbuild]", "targets: [circleci]", "cigen.yaml:4:12: directory: "
     "services/api: the rebar3 orb's CircleCI jobs run rebar3 at the repository's root only; "
     'remove circleci from targets (docs/targets.md, "A project in a subfolder")'),
    ("  keep_git: false", "  os: alpine", "cigen.yaml:11:1: image.keep_git: is true, but the "
     "image's build context, services/api, holds no .git (it is at the repository's root), so "
     "a release versioned from git would be 0.0.0: set image.keep_git: false and give the "
     "release a version"),
    ("directory: services/api", "directory: services/web", "cigen.yaml:4:12: directory: "
     "services/web is not a folder beside the descriptor; name the folder of the rebar3 "
     "project"),
    ("directory: services/api", "directory: services", "cigen.yaml:4:12: directory: services "
     "has no rebar.config; name the folder of the rebar3 project"),
])
def test_what_a_subfolder_refuses(repo: Path, run_line: Callable[..., Result], old: str,
                                  new: str, message: str) -> None:
    result = _render(repo, run_line, DESCRIPTOR.replace(old + "\n", new + "\n"))
    assert result.code == 2, result
    assert result.stderr == message + "\n"
    assert _files(repo) == ["cigen.yaml", f"{API}/rebar.config", f"{API}/rebar.lock",
                            f"{API}/src/api.app.src"]


def test_a_descriptor_below_the_root_is_refused(repo: Path,
                                                run_line: Callable[..., Result]) -> None:
    text = DESCRIPTOR.replace(f"directory: {API}\n", "")
    (repo / API / "cigen.yaml").write_text(text, "utf-8")
    before = _files(repo)
    for command in ("cigen render", "cigen check"):
        result = run_line(command, cwd=repo / API)
        assert result.code == 2, result
        assert result.stderr == (
            f"cigen.yaml:1:1: github.workflow_file: .github/workflows/ci.yml would be written in "
            f"{API}, but CI reads it only at the root of the git repository, {repo}: move "
            f'cigen.yaml there and set `directory: {API}` (docs/targets.md, "A project in a '
            'subfolder")\n')
    assert _files(repo) == before  # nothing written, no .github in the subfolder


def test_init_in_the_subfolder_writes_the_descriptor_at_the_root(
        repo: Path, run_line: Callable[..., Result], capsys: pytest.CaptureFixture[str]) -> None:
    assert init(repo / API) == 0
    out = capsys.readouterr().out
    assert f"directory: {API}; run cigen in {repo}" in out
    text = (repo / "cigen.yaml").read_text()
    assert f"\ndirectory: {API}  #" in text
    project = load_project(repo / "cigen.yaml")
    assert project.directory == API
    assert "circleci" not in project.targets
    assert not project.image.keep_git
    assert run_line("cigen render", cwd=repo).code == 0
    assert run_line("cigen check", cwd=repo).code == 0
    assert not (repo / API / ".github").exists()
    assert not (repo / API / ".circleci").exists()
    assert (repo / ".github/workflows/ci.yml").is_file()


def test_init_never_replaces_the_roots_descriptor(repo: Path) -> None:
    from cigen.errors import CigenError

    (repo / "cigen.yaml").write_text("# another service's\n")
    with pytest.raises(CigenError, match="exists; cigen init never replaces it"):
        init(repo / API)
    assert (repo / "cigen.yaml").read_text() == "# another service's\n"
    assert not (repo / API / "cigen.yaml").exists()
