"""Private dependencies on GitHub Actions (issue 19): the Hex config and the SSH key reach only
the steps that use them, as repository secrets in those steps' env, and never a file cigen
writes, a build argument, the workspace or a cache."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cigen.targets.dockerfile.private import HEX_CONFIG, HEX_SECRET
from cigen.targets.github.private import AGENT_SOCKET
from cigen.yamlio import load_plain
from tests import oracles
from tests.helpers import load_project, texts
from tests.targets.test_github import auditor_findings, zizmor

HEAD = """\
version: 1
name: hello
registry: ghcr.io/acme
erlang:
{versions}
  checks: [xref, eunit, ct, cover]
  env: {{ERL_FLAGS: '+S 2', API_TOKEN: {{secret: API_TOKEN}}}}
  setup:
    ct: [{{name: Seed, run: echo seed}}]
"""
NEW = '  otp: "26.2.5"'
# OTP 22 runs rebar3 in the erlang image (container.py); the newest rebar3 for it, and a base
# for its Alpine image (both as the service_discovery fixture has them).
OLD = '  otp: "22.1.1"\n  rebar3: "3.18.0"'
OLD_IMAGE = "image: {base: ghcr.io/acme/erlang:22.1.1-alpine, runner: ghcr.io/acme/alpine:3.10.2}\n"
HEX = "private:\n  hex_organizations: [acme]\n"
GIT = "private:\n  git_hosts: [github.com, git.example.com]\n"
BOTH = "private:\n  hex_organizations: [acme]\n  git_hosts: [github.com, git.example.com]\n"
CASES = {"both": (NEW, BOTH), "hex": (NEW, HEX), "git": (NEW, GIT),
         "old-both": (OLD, OLD_IMAGE + BOTH)}
KEY_SECRET = "${{ secrets.SSH_PRIVATE_KEY }}"
HEX_SECRET_REF = "${{ secrets.HEX_CONFIG }}"
AGENT_STEP = "Load the SSH key into an agent"
HEX_STEP = "Write the Hex config for the private organisations"
HOSTS_STEP = "Trust the private git hosts"
CLEANUP_STEP = "Remove the Hex config"


def render(root: Path, name: str, targets: tuple[str, ...] = ("github",), more: str = ""
           ) -> dict[str, str]:
    versions, private = CASES[name]
    (root / name).mkdir(exist_ok=True)
    (root / name / "cigen.yaml").write_text(HEAD.format(versions=versions) + private + more)
    return texts(load_project(root / name / "cigen.yaml", targets), *targets)


@pytest.fixture(scope="module")
def workflows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("private")
    out = {}
    for name in CASES:
        out[name] = root / f"{name}.yml"
        out[name].write_text(render(root, name)[".github/workflows/ci.yml"])
    return out


def jobs(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = load_plain(path.read_text())
    return dict(data["jobs"])


def named(job: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if s.get("name") == name]


def projects_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps that run the project's commands: rebar3 and erlang.setup."""
    return [s for s in job["steps"] if s.get("run", "").startswith("rebar3 ")
            or s.get("name") == "Seed"]


# --- the independent oracles ------------------------------------------------------------------

PRIVATE_SECRETS = {"secrets.HEX_CONFIG", "secrets.SSH_PRIVATE_KEY", "secrets.API_TOKEN"}


@pytest.mark.parametrize("oracle", oracles.WORKFLOW_ORACLES)
def test_oracles_accept_the_private_workflows(oracle: Any, workflows: dict[str, Path]) -> None:
    oracle(*workflows.values())


def test_zizmor_auditor_finds_only_the_repository_secrets(workflows: dict[str, Path]) -> None:
    """secrets-outside-env, as for docker-login's secrets (docs/targets.md), when the secrets
    stay repository secrets (no github.secrets_environment)."""
    found = auditor_findings(*workflows.values())
    assert {audit for _, audit, _ in found} == {"secrets-outside-env"}
    assert {text for _, _, text in found} == PRIVATE_SECRETS


