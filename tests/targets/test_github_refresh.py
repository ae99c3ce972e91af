"""The refresh workflow (github.refresh, cigen/targets/github/refresh.py): its shape, the
oracles, its problems, `cigen check` with the repository's action pins as an input, and its
pull-request script run for real against a local git remote and a stand-in gh."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cigen import __version__
from cigen.action_pins import shipped
from cigen.descriptor import load as load_descriptor
from cigen.errors import DescriptorError
from cigen.targets.github import refresh
from cigen.yamlio import load_plain
from tests import oracles
from tests.helpers import load_project, texts
from tests.targets.test_github import auditor_findings, zizmor

HEAD = 'version: 1\nname: hello\nerlang:\n  otp: "26.2.5"\nregistry: ghcr.io/acme\n'
REFRESH = "github:\n  refresh:\n    schedule: \"17 5 * * 1\"\n"
CUSTOM = """\
github:
  workflow_file: .github/workflows/build.yaml
  action_pins: ci/action-pins.json
  refresh:
    schedule: "0 3 1 * *"
    workflow_file: .github/workflows/pins.yaml
    branch: bot/pins
"""
DEFAULT_FILE = ".github/workflows/cigen-refresh.yml"


def rendered(root: Path, text: str, name: str = "cigen.yaml") -> dict[str, str]:
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text)
    return texts(load_project(root / name, ("github",)), "github")


@pytest.fixture(scope="module")
def workflows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("refresh")
    out = {}
    for case, (text, path) in {"default": (HEAD + REFRESH, DEFAULT_FILE),
                               "custom": (HEAD + CUSTOM, ".github/workflows/pins.yaml"),
                               "gcp": (HEAD.replace("ghcr.io/acme", "europe-docker.pkg.dev/p/r")
                                       + REFRESH, DEFAULT_FILE)}.items():
        out[case] = root / case / "refresh.yml"
        out[case].parent.mkdir()
        out[case].write_text(rendered(root / case, text)[path])
    return out


def data(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = load_plain(path.read_text())
    return loaded


def steps(path: Path) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in data(path)["jobs"]["refresh"]["steps"]}


# --- shape -------------------------------------------------------------------------------------

def test_triggers_permissions_and_concurrency(workflows: dict[str, Path]) -> None:
    wf = data(workflows["default"])
    assert wf["on"] == {"schedule": [{"cron": "17 5 * * 1"}], "workflow_dispatch": None}
    assert wf["permissions"] == {}
    assert wf["concurrency"] == {"group": "${{ github.workflow }}", "cancel-in-progress": False}
    assert list(wf["jobs"]) == ["refresh"]
    job = wf["jobs"]["refresh"]
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert job["timeout-minutes"] == refresh.TIMEOUT
    assert job["runs-on"] == "ubuntu-24.04"
    assert data(workflows["custom"])["on"]["schedule"] == [{"cron": "0 3 1 * *"}]


def test_each_permission_says_why_on_its_line(workflows: dict[str, Path]) -> None:
    text = workflows["default"].read_text()
    assert "      contents: write # push the refresh branch\n" in text
    assert "      pull-requests: write # open or update the refresh pull request\n" in text


def test_the_steps_in_order(workflows: dict[str, Path]) -> None:
    assert list(steps(workflows["default"])) == [
        "Check out", "Install cigen", "Pin image digests", "Refresh action pins", "Render",
        "Open or update the pull request"]


def test_checkout_is_pinned_and_keeps_no_token(workflows: dict[str, Path]) -> None:
    checkout = steps(workflows["default"])["Check out"]
    pin = shipped()["actions/checkout"]
    assert checkout["uses"] == f"actions/checkout@{pin.sha}"
    assert checkout["with"] == {"persist-credentials": False}
    assert f"actions/checkout@{pin.sha} # {pin.tag}\n" in workflows["default"].read_text()


def test_cigen_is_installed_at_the_version_that_rendered_it(workflows: dict[str, Path]) -> None:
    install = steps(workflows["default"])["Install cigen"]
    assert install["env"] == {"CIGEN_PACKAGE": f"cigen=={__version__}"}
    assert install["run"] == 'pipx install "$CIGEN_PACKAGE"\n'


def test_the_package_to_install_can_be_named(tmp_path: Path) -> None:
    package = "git+https://github.com/acme/cigen@0123456789abcdef0123456789abcdef01234567"
    path = rendered(tmp_path, HEAD + REFRESH.rstrip("\n") + f"\n    package: {package}\n")
    found = {s["name"]: s for s in load_plain(path[DEFAULT_FILE])["jobs"]["refresh"]["steps"]}
    assert found["Install cigen"]["env"] == {"CIGEN_PACKAGE": package}


def test_the_commands_name_the_descriptor_through_env(tmp_path: Path) -> None:
    path = rendered(tmp_path, HEAD + REFRESH, name="ci.cigen.yaml")
    found = {s["name"]: s for s in load_plain(path[DEFAULT_FILE])["jobs"]["refresh"]["steps"]}
    for name in ("Pin image digests", "Refresh action pins", "Render"):
        assert found[name]["env"]["CIGEN_CONFIG"] == "ci.cigen.yaml"
        assert '-c "$CIGEN_CONFIG"' in found[name]["run"]
    assert found["Refresh action pins"]["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    assert "--actions" in found["Refresh action pins"]["run"]
    assert found["Render"]["run"] == 'cigen render -c "$CIGEN_CONFIG"\n'


def test_the_branch_and_the_pins_file_come_from_the_descriptor(
        workflows: dict[str, Path]) -> None:
    default = steps(workflows["default"])["Open or update the pull request"]["env"]
    custom = steps(workflows["custom"])["Open or update the pull request"]["env"]
    assert default["BRANCH"] == "cigen/refresh"
    assert custom["BRANCH"] == "bot/pins"
    assert ".github/cigen-action-pins.json" in default["BODY"]
    assert "ci/action-pins.json" in custom["BODY"]
    assert custom["BODY"].startswith(".github/workflows/pins.yaml ran cigen")
    assert default["GH_TOKEN"] == "${{ github.token }}"
    assert default["BASE"] == "${{ github.ref_name }}"


def test_no_expression_and_no_descriptor_value_in_a_script(tmp_path: Path) -> None:
    # the schema keeps shell syntax out of branch names; values reach scripts through env alone
    path = rendered(tmp_path, HEAD + CUSTOM, name="odd.cigen.yaml")
    for step in load_plain(path[".github/workflows/pins.yaml"])["jobs"]["refresh"]["steps"]:
        for value in ("${{", "bot/pins", "pins.yaml", "action-pins.json", "odd.cigen.yaml",
                      "0 3 1"):
            assert value not in step.get("run", ""), (step["name"], value)


def test_no_yaml_aliases(workflows: dict[str, Path]) -> None:
    for path in workflows.values():
        assert not re.search(r"[&*]id\d", path.read_text())


def test_the_main_workflow_is_unchanged_and_no_refresh_without_the_key(tmp_path: Path) -> None:
    plain = rendered(tmp_path / "plain", HEAD)
    with_refresh = rendered(tmp_path / "refresh", HEAD + REFRESH)
    assert list(plain) == [".github/workflows/ci.yml"]
    assert sorted(with_refresh) == [".github/workflows/ci.yml", DEFAULT_FILE]
    assert plain[".github/workflows/ci.yml"] == with_refresh[".github/workflows/ci.yml"]


def test_the_manifest_lists_the_refresh_workflow(tmp_path: Path) -> None:
    (tmp_path / "cigen.yaml").write_text(HEAD + "targets: [github]\n" + REFRESH)
    files = json.loads(texts(load_project(tmp_path / "cigen.yaml"))[".cigen/files.json"])
    assert DEFAULT_FILE in files["files"]


# --- the independent oracles -------------------------------------------------------------------

@pytest.mark.parametrize("oracle", oracles.WORKFLOW_ORACLES)
def test_oracles_accept_the_refresh_workflows(oracle: Any, workflows: dict[str, Path]) -> None:
    oracle(*workflows.values())


def test_zizmor_auditor_finds_nothing(workflows: dict[str, Path]) -> None:
    assert auditor_findings(*workflows.values()) == []


def test_shellcheck_every_script(workflows: dict[str, Path], tmp_path: Path) -> None:
    scripts = []
    for i, step in enumerate(data(workflows["default"])["jobs"]["refresh"]["steps"]):
        if "run" in step:
            scripts.append(tmp_path / f"{i}.sh")
            scripts[-1].write_text("#!/bin/bash\nset -eo pipefail\n" + step["run"])
    oracles.shellcheck(*scripts)


def test_a_token_secret_pushes_and_opens_the_pull_request(tmp_path: Path) -> None:
    """github.refresh.token_secret: GITHUB_TOKEN may not push .github/workflows/ changes."""
    text = HEAD + REFRESH + "    token_secret: CIGEN_REFRESH_TOKEN\n"
    path = tmp_path / "refresh.yml"
    path.write_text(rendered(tmp_path / "d", text)[DEFAULT_FILE])
    found = steps(path)
    env = found["Open or update the pull request"]["env"]
    assert env["GH_TOKEN"] == "${{ secrets.CIGEN_REFRESH_TOKEN }}"
    assert "close and reopen" not in env["BODY"]  # its pull requests start workflows
    assert found["Refresh action pins"]["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    for oracle in (lambda *p: oracles.check_jsonschema("vendor.github-workflows", *p),
                   oracles.actionlint, zizmor, oracles.workflow_parser):
        oracle(path)
    # a repository secret in a job with no environment, as for docker-login (docs/targets.md)
    assert [(a, t) for _, a, t in auditor_findings(path)] == [
        ("secrets-outside-env", "secrets.CIGEN_REFRESH_TOKEN")]


# --- problems ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("more", "message"), [
    ("github:\n  refresh: {schedule: '1 2 * * *', workflow_file: ci/refresh.yml}\n",
     "github.refresh.workflow_file: GitHub runs only .github/workflows/<name>.yml or .yaml"),
    ("github:\n  refresh: {schedule: '1 2 * * *', workflow_file: .github/workflows/r.json}\n",
     "github.refresh.workflow_file: GitHub runs only .github/workflows/<name>.yml or .yaml"),
    ("github:\n  refresh: {schedule: '1 2 * * *', workflow_file: .github/workflows/ci.yml}\n",
     "github.refresh.workflow_file: is github.workflow_file (.github/workflows/ci.yml) already"),
    ("github:\n  workflow_file: .github/workflows/a.yaml\n"
     "  refresh: {schedule: '1 2 * * *', workflow_file: .github/workflows/a.yaml}\n",
     "github.refresh.workflow_file: is github.workflow_file (.github/workflows/a.yaml)"),
    ("targets: [circleci]\ngithub:\n  refresh: {schedule: '1 2 * * *'}\n",
     "github.refresh: is a GitHub Actions workflow, and github is not in targets (circleci)"),
])
def test_problems_point_at_the_key(tmp_path: Path, more: str, message: str) -> None:
    (tmp_path / "cigen.yaml").write_text(HEAD + more)
    with pytest.raises(DescriptorError) as err:
        load_project(tmp_path / "cigen.yaml")
    assert re.search(r"cigen\.yaml:\d+:\d+: " + re.escape(message), str(err.value)), str(err.value)


# --- render, check, and the pins file as an input ---------------------------------------------

def test_the_pins_file_is_an_input_of_the_descriptor(tmp_path: Path) -> None:
    (tmp_path / "cigen.yaml").write_text(HEAD + CUSTOM)
    assert "ci/action-pins.json" in load_descriptor(tmp_path / "cigen.yaml").inputs


def test_render_then_check_and_a_changed_pin_makes_both_workflows_stale(
        run_line: Any, tmp_path: Path) -> None:
    (tmp_path / "cigen.yaml").write_text(HEAD + "targets: [github]\n" + REFRESH)
    assert run_line("cigen render", cwd=tmp_path).code == 0
    assert (tmp_path / DEFAULT_FILE).is_file()
    assert run_line("cigen check", cwd=tmp_path).code == 0  # and now it is cached as clean
    moved = "1" * 40
    (tmp_path / ".github" / "cigen-action-pins.json").write_text(json.dumps(
        {"actions": {"actions/checkout": {"tag": "v7.0.1", "sha": moved}}}))
    result = run_line("cigen check", cwd=tmp_path)
    assert result.code == 1, result
    both = result.stdout + result.stderr
    assert f"{DEFAULT_FILE}: stale" in both
    assert ".github/workflows/ci.yml: stale" in both
    assert run_line("cigen render", cwd=tmp_path).code == 0
    assert f"actions/checkout@{moved} # v7.0.1" in (tmp_path / DEFAULT_FILE).read_text()
    assert run_line("cigen check", cwd=tmp_path).code == 0


@pytest.mark.parametrize(("text", "message"), [
    ("{actions", ".github/cigen-action-pins.json: is not JSON"),
    ('{"pins": {}}', '.github/cigen-action-pins.json: has no "actions" object'),
    ('{"actions": {"actions/checkout": {"tag": "v7", "sha": "abc"}, "x/y": {"tag": "v1", '
     '"sha": "' + "2" * 40 + '"}}}', ".github/cigen-action-pins.json: actions actions/checkout "
     "need a release tag and a 40-digit lower-case commit SHA"),
])
def test_a_broken_pins_file_is_a_located_error_and_nothing_is_written(
        run_line: Any, tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "cigen.yaml").write_text(HEAD + "targets: [github]\n")
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "cigen-action-pins.json").write_text(text)
    result = run_line("cigen render", cwd=tmp_path)
    assert result.code == 2, result
    assert result.stderr.startswith(f"cigen.yaml:1:1: github.action_pins: {message}"), result
    assert sorted(p.name for p in tmp_path.iterdir()) == [".github", "cigen.yaml"]


def test_a_pins_file_with_some_actions_leaves_the_others_shipped(tmp_path: Path) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "cigen-action-pins.json").write_text(json.dumps(
        {"actions": {"actions/checkout": {"tag": "v7.0.9", "sha": "3" * 40}}}))
    text = rendered(tmp_path, HEAD)[".github/workflows/ci.yml"]
    assert f"actions/checkout@{'3' * 40} # v7.0.9" in text
    cache = shipped()["actions/cache"]
    assert f"actions/cache@{cache.sha} # {cache.tag}" in text


# --- the pull-request script, run -------------------------------------------------------------

FAKE_GH = """\
#!/bin/sh
# A stand-in for gh: records its arguments and token; `pr list` answers from $OPEN_PRS.
echo "$GH_TOKEN $*" >> "$GH_LOG"
case "$1 $2" in
  "pr list") cat "$OPEN_PRS" ;;
