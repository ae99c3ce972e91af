"""CircleCI: image.platforms of two (a native job per platform, pushed by digest, merged into
one manifest list), publish.sign (cosign, keyless, with the job's OIDC token) and publish.sbom
(SBOM and provenance on a push), in the config and in ci/build_images.sh."""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cigen import yamlio
from cigen.model import AMD64, Project
from cigen.targets import circleci
from cigen.targets.circleci import buildscript, platforms
from cigen.yamlio import load_plain
from tests import oracles
from tests.conftest import FIXTURES
from tests.helpers import load_project
from tests.targets.test_build_images import Repo

IMAGE = "ghcr.io/acme/hello"
AMD_DIGEST = "sha256:" + "a" * 64
ARM_DIGEST = "sha256:" + "b" * 64
LIST_DIGEST = "sha256:" + "c" * 64
MEMBER_DIGEST = "sha256:" + "d" * 64
# docker, recording every call (argv NUL-separated, one file per call, in call order); a build
# with --metadata-file writes buildx's metadata JSON with $FAKE_DIGEST as containerimage.digest
# (docker/buildx docs/reference/buildx_build.md), and `imagetools inspect --format
# '{{json .Manifest}}'` prints an index whose own digest is $FAKE_LIST_DIGEST, ahead of its
# members' (docs/reference/buildx_imagetools_inspect.md, "JSON output").
FAKE_DOCKER = r"""#!/bin/sh
n=$(find "$FAKE_CALLS" -type f | wc -l)
printf '%s\0' "$@" > "$FAKE_CALLS/$(printf '%03d' "$n")-docker"
if [ "$1 $2" = "buildx build" ]; then
    while [ $# -gt 0 ]; do
        if [ "$1" = --metadata-file ]; then
            {
                printf '{\n  "buildx.build.ref": "builder/builder0/x",\n'
                printf '  "containerimage.descriptor": {"digest": "%s"},\n' "$FAKE_MEMBER_DIGEST"
                printf '  "containerimage.digest": "%s"\n}\n' "$FAKE_DIGEST"
            } > "$2"
            echo "$2" > "$FAKE_CALLS/../metadata-path"
        fi
        shift
    done
elif [ "$1 $2 $3" = "buildx imagetools inspect" ]; then
    printf '{\n  "schemaVersion": 2,\n'
    printf '  "mediaType": "application/vnd.oci.image.index.v1+json",\n'
    printf '  "digest": "%s",\n  "size": 855,\n' "$FAKE_LIST_DIGEST"
    printf '  "manifests": [{"digest": "%s"}]\n}\n' "$FAKE_MEMBER_DIGEST"
fi
"""
# cosign, recording its argv and whether it saw the token.
FAKE_COSIGN = r"""#!/bin/sh
n=$(find "$FAKE_CALLS" -type f | wc -l)
printf '%s\0' "$@" "token=${SIGSTORE_ID_TOKEN:-}" > "$FAKE_CALLS/$(printf '%03d' "$n")-cosign"
"""


