"""Private dependencies on Cloud Build (issue 19): the Hex config and the SSH key come from Secret
Manager and reach only the steps that fetch dependencies, as secretEnv; the steps' shell runs
here under bash with fake ssh tools and a fake docker."""
from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cigen import yamlio
from cigen.model import Project
from cigen.targets import cloudbuild
from cigen.targets.cloudbuild import private
from tests import oracles
from tests.helpers import load_project, texts
from tests.targets.test_cloudbuild_publish import TAG_BUILD, _substitute

BASE = {"version": 1, "name": "hello", "registry": "ghcr.io/acme", "targets": ["cloudbuild"],
        "erlang": {"otp": "26.2.5", "checks": ["xref", "eunit", "ct"],
                   "setup": {"ct": [{"name": "prep", "run": "echo prepared"}]}}}
BOTH = {"hex_organizations": ["acme"], "git_hosts": ["github.com", "git.example.com"]}
HEX = "{repos, [#{name => <<\"hexpm:acme\">>, auth_key => <<\"k3y\">>}]}.\n"
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----"
SECRETS = {"HEX_CONFIG": HEX, "SSH_PRIVATE_KEY": KEY, "REGISTRY_USERNAME": "u",
           "REGISTRY_PASSWORD": "p"}
CHECK_STEPS = {"compile", "xref", "eunit", "ct-setup-1", "ct"}


def _project(tmp_path: Path, private_block: dict[str, Any] | None = None,
             **cloudbuild_keys: Any) -> Project:
    raw = {**BASE, "private": BOTH if private_block is None else private_block,
           "cloudbuild": {"run_checks": True, **cloudbuild_keys}}
    (tmp_path / "cigen.yaml").write_text(yamlio.dump(raw))
    return load_project(tmp_path / "cigen.yaml")


def _configs(project: Project) -> dict[str, dict[str, Any]]:
    files = texts(project, "cloudbuild")
    paths = (project.cloudbuild.file, project.cloudbuild.release_file)
    return {path: yamlio.load_plain(files[path]) for path in paths if path in files}


def _steps(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step.get("id", str(i)): step for i, step in enumerate(config["steps"])}


# 1. Where each secret is: availableSecrets by name, then the secretEnv of the steps that fetch.

def test_only_the_fetching_steps_get_the_keys(tmp_path: Path) -> None:
    project = _project(tmp_path)
    assert project.cloudbuild.builder == "buildx"  # the default with private dependencies
    for path, config in _configs(project).items():
        versions = {s["env"]: s["versionName"] for s in config["availableSecrets"]["secretManager"]}
        assert versions["HEX_CONFIG"] == "projects/$PROJECT_ID/secrets/hex-config/versions/latest"
        assert versions["SSH_PRIVATE_KEY"] == "projects/$PROJECT_ID/secrets/ssh-key/versions/latest"
        for step_id, step in _steps(config).items():
            keys = {"HEX_CONFIG", "SSH_PRIVATE_KEY"} & set(step.get("secretEnv", []))
            fetches = step_id in CHECK_STEPS or step_id == "image"
            expected = {"HEX_CONFIG", "SSH_PRIVATE_KEY"} if fetches else set()
            assert keys == expected, (path, step_id)
            assert not [e for e in step.get("env", []) if e.startswith(("HEX_", "SSH_"))]
            assert not [v for v in step.get("volumes", []) if v["path"].startswith("/workspace")]


def test_each_key_only_where_it_is_needed(tmp_path: Path) -> None:
    hex_only = _configs(_project(tmp_path, {"hex_organizations": ["acme"]}, run_checks=False))
    [main] = [c for p, c in hex_only.items() if p == "cloudbuild.yaml"]
    image = main["steps"][-1]
    assert image["secretEnv"] == ["HEX_CONFIG"]
    assert "entrypoint" not in image  # no key file, no shell: buildx reads the variable itself
    assert image["args"][-3:] == ["--secret=id=hex_config,env=HEX_CONFIG", "--push", "."]
    assert [s["env"] for s in main["availableSecrets"]["secretManager"]] == [
        "REGISTRY_USERNAME", "REGISTRY_PASSWORD", "HEX_CONFIG"]
    git_only = _configs(_project(tmp_path, {"git_hosts": ["github.com"]}))["cloudbuild.yaml"]
    assert {tuple(s.get("secretEnv", ())) for s in git_only["steps"]} == {
        ("SSH_PRIVATE_KEY",), ("REGISTRY_USERNAME", "REGISTRY_PASSWORD"), ()}