esac
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, "GIT_CONFIG_GLOBAL": str(cwd.parent / "gitconfig"),
                               "GIT_CONFIG_NOSYSTEM": "1"}).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    oracles.tool("git")
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    git(work, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q",
        "--allow-empty", "-m", "start")
    git(work, "remote", "add", "origin", str(remote))
    git(work, "push", "-q", "origin", "main")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(FAKE_GH)
    (bin_dir / "gh").chmod(0o755)
    return work


def pull_request(work: Path, open_prs: str, token_secret: bool = True
                 ) -> tuple[subprocess.CompletedProcess[str], str]:
    root = work.parent
    (root / "open").write_text(open_prs + "\n")
    log = root / "gh.log"
    log.write_text("")
    env = {**os.environ, "PATH": f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "GIT_CONFIG_GLOBAL": str(root / "gitconfig"), "GIT_CONFIG_NOSYSTEM": "1",
           "GH_LOG": str(log), "OPEN_PRS": str(root / "open"), "GH_TOKEN": "ghs_test",
           "BRANCH": "cigen/refresh", "BASE": "main", "TITLE": refresh.TITLE,
           "BODY": "the body; $(not run)", "CIGEN_CONFIG": "cigen.yaml",
           "WORKFLOWS_NEED_TOKEN": "false" if token_secret else "true"}
    proc = subprocess.run(["bash", "-eo", "pipefail", "-c", refresh.PULL_REQUEST], cwd=work,
                          env=env, capture_output=True, text=True, check=False)
    return proc, log.read_text()