class Multi(Repo):
    """A scratch repo with the multi-platform script, a fake docker and a fake cosign."""

    def __init__(self, root: Path, project: Project, cosign: bool = True) -> None:
        super().__init__(root, project)
        (root / "bin" / "docker").write_text(FAKE_DOCKER)
        if cosign:
            fake = root / "bin" / "cosign"
            fake.write_text(FAKE_COSIGN)
            fake.chmod(0o755)
        (root / "calls").mkdir()

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "FAKE_CALLS": str(self.root / "calls"),
                "FAKE_DIGEST": AMD_DIGEST, "FAKE_LIST_DIGEST": LIST_DIGEST,
                "FAKE_MEMBER_DIGEST": MEMBER_DIGEST}

    def script(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        for call in (self.root / "calls").iterdir():
            call.unlink()
        return subprocess.run([str(self.root / "repo" / buildscript.PATH), *args],
                              cwd=self.root, env={**self.env, **env}, capture_output=True,
                              text=True, check=False)

    def calls(self) -> list[tuple[str, list[str]]]:
        return [(path.name.split("-", 1)[1], path.read_text().split("\0")[:-1])
                for path in sorted((self.root / "calls").iterdir())]

    def digest(self, platform: str) -> Path:
        return self.root / "repo" / buildscript.digest_file(platform)


def _multiarch(**publish: Any) -> Project:
    project = load_project(FIXTURES / "multiarch" / "cigen.yaml", ("circleci",))
    return replace(project, publish=replace(project.publish, **publish)) if publish else project


@pytest.fixture
def multi(tmp_path: Path) -> Multi:
    if shutil.which("git") is None:
        oracles.missing("git is not installed")
    return Multi(tmp_path, _multiarch())


def _by_digest(platform: str, arch: str, metadata: str) -> list[str]:
    cache = f"type=registry,ref={IMAGE}:buildcache-{arch}-main"
    return ["buildx", "build", "--file", "Dockerfile", "--target", "runner",
            "--platform", platform,  # no --tag: pushed by digest
            "--cache-from", cache, "--cache-to", f"{cache},mode=max",
            "--sbom=true", "--provenance=mode=max",
            "--output", f"type=image,name={IMAGE},push-by-digest=true,name-canonical=true,"
                        "push=true",
            "--metadata-file", metadata, "."]


# --- ci/build_images.sh against a fake docker and cosign --------------------------------------

def test_a_platform_is_pushed_by_digest_and_its_digest_written(multi: Multi) -> None:
    result = multi.script("-P", "linux/arm64", "-p", CIRCLE_BRANCH="main", FAKE_DIGEST=ARM_DIGEST)
    assert result.returncode == 0, result
    [(tool, argv)] = multi.calls()
    metadata = (multi.root / "metadata-path").read_text().strip()
    assert (tool, argv) == ("docker", _by_digest("linux/arm64", "arm64", metadata))
    # The digest comes from the metadata's containerimage.digest, not the descriptor's digest.
    assert multi.digest("linux/arm64").read_text() == ARM_DIGEST + "\n"
    assert not multi.digest("linux/amd64").exists()
    assert not Path(metadata).exists()  # the temporary metadata file is removed


def test_each_platform_has_its_own_cache_even_for_long_branch_names(multi: Multi) -> None:
    branch = "feature-" + "x" * 200
    refs = {}
    for platform in ("linux/amd64", "linux/arm64"):
        assert multi.script("-P", platform, "-p", CIRCLE_BRANCH=branch).returncode == 0
        [(_, argv)] = multi.calls()
        refs[platform] = {a for a in argv if a.startswith("type=registry")}
        assert all(len(ref.split(",")[1].rsplit(":", 1)[1]) <= 128 for ref in refs[platform])
    assert refs["linux/amd64"].isdisjoint(refs["linux/arm64"])


def test_merge_tags_the_list_of_every_platform_and_signs_its_digest(multi: Multi) -> None:
    for platform, digest in (("linux/amd64", AMD_DIGEST), ("linux/arm64", ARM_DIGEST)):
        result = multi.script("-P", platform, "-p", CIRCLE_BRANCH="main", FAKE_DIGEST=digest)
        assert result.returncode == 0, result
    result = multi.script("-m", "-s", CIRCLE_BRANCH="main", SIGSTORE_ID_TOKEN="tok")
    assert result.returncode == 0, result
    sha = multi.sha
    assert multi.calls() == [
        ("docker", ["buildx", "imagetools", "create", "--tag", f"{IMAGE}:{sha}",
                    "--tag", f"{IMAGE}:main", f"{IMAGE}@{AMD_DIGEST}", f"{IMAGE}@{ARM_DIGEST}"]),
        ("docker", ["buildx", "imagetools", "inspect", f"{IMAGE}:{sha}",
                    "--format", "{{json .Manifest}}"]),
        # the index's own digest, not a member's
        ("cosign", ["sign", "--yes", f"{IMAGE}@{LIST_DIGEST}", "token=tok"]),
    ]


def test_merge_of_a_release_takes_the_version_tag_only(multi: Multi) -> None:
    for platform, digest in (("linux/amd64", AMD_DIGEST), ("linux/arm64", ARM_DIGEST)):
        result = multi.script("-P", platform, "-p", CIRCLE_TAG="v1.2.0", FAKE_DIGEST=digest)
        assert result.returncode == 0, result
        [(_, argv)] = multi.calls()
        assert "--no-cache" in argv
        assert not [a for a in argv if a.startswith(("type=registry", "--cache"))]
    result = multi.script("-m", CIRCLE_TAG="v1.2.0")
    assert result.returncode == 0, result
    assert multi.calls() == [
        ("docker", ["buildx", "imagetools", "create", "--tag", f"{IMAGE}:1.2.0",
                    f"{IMAGE}@{AMD_DIGEST}", f"{IMAGE}@{ARM_DIGEST}"])]


def test_merge_without_every_platform_fails_before_docker(multi: Multi) -> None:
    assert multi.script("-P", "linux/amd64", "-p").returncode == 0
    result = multi.script("-m")
    assert result.returncode == 2
    assert "no digest of linux/arm64 in ci/digests/linux-arm64" in result.stderr
    assert multi.calls() == []


def test_merge_refuses_a_file_that_holds_no_digest(multi: Multi) -> None:
    for platform in ("linux/amd64", "linux/arm64"):
        multi.digest(platform).parent.mkdir(parents=True, exist_ok=True)
        multi.digest(platform).write_text("latest; touch pwned\n")
    result = multi.script("-m")
    assert result.returncode == 2
    assert "holds no image digest" in result.stderr
    assert multi.calls() == []


def test_a_platform_build_without_push_is_tagged_and_has_no_attestations(multi: Multi) -> None:
    result = multi.script("-P", "linux/arm64", "-l", CIRCLE_BRANCH="main")
    assert result.returncode == 0, result
    [(_, argv)] = multi.calls()
    assert argv == ["buildx", "build", "--file", "Dockerfile", "--target", "runner",
                    "--platform", "linux/arm64", "--tag", f"{IMAGE}:{multi.sha}",
                    "--tag", f"{IMAGE}:main",
                    "--cache-from", f"type=registry,ref={IMAGE}:buildcache-arm64-main",
                    "--load", "."]
    assert not multi.digest("linux/arm64").exists()


@pytest.mark.parametrize(("args", "error"), [
    (["-P", "linux/s390x", "-p"], "-P linux/s390x: not one of the image's platforms"),
    (["-m", "-p"], "-m (merge the pushed platforms) takes no -p, -l or -P"),
    (["-m", "-P", "linux/amd64"], "-m (merge the pushed platforms) takes no -p, -l or -P"),
    (["-s"], "-s (sign) needs -p or -m"),
])
def test_bad_usage_exits_2_before_docker(multi: Multi, args: list[str], error: str) -> None:
    result = multi.script(*args, SIGSTORE_ID_TOKEN="tok")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(f"build_images.sh: {error}")
    assert multi.calls() == []


def test_signing_without_the_token_fails_before_the_build(multi: Multi) -> None:
    result = multi.script("-P", "linux/amd64", "-p", "-s", SIGSTORE_ID_TOKEN="")
    assert result.returncode == 2
    assert "needs the OIDC token for Sigstore in SIGSTORE_ID_TOKEN" in result.stderr
    assert multi.calls() == []


def test_signing_without_cosign_fails_before_the_build(tmp_path: Path) -> None:
    repo = Multi(tmp_path, _multiarch(), cosign=False)
    # PATH without any cosign: the fake bin and what the script needs only.
    path = os.pathsep.join([str(tmp_path / "bin"), "/usr/bin", "/bin"])
    if any(Path(d, "cosign").exists() for d in ("/usr/bin", "/bin")):
        pytest.skip("a real cosign is installed")
    result = repo.script("-m", "-s", SIGSTORE_ID_TOKEN="tok", PATH=path)
    assert result.returncode == 2
    assert "-s (sign) needs cosign on PATH" in result.stderr
    assert repo.calls() == []


def test_a_single_platform_image_signs_the_digest_it_pushed(tmp_path: Path) -> None:
    project = load_project(FIXTURES / "minimal" / "cigen.yaml", ("circleci",))
    repo = Multi(tmp_path, replace(project, publish=replace(project.publish, sign=True)))
    result = repo.script("-p", "-s", CIRCLE_BRANCH="main", SIGSTORE_ID_TOKEN="tok")
    assert result.returncode == 0, result
    [(_, build), cosign] = repo.calls()
    assert build[-6:] == ["--sbom=true", "--provenance=mode=max", "--push", "--metadata-file",
                          (tmp_path / "metadata-path").read_text().strip(), "."]
    assert f"{IMAGE}:main" in build
    assert cosign == ("cosign", ["sign", "--yes", f"{IMAGE}@{AMD_DIGEST}", "token=tok"])


def test_sbom_false_pushes_without_attestations(tmp_path: Path) -> None:
    repo = Multi(tmp_path, _multiarch(sbom=False))
    assert repo.script("-P", "linux/amd64", "-p").returncode == 0
    [(_, argv)] = repo.calls()
    assert "--sbom=true" not in argv
    assert "--provenance=mode=max" not in argv
    assert "push-by-digest=true" in argv[argv.index("--output") + 1]


def test_without_platforms_or_sign_the_script_has_no_such_options() -> None:
    project = load_project(FIXTURES / "minimal" / "cigen.yaml", ("circleci",))
    script = buildscript.render(project)
    assert "getopts ':plt:r:h'" in script
    for text in ("cosign", "imagetools", "push-by-digest", "platforms=", "-P PLATFORM"):
        assert text not in script


def test_the_multiarch_script_passes_shellcheck(tmp_path: Path) -> None:
    for name, project in (("both", _multiarch()), ("unsigned", _multiarch(sign=False))):
        path = tmp_path / f"{name}.sh"
        path.write_text(buildscript.render(project))
        oracles.shellcheck(path)


# --- .circleci/config.yml ----------------------------------------------------------------------

def _config(project: Project) -> dict[str, Any]:
    config: dict[str, Any] = circleci.config(project)
    return config


def _workflow(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [workflow] = config["workflows"].values()
    return {name: params for entry in workflow["jobs"] for name, params in entry.items()}


def _runs(job: dict[str, Any]) -> list[str]:
    return [step["run"]["command"] for step in job["steps"]
            if isinstance(step, dict) and "run" in step]


def test_each_platform_builds_natively_and_the_merge_waits_for_both() -> None:
    project = _multiarch()
    config = _config(project)
    jobs, flow = config["jobs"], _workflow(config)
    amd, arm = jobs["docker-build-amd64"], jobs["docker-build-arm64"]
    assert "resource_class" not in amd  # the default: amd64
    assert arm["resource_class"] == "arm.medium"
    assert amd["machine"] == arm["machine"] == {"image": project.circleci.machine_image}
    for job, platform in ((amd, "linux/amd64"), (arm, "linux/arm64")):
        assert _runs(job)[-1] == f"ci/build_images.sh -p -t runner -r ghcr.io/acme -P {platform}"
        assert job["steps"][-1] == {"persist_to_workspace": {
            "root": ".", "paths": [f"ci/digests/{platform.replace('/', '-')}"]}}
    # Each platform job waits for what the single image job waits for, with its filters.
    single = _workflow(_config(replace(project, image=replace(project.image,
                                                              platforms=(AMD64,)))))
    assert flow["docker-build-amd64"] == flow["docker-build-arm64"] \
        == single["docker-build-and-push"]
    assert flow["docker-build-and-push"] == {**single["docker-build-and-push"],
                                             "requires": ["docker-build-amd64",
                                                          "docker-build-arm64"]}
    merge = jobs["docker-build-and-push"]
    assert merge["steps"][:2] == ["checkout", {"attach_workspace": {"at": "."}}]
    assert "resource_class" not in merge
    assert _runs(merge)[-1].splitlines()[-1] == "ci/build_images.sh -m -t runner -r ghcr.io/acme -s"


def test_context_and_arm_resource_class_reach_the_platform_jobs(tmp_path: Path) -> None:
    text = (FIXTURES / "multiarch" / "cigen.yaml").read_text() \
        + "circleci:\n  arm_resource_class: arm.large\n  context: registry\n"
    (tmp_path / "cigen.yaml").write_text(text)
    config = _config(load_project(tmp_path / "cigen.yaml", ("circleci",)))
    assert config["jobs"]["docker-build-arm64"]["resource_class"] == "arm.large"
    flow = _workflow(config)
    for job in ("docker-build-amd64", "docker-build-arm64", "docker-build-and-push"):
        assert flow[job]["context"] == "registry"


def test_an_unknown_arm_resource_class_is_a_descriptor_error(tmp_path: Path) -> None:
    from cigen.errors import DescriptorError

    text = (FIXTURES / "multiarch" / "cigen.yaml").read_text() \
        + "circleci:\n  arm_resource_class: arm.huge\n"
    (tmp_path / "cigen.yaml").write_text(text)
    with pytest.raises(DescriptorError, match="arm_resource_class"):
        load_project(tmp_path / "cigen.yaml", ("circleci",))


def test_signing_installs_a_verified_cosign_and_mints_the_token_in_the_merge_only() -> None:
    jobs = _config(_multiarch())["jobs"]
    for platform_job in ("docker-build-amd64", "docker-build-arm64"):
        assert not any("cosign" in c or "oidc" in c for c in _runs(jobs[platform_job]))
    install, merge = _runs(jobs["docker-build-and-push"])[-2:]
    assert "releases/download/v3.0.6/$asset" in install
    for asset, sha in platforms.COSIGN_SHA256.values():
        assert f"asset={asset} sha256={sha}" in install
    assert "sha256sum --check --strict" in install
    assert merge.splitlines() == [
        'PATH="$HOME/.cosign:$PATH"',
        "SIGSTORE_ID_TOKEN=$(circleci run oidc get --claims '{\"aud\":\"sigstore\"}')",
        "export SIGSTORE_ID_TOKEN",
        "ci/build_images.sh -m -t runner -r ghcr.io/acme -s",
    ]


def test_without_sign_no_cosign_and_no_token() -> None:
    config = _config(_multiarch(sign=False))
    text = yamlio.dump(config)
    assert "cosign" not in text
    assert "oidc" not in text
    login, merge = _runs(config["jobs"]["docker-build-and-push"])
    assert login.startswith('echo "$DOCKER_PASSWORD" | docker login')
    assert merge == "ci/build_images.sh -m -t runner -r ghcr.io/acme"


def test_a_signed_single_platform_image_job_signs_its_push() -> None:
    project = load_project(FIXTURES / "minimal" / "cigen.yaml", ("circleci",))
    config = _config(replace(project, publish=replace(project.publish, sign=True)))
    assert set(config["jobs"]) == {"docker-build-and-push"}
    runs = _runs(config["jobs"]["docker-build-and-push"])
    assert runs[-2].startswith('case "$(uname -m)" in')
    assert runs[-1].splitlines()[-1] == "ci/build_images.sh -p -t runner -r ghcr.io/acme -s"


def test_the_cosign_install_refuses_a_download_that_does_not_match(tmp_path: Path) -> None:
    """The install step against a fake curl (it writes other bytes) and a fake uname."""
    [install] = [c for c in _runs(_config(_multiarch())["jobs"]["docker-build-and-push"])
                 if "uname -m" in c]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "curl").write_text('#!/bin/sh\necho "$@" > "$HOME/url"\n'
                                  'while [ "$1" != -o ]; do shift; done\necho fake > "$2"\n')
    for machine in ("aarch64", "s390x"):
        (bin_dir / "uname").write_text(f"#!/bin/sh\necho {machine}\n")
        for fake in bin_dir.iterdir():
            fake.chmod(0o755)
        proc = subprocess.run(["bash", "-eo", "pipefail", "-c", install], capture_output=True,
                              text=True, check=False,
                              env={"HOME": str(tmp_path),
                                   "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
        assert proc.returncode != 0
        if machine == "s390x":
            assert "no cosign binary for s390x" in proc.stderr
        else:
            url = (tmp_path / "url").read_text()
            assert url.endswith("https://github.com/sigstore/cosign/releases/download/v3.0.6/"
                                "cosign-linux-arm64\n")
            assert "FAILED" in proc.stdout + proc.stderr


def test_the_multiarch_config_passes_the_circleci_schema_and_shellcheck(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(yamlio.dump(_config(_multiarch())))
    oracles.check_jsonschema("vendor.circle-ci", config)
    commands = []
    for name, job in load_plain(config.read_text())["jobs"].items():
        for i, command in enumerate(_runs(job)):
            path = tmp_path / f"{name}-{i}.sh"
            # CircleCI runs a step with /bin/bash -eo pipefail, a non-login shell, by default
            # (circleci-docs, configuration-reference, `run`: `shell`)
            path.write_text("#!/bin/bash\nset -eo pipefail\n" + command + "\n")
            commands.append(path)
    oracles.shellcheck(*commands)


def test_the_committed_multiarch_config_is_the_rendered_one() -> None:
    committed = load_plain((FIXTURES / "multiarch" / ".circleci" / "config.yml").read_text())
    assert committed["jobs"] == load_plain(yamlio.dump(_config(_multiarch())))["jobs"]
