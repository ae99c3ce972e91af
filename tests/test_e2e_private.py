from __future__ import annotations

import json
import re
import shutil
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cigen import commands
from cigen.model import Project
from tests import oracles
from tests.conftest import FIXTURES
from tests.e2e import builds, layers, sshd, storage
from tests.e2e.buildah import Buildah, BuildahError
from tests.e2e.builds import Built
from tests.e2e.compat import for_buildah
from tests.helpers import load_project, texts
from tests.test_e2e_build import assert_release_answers, probe

# A real build with private dependencies (issue 19): the rebar3 release of fixtures/e2e with
# one private git dependency, served over SSH by a loopback sshd (tests/e2e/sshd.py), and a
# Hex organisation whose hex.config the build gets as the BuildKit secret `hex_config`. cigen
# renders the Dockerfile; buildah builds it with `--ssh default=<agent socket>` and `--secret
# id=hex_config,src=<file>`, after three builds that must stop (no secret, no agent, a secret
# rebar3 cannot read). Then every layer of the image (and of the builder's last stage) is read:
# neither the user key nor the secret is there, and the release runs. Shares the base images
# and storage of tests/test_e2e_build.py (tests/e2e/storage.py, which waits for that module's
# lock): ~2.5 min on 2 cores once the base images are made, ~5 min beside a busy suite.

SAMPLE = FIXTURES / "e2e"
PRIVATE = FIXTURES / "e2e_private"
TAG = "localhost/cigen-e2e/greeter:private"
# rebar3 reads hex.config whenever it sets up its package resource (rebar3 3.19
# src/rebar_hex_repos.erl, from_state -> auth_config: file:consult, one term, or it aborts),
# so the stand-in is a real one: a map from repository to its settings.
HEX_CONFIG = """\
%% A stand-in for the hex.config `rebar3 hex organization auth acme` writes.
#{{<<"hexpm:acme">> => #{{repo_key => <<"{marker}">>}}}}.
"""
# buildah 1.28's own refusals of a RUN whose required=true mount has no source (run_common.go
# at v1.28.2, getSecretMount and getSSHMount); BuildKit stops there too, with its own words.
NO_SECRET = "secret required but no secret with id hex_config found"
NO_AGENT = "ssh required but no ssh with id default found"
# rebar3's own refusal of a hex.config that is not one term (rebar_hex_repos.erl, auth_config):
# a build given such a secret stops there, which shows the secret is where rebar3 reads it.
UNREADABLE = "Error found in repos auth config (/root/.config/rebar3/hex.config)"
TIMINGS: dict[str, float] = {}


@dataclass(frozen=True)
class Secret:
    path: Path
    marker: str


@dataclass(frozen=True)
class PrivateBuild:
    runner: Built
    releaser: Built  # the builder's last stage: where the secret and the agent were mounted
    refusals: dict[str, str]  # what buildah said when a build lacked one of them


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-private")


@pytest.fixture(scope="module")
def git_host(folder: Path) -> Iterator[sshd.Sshd]:
    binary = oracles.tool("sshd")
    for name in ("ssh-keygen", "ssh-agent", "ssh-add"):
        oracles.tool(name)
    taken = sshd.port_taken()
    if taken:
        pytest.skip(f"{taken}; the Dockerfile's ssh-keyscan and git reach git hosts on port 22")
    if sshd.root_locked():
        pytest.skip("root's password is locked ('!'), which sshd without PAM refuses (auth.c)")
    with sshd.serve(binary, folder / "sshd") as server:
        yield server


@pytest.fixture(scope="module")
def agent_socket(git_host: sshd.Sshd, folder: Path) -> Iterator[str]:
    with sshd.agent(folder, git_host.user_key) as socket_path:
        yield socket_path


@pytest.fixture(scope="module")
def secret(folder: Path) -> Secret:
    marker = f"cigen-e2e-hex-secret-{uuid.uuid4().hex}"
    path = folder / "hex.config"
    path.write_text(HEX_CONFIG.format(marker=marker))
    path.chmod(0o600)
    return Secret(path, marker)