def test_nothing_moved_no_commit_no_push_no_pull_request(repo: Path) -> None:
    proc, gh = pull_request(repo, "0")
    assert proc.returncode == 0, proc.stderr
    assert "Nothing moved" in proc.stdout
    assert gh == ""
    assert git(repo.parent / "remote.git", "branch", "--format=%(refname:short)").split() == [
        "main"]


def test_a_change_is_pushed_to_the_branch_and_a_pull_request_opened_then_edited(
        repo: Path) -> None:
    (repo / "pins.json").write_text("{}\n")
    proc, gh = pull_request(repo, "0")
    assert proc.returncode == 0, proc.stderr
    remote = repo.parent / "remote.git"
    assert git(remote, "log", "-1", "--format=%an <%ae> %s", "cigen/refresh").strip() == (
        f"{refresh.BOT_NAME} <{refresh.BOT_EMAIL}> {refresh.TITLE}")
    assert git(remote, "show", "--name-only", "--format=", "cigen/refresh").split() == [
        "pins.json"]
    lines = gh.splitlines()
    assert lines[0] == "ghs_test auth setup-git"
    assert lines[1].startswith("ghs_test pr list --head cigen/refresh --base main --state open")
    assert lines[2] == (f"ghs_test pr create --head cigen/refresh --base main --title "
                        f"{refresh.TITLE} --body the body; $(not run)")
    assert "ghs_test" not in (repo / ".git" / "config").read_text()  # no token in the clone
    # the next run finds the pull request open: the branch is replaced and the PR edited
    git(repo, "switch", "-q", "main")
    (repo / "pins.json").write_text('{"a": 1}\n')
    proc, gh = pull_request(repo, "1")
    assert proc.returncode == 0, proc.stderr
    assert gh.splitlines()[-1].startswith("ghs_test pr edit cigen/refresh --title")
    assert git(remote, "rev-list", "--count", "cigen/refresh").strip() == "2"  # forced: main + 1