def test_named_secret_versions_and_mistakes(tmp_path: Path, run_line: Any) -> None:
    project = _project(tmp_path, hex_config_secret="projects/acme/secrets/hex/versions/3",
                       ssh_key_secret="projects/acme/secrets/deploy-key/versions/1")
    config = _configs(project)["cloudbuild.yaml"]
    assert {s["env"]: s["versionName"] for s in config["availableSecrets"]["secretManager"]
            if s["env"] in ("HEX_CONFIG", "SSH_PRIVATE_KEY")} == {
        "HEX_CONFIG": "projects/acme/secrets/hex/versions/3",
        "SSH_PRIVATE_KEY": "projects/acme/secrets/deploy-key/versions/1"}
    raw = {**BASE, "private": {"git_hosts": ["github.com"]}, "cloudbuild": {
        "run_checks": True, "hex_config_secret": "projects/acme/secrets/hex/versions/3",
        "secrets": {"SSH_PRIVATE_KEY": "projects/acme/secrets/other/versions/1"}}}
    (tmp_path / "cigen.yaml").write_text(yamlio.dump(raw))
    result = run_line(f"cigen check -c {tmp_path / 'cigen.yaml'}")
    assert result.code == 2
    assert "cloudbuild.hex_config_secret: is set but private.hex_organizations is empty" \
        in result.stderr
    assert "cloudbuild.secrets.SSH_PRIVATE_KEY: SSH_PRIVATE_KEY is the variable of the private " \
        "dependencies' key (private); pick another name" in result.stderr


# 2. The independent checkers on every rendered config.

@pytest.mark.parametrize("keys", [{}, {"run_checks": False}, {"registry_auth": "none"}])
def test_the_configs_pass_every_checker(keys: dict[str, Any], tmp_path: Path) -> None:
    project = _project(tmp_path, **keys)
    files = texts(project, "cloudbuild", "dockerfile")
    assert cloudbuild.lint(project, files) == []
    for path in (project.cloudbuild.file, project.cloudbuild.release_file):
        (tmp_path / path).write_text(files[path])
        oracles.check_jsonschema("vendor.cloudbuild", tmp_path / path)
        oracles.yamllint(tmp_path / path)
    scripts = [private.checks_script(project)]
    scripts += [_substitute(s["args"][1], TAG_BUILD) for c in _configs(project).values()
                for s in c["steps"] if s.get("entrypoint") == "bash"]
    for i, script in enumerate(scripts):
        (tmp_path / f"step{i}.sh").write_text("#!/bin/bash\n" + script)
    oracles.shellcheck(*(tmp_path / f"step{i}.sh" for i in range(len(scripts))))


# 3. The run_checks steps' shell, under bash: the keys land in the step's own HOME, never in
#    /workspace, and the command runs without them in its environment.

FAKES = {
    "ssh-keyscan": 'for h in "$@"; do echo "$h ssh-ed25519 AAAAC3"; done',
    "ssh-agent": 'echo "agent $* key=${SSH_PRIVATE_KEY:-none}" >> "$LOG"',
    "ssh-add": 'echo "add $* <$(cat)>" >> "$LOG"',
    "rebar3": 'echo "rebar3 $* home=$HOME sock=$SSH_AUTH_SOCK ssh=$GIT_SSH_COMMAND '
              'hex=${HEX_CONFIG:-unset} key=${SSH_PRIVATE_KEY:-unset}" >> "$LOG"\n'
              'stat -c "%a %n" "$HOME/.config/rebar3/hex.config" >> "$LOG"\n'
              'cat "$HOME/.config/rebar3/hex.config" "$HOME/.ssh/known_hosts" >> "$LOG"\n'
              'git config --global --get-regexp "^url\\." >> "$LOG"',
    "docker": 'echo "docker $*" >> "$LOG"; echo "key=${SSH_PRIVATE_KEY:-unset}" >> "$LOG"\n'
              'printf %s "${HEX_CONFIG:-}" > "$LOG.hex"\n'
              'for a in "$@"; do case "$a" in --ssh=default=*) f="${a#--ssh=default=}"\n'
              '  stat -c "%a" "$f" >> "$LOG"; cat "$f" >> "$LOG";; esac; done',
}