def _dependency_repository(folder: Path) -> tuple[Path, str]:
    """A bare repository of fixtures/e2e_private/acme_words; its path and commit."""
    work = folder / "acme_words"
    shutil.copytree(PRIVATE / "acme_words", work)
    builds.git(work, "init", "-q", "-b", "main")
    builds.git(work, "add", "-A")
    builds.git(work, "commit", "-q", "-m", "acme_words 1.0.0")
    bare = folder / "repos" / "acme_words.git"
    builds.git(folder, "clone", "-q", "--bare", str(work), str(bare))
    return bare, builds.git(bare, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def workspace(folder: Path, git_host: sshd.Sshd) -> Path:
    """fixtures/e2e's sources with fixtures/e2e_private's descriptor and rebar.config (the
    repository's folder filled in), its rebar.lock, and what `cigen render` writes."""
    bare, commit = _dependency_repository(folder)
    url = f"root@{sshd.HOST}:{bare}"
    service = folder / "greeter"
    for part in ("apps", "config"):
        shutil.copytree(SAMPLE / part, service / part)
    shutil.copy(PRIVATE / "service" / "cigen.yaml", service / "cigen.yaml")
    config = (PRIVATE / "service" / "rebar.config").read_text()
    placeholder = f"root@{sshd.HOST}:REPOS/acme_words.git"
    assert config.count(placeholder) == 1, "rebar.config names the dependency's URL once"
    (service / "rebar.config").write_text(config.replace(placeholder, url))
    # what rebar3 writes for a git dependency (no package hashes: the one-term format)
    (service / "rebar.lock").write_text(
        f'[{{<<"acme_words">>,{{git,"{url}",{{ref,"{commit}"}}}},0}}].\n')
    assert commands.render(service / "cigen.yaml", []) == 0
    return service


@pytest.fixture(scope="module")
def project(workspace: Path) -> Project:
    return load_project(workspace / "cigen.yaml")


@pytest.fixture(scope="module")
def buildah(project: Project) -> Iterator[Buildah]:
    assert project.image.runner is not None
    started = time.monotonic()
    with storage.shared(project.image.base, project.image.runner) as tool:
        TIMINGS["base images"] = time.monotonic() - started
        yield tool
    print(f"\ne2e private timings (s): {json.dumps({k: round(v) for k, v in TIMINGS.items()})}")


@pytest.fixture(scope="module")
def private_build(buildah: Buildah, project: Project, workspace: Path, agent_socket: str,
                  secret: Secret) -> PrivateBuild:
    ssh = ["--ssh", f"default={agent_socket}"]  # buildah 1.28 pkg/parse/parse.go, SSH
    hex_config = ["--secret", f"id=hex_config,src={secret.path}"]  # ... and Secrets
    unreadable = secret.path.with_name("unreadable-hex.config")
    unreadable.write_text("#{not_a_term")
    refusals = {}
    started = time.monotonic()
    # Without the secret, without the agent, with a secret rebar3 cannot read: each stops at the
    # first rebar3 step, and before any layer with the mounts is cached (buildah would reuse a
    # cached step without looking for its mounts).
    for label, options in (("no secret", ssh), ("no agent", hex_config),
                           ("unreadable secret", [*ssh, "--secret",
                                                  f"id=hex_config,src={unreadable}"])):
        with pytest.raises(BuildahError) as refused:
            builds.buildkit(buildah, project, workspace, f"{TAG}-refused", options)
        refusals[label] = str(refused.value)
    TIMINGS["builds refused (builder packages included)"] = time.monotonic() - started
    started = time.monotonic()
    runner = builds.buildkit(buildah, project, workspace, TAG, [*ssh, *hex_config])
    TIMINGS["build with the secret and the agent"] = time.monotonic() - started
    releaser = builds.buildkit(buildah, project, workspace, f"{TAG}-releaser",
                               [*ssh, *hex_config], target="releaser")
    return PrivateBuild(runner, releaser, refusals)


@pytest.mark.slow
def test_a_build_without_the_secret_or_the_agent_stops_at_the_first_fetch(
        private_build: PrivateBuild) -> None:
    assert NO_SECRET in private_build.refusals["no secret"], private_build.refusals
    assert NO_AGENT in private_build.refusals["no agent"], private_build.refusals
    assert UNREADABLE in private_build.refusals["unreadable secret"], private_build.refusals
    for said in private_build.refusals.values():
        assert "rebar3 compile" in said.rsplit("STEP", 1)[-1], said  # stopped at that step


@pytest.mark.slow
def test_the_private_dependency_comes_over_ssh_and_the_release_answers(
        buildah: Buildah, project: Project, private_build: PrivateBuild,
        git_host: sshd.Sshd) -> None:
    instructions = " ".join(step.instruction for step in private_build.runner.steps)
    assert "--mount=type=secret,id=hex_config" in instructions
    assert "--mount=type=ssh,required=true" in instructions
    assert "ssh-keyscan 127.0.0.1" in instructions
    # the fetch logged in with the agent's key (sshd LogLevel VERBOSE)
    log = git_host.log
    assert f"Accepted publickey for root from {sshd.HOST}" in log, log
    assert git_host.fingerprint() in log, log
    started = time.monotonic()
    assert_release_answers(buildah, project, private_build.runner.image)
    said = probe(buildah, project, private_build.runner.image, {"word": "acme_words:word()."})
    TIMINGS["release runs"] = time.monotonic() - started
    assert said.said["word"] == '"fetched from a private repository"', said.said


def _needles(git_host: sshd.Sshd, secret: Secret) -> dict[str, bytes]:
    """What must not be in a layer, by label; and the host key, which must be (known_hosts)."""
    private = git_host.user_key.read_text().splitlines()
    body = [line for line in private if line and not line.startswith("-----")]
    found = {f"private key, line {n}": line.encode() for n, line in enumerate(body, 1)}
    found["private key, joined"] = "".join(body).encode()
    public = git_host.user_key.with_suffix(".pub").read_text()
    found["user public key"] = public.split()[1].encode()
    found["secret"] = secret.marker.encode()
    found["host key"] = (git_host.folder / "host_key.pub").read_text().split()[1].encode()
    return found


# ssh's default key files (ssh(1), -i), the files above, and the agent socket's default mount
# target (BuildKit's and buildah's /run/buildkit/ssh_agent.<n>); a whiteout (.wh.) counts too.
_KEY_FILE = re.compile(r"id_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?(?:\.pub)?")
_PRIVATE_FILES = ("known_hosts", "hex.config", "authorized_keys")


def _private_entries(entries: dict[str, list[tarfile.TarInfo]]) -> list[tarfile.TarInfo]:
    """The entries that look like SSH or Hex credentials, in layer order."""
    found = []
    for members in entries.values():
        for member in members:
            path = Path(member.name)
            name = path.name.removeprefix(".wh.")
            if (name in _PRIVATE_FILES or _KEY_FILE.fullmatch(name) or ".ssh" in path.parts
                    or ".wh..ssh" in path.parts or member.name.startswith("run/buildkit")):
                found.append(member)
    return found


def _expected_in_builder(entry: tarfile.TarInfo) -> bool:
    """known_hosts and its folder (the builder's, by design), and what buildah 1.28 leaves of
    the mounts. cleanupRunMounts (run_common.go at v1.28.2) removes each mount target with
    copier.Remove(<rootfs on the host>, <target>), which takes an absolute item for a host path
    under the rootfs (copier.go, convertToRelSubdirectory: filepath.Rel, then cleaned): when the
    storage is under /root, as ~/.cache/cigen-e2e is for root, /root/.config/rebar3/hex.config
    becomes <rootfs>/.config/rebar3/hex.config, which is not there, and the empty mount point
    the chroot runtime made for the secret (chroot/run_linux.go: O_CREATE, 0755) stays. The
    agent's target, /run/buildkit/ssh_agent.0, is removed; the folder made for it is not."""
    return ((entry.name, entry.isdir()) in (("root/.ssh", True), ("run/buildkit", True))
            or (entry.name == "root/.ssh/known_hosts" and entry.isfile())
            or (entry.name == "root/.config/rebar3/hex.config" and entry.isfile()
                and entry.size == 0))


def _described(found: list[tarfile.TarInfo]) -> list[str]:
    return [f"{e.name} ({'dir' if e.isdir() else 'file' if e.isfile() else e.type!r}, "
            f"{e.size} bytes)" for e in found]


@pytest.mark.slow
def test_no_layer_holds_the_key_or_the_secret(
        buildah: Buildah, private_build: PrivateBuild, git_host: sshd.Sshd, secret: Secret,
        tmp_path: Path) -> None:
    needles = _needles(git_host, secret)
    started = time.monotonic()
    runner = layers.export(buildah, private_build.runner.image, tmp_path / "runner")
    releaser = layers.export(buildah, private_build.releaser.image, tmp_path / "releaser")
    in_runner, in_releaser = layers.scan(runner, needles), layers.scan(releaser, needles)
    TIMINGS["export and scan both images"] = time.monotonic() - started
    assert runner.layers
    assert releaser.layers
    assert not in_runner, in_runner
    assert not _private_entries(layers.entries(runner)), _described(
        _private_entries(layers.entries(runner)))
    # The builder scanned the host key into known_hosts: the one needle it may hold, and the
    # proof that the scan reads the layers' files.
    assert {label for labels in in_releaser.values() for label in labels} == {"host key"}, \
        in_releaser
    in_builder = _private_entries(layers.entries(releaser))
    assert "root/.ssh/known_hosts" in {e.name for e in in_builder}, _described(in_builder)
    assert all(_expected_in_builder(e) for e in in_builder), _described(in_builder)
    # nor buildah's cache mounts (the hex cache, the apt caches): kept in $TMPDIR/buildah-cache
    caches = [p for p in (buildah.root / "tmp" / "buildah-cache").rglob("*") if p.is_file()]
    assert caches, "no cache mount was used"
    assert not {str(p): found for p in caches if (found := layers.find(p, needles))}


# Without building anything.

def test_secret_and_ssh_mounts_reach_buildah_unchanged() -> None:
    """buildah 1.28 takes both mounts with required=true as BuildKit writes them (run_common.go
    at v1.28.2): the bridge (tests/e2e/compat.py) leaves them alone."""
    text = texts(load_project(PRIVATE / "service" / "cigen.yaml"))["Dockerfile"]
    secret_mount = ("--mount=type=secret,id=hex_config,target=/root/.config/rebar3/hex.config,"
                    "required=true")
    assert text.count(secret_mount) == text.count("--mount=type=ssh,required=true") == 3
    bridged = for_buildah(text, "d1")
    assert bridged.count(secret_mount) == bridged.count("--mount=type=ssh,required=true") == 3
    assert "ssh-keyscan 127.0.0.1 >> /root/.ssh/known_hosts" in bridged


def test_layer_scan_finds_a_needle_across_chunks(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"x" * (layers._CHUNK - 3) + b"needle" + b"y" * 10)
    assert layers.find(path, {"n": b"needle", "m": b"absent"}) == {"n"}


def test_root_locked_reads_the_password_field(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    shadow.write_text("daemon:*:1::::::\nroot:!:19000:0:99999:7:::\n")
    assert sshd.root_locked(shadow)
    shadow.write_text("root:*:19000:0:99999:7:::\n")
    assert not sshd.root_locked(shadow)