@pytest.fixture(scope="module")
def in_environments(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every case with github.secrets_environment, and one also publishing from an environment."""
    out = {}
    for name, github in [*((n, "{secrets_environment: ci-secrets}") for n in CASES),
                         ("both", "{secrets_environment: ci-secrets, environment: registry}")]:
        key = name + ("-publish" if "registry" in github else "")
        out[key] = tmp_path_factory.mktemp(key) / "ci.yml"
        out[key].write_text(render(out[key].parent, name, more=f"github: {github}\n")
                            [".github/workflows/ci.yml"])
    return out


def test_the_secrets_environment_clears_the_auditor(in_environments: dict[str, Path]) -> None:
    """github.secrets_environment (targets/github/secrets.py): every job that reads a secret
    names an environment, so zizmor's auditor persona finds nothing; the other oracles agree."""
    assert auditor_findings(*in_environments.values()) == []
    for oracle in (lambda *p: oracles.check_jsonschema("vendor.github-workflows", *p),
                   oracles.actionlint, zizmor, oracles.workflow_parser):
        oracle(*in_environments.values())


def test_the_secrets_environment_goes_only_to_jobs_that_read_secrets(
    in_environments: dict[str, Path]
) -> None:
    for name, path in in_environments.items():
        for job_id, job in jobs(path).items():
            reads = re.search(r"secrets\.(?!GITHUB_TOKEN)", json.dumps(job)) is not None
            expected = ("registry" if job_id == "publish"
                        else "ci-secrets" if reads else None)
            assert job.get("environment") == expected, (name, job_id)
        assert "ci-secrets" in path.read_text(), name


def test_a_secrets_environment_with_no_secret_to_hold_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "cigen.yaml").write_text(
        'version: 1\nname: hello\nregistry: ghcr.io/acme\nerlang: {otp: "26.2.5"}\n'
        "targets: [github]\ngithub:\n  secrets_environment: ci-secrets\n")
    done = subprocess.run([sys.executable, "-m", "cigen", "render"], cwd=tmp_path,  # noqa: S603
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 2, done
    assert done.stderr.startswith("cigen.yaml:7:24: github.secrets_environment: no job of the "
                                  "workflow reads a secret"), done.stderr
    assert not (tmp_path / ".github").exists()


# --- the check jobs ---------------------------------------------------------------------------

def test_each_check_job_trusts_the_hosts_loads_the_key_and_writes_the_hex_config_first(
    workflows: dict[str, Path]
) -> None:
    for name, path in workflows.items():
        for job_id, job in jobs(path).items():
            if job_id == "image":
                continue
            names = [s.get("name") for s in job["steps"]]
            private = [n for n in names if n in (HOSTS_STEP, AGENT_STEP, HEX_STEP)]
            assert private == {"hex": [HEX_STEP], "git": [HOSTS_STEP, AGENT_STEP]}.get(
                name, [HOSTS_STEP, AGENT_STEP, HEX_STEP]), (name, job_id)
            first = min(job["steps"].index(s) for s in projects_steps(job))
            assert all(names.index(n) < first for n in private), (name, job_id)
            # and, with a Hex config, removes it last, whatever failed before
            last = job["steps"][-1]
            if HEX_STEP in private:
                assert (last["name"], last["if"]) == (CLEANUP_STEP, "always()"), (name, job_id)
            else:
                assert CLEANUP_STEP not in names, (name, job_id)


def test_each_secret_reaches_only_the_step_that_uses_it(workflows: dict[str, Path]) -> None:
    for name, path in workflows.items():
        for job in jobs(path).values():
            assert "secrets." not in json.dumps({k: v for k, v in job.items() if k != "steps"})
            for step in job["steps"]:
                text = json.dumps(step)
                if KEY_SECRET in text:
                    assert step["name"] == AGENT_STEP, (name, step)
                    assert "uses" not in step, "no action sees the key"
                    assert step["env"]["SSH_PRIVATE_KEY"] == KEY_SECRET
                if HEX_SECRET_REF in text:
                    assert step["env"] == {"HEX_CONFIG": HEX_SECRET_REF}, (name, step)
                    assert step["name"] in (HEX_STEP, "Build and push"), (name, step)
                # A secret is only ever an env value: never in `with`, a script or a name.
                assert "secrets." not in json.dumps({k: v for k, v in step.items()
                                                     if k != "env"}).replace(
                    "secrets.GITHUB_TOKEN", ""), (name, step)


def test_the_projects_commands_and_no_action_get_the_agent(workflows: dict[str, Path]) -> None:
    for name in ("both", "git", "old-both"):
        for job_id, job in jobs(workflows[name]).items():
            if job_id == "image":
                continue
            for step in projects_steps(job):
                assert step["env"] == {"API_TOKEN": "${{ secrets.API_TOKEN }}",
                                       "SSH_AUTH_SOCK": AGENT_SOCKET}, (name, step)
            for step in job["steps"]:
                if "uses" in step:  # checkout, setup-beam, the caches
                    assert "SSH_AUTH_SOCK" not in json.dumps(step), (name, step)
    for job_id, job in jobs(workflows["hex"]).items():
        assert "SSH_AUTH_SOCK" not in json.dumps(job), job_id


def test_known_hosts_and_https_rewrites_for_each_host(workflows: dict[str, Path]) -> None:
    [step] = named(jobs(workflows["both"])["xref"], HOSTS_STEP)
    assert step["run"].splitlines() == [
        "install -d -m 0700 ~/.ssh",
        "ssh-keyscan github.com git.example.com >> ~/.ssh/known_hosts",
        "git config --global url.git@github.com:.insteadOf https://github.com/",
        "git config --global url.git@git.example.com:.insteadOf https://git.example.com/"]
    assert "env" not in step


def test_no_yaml_aliases(workflows: dict[str, Path]) -> None:
    """Steps share no env object, so the dump writes no &anchor / *alias."""
    for path in workflows.values():
        assert not re.search(r"[&*]id\d+", path.read_text()), path


# --- the scripts, run as GitHub runs them: `bash -e {0}` when no shell is given
# (GitHub docs, workflow syntax, jobs.<job_id>.steps[*].shell) ---------------------------------

def run_step(step: dict[str, Any], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "step.sh"
    script.write_text(step["run"])
    return subprocess.run(["bash", "-e", str(script)], capture_output=True, text=True,  # noqa: S603,S607
                          env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env},
                          check=False)


def test_the_hex_config_is_written_private_outside_the_workspace(
    workflows: dict[str, Path], tmp_path: Path
) -> None:
    [step] = named(jobs(workflows["hex"])["xref"], HEX_STEP)
    text = '{<<"hexpm:acme">>, [{repo_key, <<"k">>}]}.'
    assert run_step(step, tmp_path, HEX_CONFIG=text).returncode == 0
    written = tmp_path / ".config" / "rebar3" / "hex.config"
    assert written.read_text() == text + "\n"
    assert written.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / ".config").stat().st_mode & 0o777 == 0o700
    # rebar3's global config folder, where the Dockerfile mounts the secret too
    assert HEX_CONFIG == "/root/.config/rebar3/hex.config"
    [cleanup] = named(jobs(workflows["hex"])["xref"], CLEANUP_STEP)
    assert run_step(cleanup, tmp_path).returncode == 0
    assert not written.exists()