def test_github_token_is_not_asked_to_push_a_workflow_change(repo: Path) -> None:
    # GitHub refuses GITHUB_TOKEN's push of a change under .github/workflows/: the script says
    # so, naming the key that fixes it, before it commits anything.
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "ci.yml").write_text("on: push\n")
    proc, gh = pull_request(repo, "0", token_secret=False)
    assert proc.returncode == 1
    assert "set github.refresh.token_secret in cigen.yaml" in proc.stdout
    assert gh == ""
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "1"
    # other files it may push with GITHUB_TOKEN
    git(repo, "clean", "-qfdx")
    (repo / "Dockerfile").write_text("FROM scratch\n")
    proc, gh = pull_request(repo, "0", token_secret=False)
    assert proc.returncode == 0, proc.stderr


def test_run_from_the_refresh_branch_itself_is_refused(repo: Path) -> None:
    (repo / "pins.json").write_text("{}\n")
    root = repo.parent
    env = {**os.environ, "BRANCH": "cigen/refresh", "BASE": "cigen/refresh",
           "GIT_CONFIG_GLOBAL": str(root / "gitconfig")}
    proc = subprocess.run(["bash", "-eo", "pipefail", "-c", refresh.PULL_REQUEST], cwd=repo,
                          env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "::error::run this workflow from another branch" in proc.stdout
