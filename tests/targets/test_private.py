"""Private dependencies (issue 19): the Dockerfile, ci/build_images.sh and CircleCI. The keys
reach each build as secrets and an agent, and nothing of them is in a generated file."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dockerfile
import pytest

from cigen.targets.dockerfile.private import HEX_CONFIG, HEX_SECRET
from cigen.yamlio import load_plain
from tests import oracles
from tests.helpers import load_project, texts
from tests.targets.test_build_images import Repo
from tests.targets.test_circleci import _reference_errors, _workflow_job

HEAD = 'version: 1\nname: hello\nregistry: ghcr.io/acme\nerlang:\n  otp: "26.2.5"\n'
BOTH = "private:\n  hex_organizations: [acme]\n  git_hosts: [github.com, git.example.com]\n"
SECRET_MOUNT = f"--mount=type=secret,id={HEX_SECRET},target={HEX_CONFIG},required=true"
SSH_MOUNT = "--mount=type=ssh,required=true"


def rendered(tmp_path: Path, private: str, *targets: str) -> dict[str, str]:
    (tmp_path / "cigen.yaml").write_text(HEAD + private)
    return texts(load_project(tmp_path / "cigen.yaml", targets), *targets)


def stages(text: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    name = ""
    for command in dockerfile.parse_string(text):
        if command.cmd.upper() == "FROM":
            name = command.value[-1]
        out.setdefault(name, []).append(command)
    return out


# --- the BuildKit Dockerfile ---------------------------------------------------------------

def test_every_rebar3_step_gets_the_secret_and_the_agent(tmp_path: Path) -> None:
    text = rendered(tmp_path, BOTH, "dockerfile")["Dockerfile"]
    runs = [c for c in dockerfile.parse_string(text) if c.cmd.upper() == "RUN"]
    fetching = [c for c in runs if "rebar3" in c.value[0]]
    assert len(fetching) == 3  # compile, as prod compile, as prod tar
    assert all(SECRET_MOUNT in c.flags and SSH_MOUNT in c.flags for c in fetching)
    assert not [c for c in runs if c not in fetching and any("secret" in f or "ssh" in f
                                                             for f in c.flags)]


def test_the_runner_has_no_ssh_and_no_secret(tmp_path: Path) -> None:
    runner = stages(rendered(tmp_path, BOTH, "dockerfile")["Dockerfile"])["runner"]
    assert not [c for c in runner if "ssh" in c.original or "hex" in c.original]


def test_ssh_set_up_in_the_builder(tmp_path: Path) -> None:
    builder = stages(rendered(tmp_path, BOTH, "dockerfile")["Dockerfile"])["builder"]
    commands = " ".join(c.value[0] for c in builder if c.cmd.upper() == "RUN")
    assert "apk add --update git openssh-client" in commands
    assert "ssh-keyscan github.com git.example.com >> /root/.ssh/known_hosts" in commands
    assert "url.git@git.example.com:.insteadOf https://git.example.com/" in commands


@pytest.mark.parametrize(("private", "secret", "ssh"), [
    ("private:\n  hex_organizations: [acme]\n", True, False),
    ("private:\n  git_hosts: [github.com]\n", False, True),
])
def test_only_what_is_needed_is_mounted(tmp_path: Path, private: str, secret: bool,
                                        ssh: bool) -> None:
    out = rendered(tmp_path, private, "dockerfile")
    assert (SECRET_MOUNT in out["Dockerfile"], SSH_MOUNT in out["Dockerfile"]) == (secret, ssh)
    assert ("openssh-client" in out["Dockerfile"]) is ssh


def test_without_private_nothing_changes(tmp_path: Path) -> None:
    out = rendered(tmp_path, "", "dockerfile")
    assert "secret" not in out["Dockerfile"]
    assert "ssh" not in out["Dockerfile"]
    assert "hex.config" not in out[".dockerignore"]


def test_local_credentials_stay_out_of_the_context(tmp_path: Path) -> None:
    ignore = rendered(tmp_path, BOTH, "dockerfile")[".dockerignore"].splitlines()
    assert {"**/hex.config", "**/.ssh", "**/id_rsa", "**/id_ed25519"} <= set(ignore)


def test_the_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(rendered(tmp_path, BOTH, "dockerfile")["Dockerfile"])
    oracles.hadolint(tmp_path / "Dockerfile", ignore=("DL3018", "DL3008"))


# --- ci/build_images.sh ----------------------------------------------------------------------

@pytest.fixture
def private_repo(tmp_path: Path) -> Repo:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "cigen.yaml").write_text(HEAD + BOTH)
    return Repo(tmp_path / "r", load_project(tmp_path / "d" / "cigen.yaml", ("circleci",)))


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[str]:
    path = tmp_path / "agent.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        yield str(path)


def test_the_script_passes_the_hex_config_and_the_agent(private_repo: Repo, agent: str) -> None:
    result = private_repo.run("-p", HEX_CONFIG="{<<\"hexpm:acme\">>, x}.", SSH_AUTH_SOCK=agent)
    assert result.code == 0, result
    assert result.argv is not None
    argv = " ".join(result.argv)
    assert ("--secret id=hex_config,env=HEX_CONFIG --ssh default"
            " --sbom=true --provenance=mode=max --push") in argv
    assert "hexpm:acme" not in argv  # the secret's text never is an argument


def test_the_script_takes_a_hex_config_file(private_repo: Repo, agent: str,
                                            tmp_path: Path) -> None:
    (tmp_path / "hex.config").write_text("{}.\n")
    result = private_repo.run(HEX_CONFIG_FILE=str(tmp_path / "hex.config"), SSH_AUTH_SOCK=agent,
                              HOME=str(tmp_path / "home"))
    assert result.argv is not None
    assert f"id=hex_config,src={tmp_path / 'hex.config'}" in result.argv


@pytest.mark.parametrize(("env", "message"), [
    ({"HOME": "/nonexistent"}, "Hex organisation packages need the Hex config"),
    ({"HEX_CONFIG": "x"}, "private git dependencies on github.com git.example.com need an SSH "
                          "agent"),
])
def test_the_script_says_what_is_missing(private_repo: Repo, env: dict[str, str],
                                         message: str) -> None:
    os.environ.pop("SSH_AUTH_SOCK", None)
    result = private_repo.run("-p", SSH_AUTH_SOCK="", **env)
    assert (result.code, result.argv) == (2, None)
    assert result.stderr.startswith(f"build_images.sh: {message}")


def test_the_script_passes_shellcheck(tmp_path: Path) -> None:
    script = tmp_path / "build_images.sh"
    script.write_text(rendered(tmp_path, BOTH, "circleci")["ci/build_images.sh"])
    oracles.shellcheck(script)


# --- CircleCI --------------------------------------------------------------------------------

def circleci(tmp_path: Path, private: str = BOTH) -> dict[str, Any]:
    config: dict[str, Any] = load_plain(rendered(tmp_path, private, "circleci")[
        ".circleci/config.yml"])
    return config


def test_every_check_job_gets_the_keys_first(tmp_path: Path) -> None:
    config = circleci(tmp_path)
    [workflow] = config["workflows"].values()
    for name, params in map(_workflow_job, workflow["jobs"]):
        if name.startswith("rebar3/"):
            steps = params["pre-steps"]
            assert steps[0] == "add_ssh_keys", name
            assert [s["run"]["name"] for s in steps[1:3]] == [
                "Fetch private git dependencies over SSH",
                "Write the Hex config for the private organisations"], name
    assert _reference_errors(config) == []


def test_the_hex_config_is_read_from_the_environment_never_written_in(tmp_path: Path) -> None:
    config = circleci(tmp_path, "private:\n  hex_organizations: [acme]\n")
    text = rendered(tmp_path, "private:\n  hex_organizations: [acme]\n", "circleci")[
        ".circleci/config.yml"]
    assert 'printf \'%s\\n\' "$HEX_CONFIG" > ~/.config/rebar3/hex.config' in text
    assert "add_ssh_keys" not in text
    assert _reference_errors(config) == []


def test_the_image_job_forwards_an_agent(tmp_path: Path) -> None:
    job = circleci(tmp_path)["jobs"]["docker-build-and-push"]
    assert job["steps"][1] == "add_ssh_keys"
    build = job["steps"][-1]["run"]["command"]
    assert build.startswith('eval "$(ssh-agent -s)" && ssh-add ~/.ssh/id_rsa_* && '
                            "ci/build_images.sh -p")


def test_the_config_passes_the_circleci_schema(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text(rendered(tmp_path, BOTH, "circleci")[".circleci/config.yml"])
    oracles.check_jsonschema("vendor.circle-ci", path)
    oracles.yamllint(path)


# --- Cloud Build: Kaniko refused at the key, never dropped ------------------------------------
# (buildx, the default with private dependencies: tests/targets/test_cloudbuild_private.py)

def test_cloud_build_refuses_kaniko_with_private_dependencies_at_the_key(tmp_path: Path) -> None:
    from cigen.errors import DescriptorError

    (tmp_path / "cigen.yaml").write_text(
        HEAD + "targets: [cloudbuild]\ncloudbuild:\n  builder: kaniko\n" + BOTH)
    with pytest.raises(DescriptorError) as caught:
        load_project(tmp_path / "cigen.yaml")
    assert caught.value.problems == [
        f"{tmp_path / 'cigen.yaml'}:10:3: private: Kaniko cannot take private dependencies "
        "safely: neither executor forwards an SSH key, and the maintained fork documents its "
        "secret mounts as not stored securely; use cloudbuild.builder: buildx (the default with "
        "private dependencies), see docs/private-dependencies.md"]