def _run(step: dict[str, Any], tmp_path: Path, values: dict[str, str]) -> tuple[int, str, str]:
    """A bash step as Cloud Build runs it, in a fake /workspace, with fake ssh tools and docker;
    the step's HOME moved into tmp_path."""
    assert step["entrypoint"] == "bash"
    assert step["args"][0] == "-c"
    bin_dir, workspace, log = tmp_path / "bin", tmp_path / "workspace", tmp_path / "calls.log"
    bin_dir.mkdir(exist_ok=True)
    workspace.mkdir(exist_ok=True)
    for name, body in FAKES.items():
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    env = dict(item.split("=", 1) for item in (_substitute(e, values) for e in step.get("env", [])))
    env.update({name: SECRETS[name] for name in step.get("secretEnv", [])})
    env.update({"PATH": f"{bin_dir}:{os.environ['PATH']}", "LOG": str(log),
                "HOME": str(tmp_path / "shared-home"), "TMPDIR": str(tmp_path / "tmp")})
    (tmp_path / "tmp").mkdir(exist_ok=True)
    script = _substitute(step["args"][1], values).replace(private.HOME, str(tmp_path / "own"))
    args = [_substitute(a, values) for a in step["args"][2:]]
    done = subprocess.run(["bash", "-c", script, *args], env=env, cwd=workspace,
                          capture_output=True, text=True, check=False)
    return done.returncode, log.read_text() if log.exists() else "", done.stderr


def test_a_check_step_sets_up_the_keys_in_its_own_home(tmp_path: Path) -> None:
    steps = _steps(_configs(_project(tmp_path))["cloudbuild.yaml"])
    code, log, stderr = _run(steps["ct"], tmp_path, TAG_BUILD)
    assert code == 0, stderr
    own = tmp_path / "own"
    assert log.splitlines() == [
        f"agent -a {own}/.ssh/agent.sock key=none",  # the agent never sees the key's variable
        *f"add - <{KEY}>".splitlines(),
        f"rebar3 ct home={own} sock={own}/.ssh/agent.sock "
        f"ssh=ssh -o UserKnownHostsFile={own}/.ssh/known_hosts hex=unset key=unset",
        f"600 {own}/.config/rebar3/hex.config",
        *HEX.splitlines(), "",  # printf adds a newline to the secret's text
        "github.com ssh-ed25519 AAAAC3", "git.example.com ssh-ed25519 AAAAC3",
        "url.git@github.com:.insteadof https://github.com/",
        "url.git@git.example.com:.insteadof https://git.example.com/"]
    assert stat.S_IMODE((own / ".ssh").stat().st_mode) == 0o700
    assert not list((tmp_path / "workspace").iterdir())  # nothing in the build context
    assert not (tmp_path / "shared-home").exists()  # nor in /builder/home, which steps share


def test_a_setup_step_runs_its_own_command_after_the_keys(tmp_path: Path) -> None:
    steps = _steps(_configs(_project(tmp_path, {"hex_organizations": ["acme"]}))[
        "cloudbuild.yaml"])
    assert steps["ct-setup-1"]["args"][2:] == ["cigen", "sh", "-c", "echo prepared"]
    assert steps["ct-setup-1"]["secretEnv"] == ["HEX_CONFIG"]
    code, log, stderr = _run(steps["ct-setup-1"], tmp_path, TAG_BUILD)
    assert (code, log) == (0, ""), stderr
    assert (tmp_path / "own" / ".config" / "rebar3" / "hex.config").read_text() == HEX + "\n"
    assert not (tmp_path / "own" / ".ssh").exists()


# 4. The image build: buildx gets the Hex config by variable and the key from a file that is
#    gone when the step ends.

@pytest.mark.parametrize("config", ["cloudbuild.yaml", "cloudbuild.release.yaml"])
def test_the_image_build_gets_the_secret_and_the_key(config: str, tmp_path: Path) -> None:
    steps = _steps(_configs(_project(tmp_path))[config])
    code, log, stderr = _run(steps["image"], tmp_path, TAG_BUILD)
    assert code == 0, stderr
    [call, unset, mode, *key] = log.splitlines()
    assert call.startswith("docker buildx build --file=./Dockerfile --target=runner "
                           "--tag=ghcr.io/acme/hello:c0ffee ")
    assert call.endswith(" --push .")
    assert "--secret=id=hex_config,env=HEX_CONFIG --" in call
    assert (tmp_path / "calls.log.hex").read_text() == HEX  # buildx reads it from its variable
    assert unset == "key=unset"  # docker gets the key as a file only
    assert (config == "cloudbuild.release.yaml") is ("--tag=ghcr.io/acme/hello:1.4.2" in call)
    assert (config == "cloudbuild.release.yaml") is ("--cache" not in call)
    key_file = Path(call.split("--ssh=default=")[1].split()[0])
    assert (mode, "\n".join(key)) == ("600", KEY)
    assert key_file.parent == tmp_path / "tmp"  # the step's own /tmp, not /workspace
    assert not key_file.exists()
    assert not list((tmp_path / "workspace").iterdir())