def test_a_missing_secret_stops_the_job_and_says_which(workflows: dict[str, Path],
                                                       tmp_path: Path) -> None:
    job = jobs(workflows["both"])["xref"]
    for name, secret in ((HEX_STEP, "HEX_CONFIG"), (AGENT_STEP, "SSH_PRIVATE_KEY")):
        [step] = named(job, name)
        result = run_step(step, tmp_path, **{secret: ""})  # what a fork's pull request gets
        assert result.returncode == 1
        assert result.stderr.startswith(f"The secret {secret} ")
    assert not (tmp_path / ".config").exists()


@pytest.fixture
def agent_socket(tmp_path: Path) -> Iterator[Path]:
    """A socket path for the agent step's agent; the agent (a daemon) is ended afterwards."""
    path = tmp_path / "agent.sock"
    yield path
    for pid in agents_on(path):
        os.kill(pid, signal.SIGTERM)


def agents_on(path: Path) -> list[int]:
    """The ssh-agent processes started with `-a path` (a unique temporary path)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if proc.name.isdigit() and argv[:1] == [b"ssh-agent"] and str(path).encode() in argv:
            found.append(int(proc.name))
    return found


def test_the_agent_holds_the_key_and_its_environment_does_not(
    workflows: dict[str, Path], tmp_path: Path, agent_socket: Path
) -> None:
    oracles.tool("ssh-agent")
    oracles.run(oracles.tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", "cigen-test",
                "-f", tmp_path / "key")
    key = (tmp_path / "key").read_text().rstrip("\n")  # as a pasted secret may come
    [step] = named(jobs(workflows["git"])["xref"], AGENT_STEP)
    result = run_step(step, tmp_path, SSH_PRIVATE_KEY=key, SSH_AUTH_SOCK=str(agent_socket))
    assert result.returncode == 0, result.stderr
    listed = oracles.run(oracles.tool("ssh-add"), "-l", env={"SSH_AUTH_SOCK": str(agent_socket)})
    assert "cigen-test" in listed.stdout
    [pid] = agents_on(agent_socket)
    environ = Path(f"/proc/{pid}/environ")
    if os.access(environ, os.R_OK):  # ssh-agent makes itself undumpable: root only
        assert b"SSH_PRIVATE_KEY" not in environ.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.sock", "key", "key.pub",
                                                           "step.sh"], "no key file written"


# --- the old-OTP wrapper: rebar3 in the erlang image ------------------------------------------

def wrapper(workflows: dict[str, Path]) -> str:
    [step] = [s for s in jobs(workflows["old-both"])["xref"]["steps"]
              if s.get("name", "").startswith("Run rebar3 ")]
    match = re.search(r"<<'EOF'\n(.*?)EOF\n", step["run"], re.S)
    assert match
    return match.group(1)


def test_the_wrapper_passes_the_hex_config_the_agent_and_the_host_keys(
    workflows: dict[str, Path], tmp_path: Path
) -> None:
    script = tmp_path / "rebar3"
    script.write_text(wrapper(workflows))
    oracles.shellcheck(script)
    # A stand-in docker prints its arguments, one a line.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "docker").write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    (fake / "docker").chmod(0o755)
    sock = "/runner/_temp/ssh-agent.sock"
    result = subprocess.run(["sh", str(script), "compile"], capture_output=True, text=True,  # noqa: S603,S607
                            env={"PATH": f"{fake}:{os.environ['PATH']}", "HOME": "/home/runner",
                                 "SSH_AUTH_SOCK": sock}, cwd=tmp_path, check=True)
    argv = result.stdout.splitlines()
    pairs = {(a, b) for a, b in zip(argv, argv[1:], strict=False)}
    assert {("-v", "/home/runner/.config/rebar3/hex.config:/tmp/.config/rebar3/hex.config:ro"),
            ("-v", "/etc/passwd:/etc/passwd:ro"),
            ("-v", f"{sock}:{sock}"), ("-e", "SSH_AUTH_SOCK"),
            ("-v", "/home/runner/.gitconfig:/tmp/.gitconfig:ro"),
            ("-v", "/home/runner/.ssh/known_hosts:/tmp/.ssh/known_hosts:ro"),
            ("-e", "GIT_SSH_COMMAND=ssh -o UserKnownHostsFile=/tmp/.ssh/known_hosts"),
            ("-e", "HOME=/tmp"), ("-e", "API_TOKEN")} <= pairs
    assert argv[-3:] == ["erlang:22.1.1", "rebar3", "compile"]


# --- the image job ----------------------------------------------------------------------------

def build(path: Path) -> dict[str, Any]:
    [step] = named(jobs(path)["image"], "Build and push")
    return step


def test_the_build_gets_the_hex_config_as_a_secret_env_and_the_agent(
    workflows: dict[str, Path], tmp_path: Path
) -> None:
    step = build(workflows["both"])
    assert step["env"] == {"HEX_CONFIG": HEX_SECRET_REF}
    assert step["with"]["secret-envs"] == f"{HEX_SECRET}=HEX_CONFIG"
    assert step["with"]["ssh"] == f"default={AGENT_SOCKET}"
    assert not {"secrets", "secret-files", "build-args", "build-contexts"} & set(step["with"])
    image = jobs(workflows["both"])["image"]
    names = [s.get("name") for s in image["steps"]]
    assert names.index(AGENT_STEP) < names.index("Build and push")
    assert HOSTS_STEP not in names, "the builder scans the host keys"
    assert HEX_STEP not in names, "the build mounts the Hex config"
    # The id is the Dockerfile's: its secret mount and ssh mount are required.
    dockerfile = render(tmp_path, "both", ("dockerfile",))["Dockerfile"]
    assert f"--mount=type=secret,id={HEX_SECRET},target={HEX_CONFIG},required=true" in dockerfile
    assert "--mount=type=ssh,required=true" in dockerfile


@pytest.mark.parametrize(("name", "inputs", "agent"), [
    ("hex", {"secret-envs"}, False),
    ("git", {"ssh"}, True),
])
def test_only_what_is_needed_reaches_the_build(workflows: dict[str, Path], name: str,
                                               inputs: set[str], agent: bool) -> None:
    step = build(workflows[name])
    assert {"secret-envs", "ssh"} & set(step["with"]) == inputs
    assert ("env" in step) is ("secret-envs" in inputs)
    assert bool(named(jobs(workflows[name])["image"], AGENT_STEP)) is agent


def test_without_private_no_secret_and_no_agent(tmp_path: Path) -> None:
    (tmp_path / "cigen.yaml").write_text(HEAD.format(versions=NEW))
    text = texts(load_project(tmp_path / "cigen.yaml", ("github",)), "github")[
        ".github/workflows/ci.yml"]
    for word in ("SSH_AUTH_SOCK", "HEX_CONFIG", "secret-envs", "ssh:"):
        assert word not in text
