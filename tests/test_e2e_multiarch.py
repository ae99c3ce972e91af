from __future__ import annotations

import io
import json
import platform
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from cigen.model import Project
from tests import oracles
from tests.conftest import FIXTURES
from tests.e2e import images, registry, storage
from tests.e2e.buildah import BUILD_TIMEOUT, Buildah
from tests.helpers import load_project

# A real two-platform build (issue 17): buildah builds a Dockerfile for linux/amd64 and
# linux/arm64 into one manifest list, the arm64 RUN step under QEMU (qemu-user-static through
# binfmt_misc), and `buildah manifest push --all` sends the list and both images to the loopback
# docker-registry. The registry's answers must show both platforms, each image's config its own
# architecture, and each image's layer the architecture its RUN step ran on.
#
# A two-line stand-in, not fixtures/e2e's generated Dockerfile: built here for both platforms
# (Debian's arm64 erlang-nox as its base), that one's first rebar3 step ended with "qemu:
# uncaught target signal 11 (Segmentation fault)" under Debian 12's qemu-user-static 7.2; the
# BEAM is not run under emulation (cigen never emulates either: docs/multi-arch.md).
# The arm64 runner is made of Debian packages like the other end-to-end tests' base images
# (tests/e2e/images.py: mmdebstrap --architectures=arm64, ~4 min once, then cached); nothing
# is pulled. Skips, saying why, where the machine cannot run arm64 binaries.

SAMPLE = FIXTURES / "e2e"
ARM64_RUNNER = "localhost/cigen-e2e/runner-arm64:bookworm"
BASE_LIST = "localhost/cigen-e2e/runner-platforms:bookworm"  # both runners, one name
BUILT_LIST = "localhost/cigen-e2e/platforms:built"
UNAME = {"amd64": "x86_64", "arm64": "aarch64"}  # OCI (and Debian) architecture -> uname -m
BINFMT = Path("/proc/sys/fs/binfmt_misc")
# The aarch64 ELF header QEMU registers (Debian's qemu-user-static: update-binfmts --display)
ARM64_MAGIC = "7f454c460201010000000000000000000200b700"
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
IMAGE_TYPES = ("application/vnd.oci.image.manifest.v1+json",
               "application/vnd.docker.distribution.manifest.v2+json")
DOCKERFILE = f"""\
FROM {BASE_LIST}
RUN printf '%s %s\\n' "$(dpkg --print-architecture)" "$(uname -m)" > /etc/cigen-built-on
"""
TIMINGS: dict[str, float] = {}
T = TypeVar("T")


def arm64_emulation(binfmt: Path = BINFMT, machine: str = "") -> str:
    """Why arm64 binaries cannot run inside this machine's build chroots; "" if they can."""
    machine = machine or platform.machine()
    if machine != "x86_64":
        return f"written for an x86_64 machine, this one is {machine}"
    if not (binfmt / "status").is_file():
        return (f"binfmt_misc is not mounted on {binfmt} (as root: mount -t binfmt_misc "
                f"binfmt_misc {binfmt})")
    if (binfmt / "status").read_text().strip() != "enabled":
        return f"binfmt_misc is disabled ({binfmt / 'status'})"
    entries = [path for path in sorted(binfmt.iterdir()) if path.name not in ("register", "status")]
    arm64 = [(path, dict(_fields(path))) for path in entries if _fields(path).get("magic")
             == ARM64_MAGIC]
    if not arm64:
        return ("no binfmt_misc entry runs arm64 binaries (as root: apt-get install "
                "qemu-user-static binfmt-support; update-binfmts --enable qemu-aarch64)")
    enabled = [(path, fields) for path, fields in arm64 if fields.get("enabled") == ""]
    if not enabled:
        return f"the arm64 binfmt_misc entry is disabled: {', '.join(str(p) for p, _ in arm64)}"
    # F: the kernel opens the interpreter when it is registered, so it is found inside a chroot
    # (the kernel's admin-guide/binfmt-misc.rst, "F - fix binary")
    if not [path for path, fields in enabled if "F" in fields.get("flags:", "")]:
        return ("the arm64 binfmt_misc entry lacks the F flag: its interpreter is not found "
                f"inside build chroots ({', '.join(str(p) for p, _ in enabled)})")
    return ""


def _fields(entry: Path) -> dict[str, str]:
    """A binfmt_misc entry's lines as {first word: the rest}: "enabled", "interpreter", ..."""
    lines = entry.read_text().splitlines()
    return {word: rest.strip() for word, _, rest in (line.partition(" ") for line in lines)}


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(SAMPLE / "cigen.yaml")


@pytest.fixture(scope="module")
def buildah(project: Project) -> Iterator[Buildah]:
    """The end-to-end tests' shared storage, with an arm64 runner besides the two images."""
    why = arm64_emulation()
    if why:
        pytest.skip(f"no arm64 emulation: {why}")
    oracles.tool("arch-test")  # mmdebstrap's check of a foreign architecture
    runner = project.image.runner
    assert runner is not None
    started = time.monotonic()
    with storage.shared(project.image.base, runner,
                        (images.runner(ARM64_RUNNER, "arm64"),)) as tool:
        TIMINGS["base images"] = time.monotonic() - started
        yield tool
    print(f"\nmulti-arch timings (s): {json.dumps({k: round(v) for k, v in TIMINGS.items()})}")


@pytest.fixture(scope="module")
def loopback_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = oracles.tool("docker-registry")
    with registry.serve(binary, tmp_path_factory.mktemp("registry")) as host:
        yield host


def _architecture(buildah: Buildah, image: str) -> str:
    return buildah("inspect", "--type", "image", "--format", "{{.OCIv1.Architecture}}",
                   image).strip()


@pytest.mark.slow
def test_two_platform_build_pushes_one_list_with_both_images(
        buildah: Buildah, project: Project, loopback_registry: str, tmp_path: Path) -> None:
    runner = project.image.runner
    assert runner is not None
    assert _architecture(buildah, runner) == "amd64"
    assert _architecture(buildah, ARM64_RUNNER) == "arm64"
    _local_list(buildah, BASE_LIST, (runner, ARM64_RUNNER))
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)

    # More than one platform takes --manifest, not --tag; foreign RUN steps need
    # qemu-user-static (containers/buildah docs/buildah-build.1.md, --platform, --manifest).
    started = time.monotonic()
    buildah("build", "--isolation", "chroot", "--layers", "--pull=never",
            "--platform", "linux/amd64,linux/arm64", "--manifest", BUILT_LIST,
            "--file", str(context / "Dockerfile"), str(context), timeout=BUILD_TIMEOUT)
    TIMINGS["two-platform build"] = time.monotonic() - started

    # --all pushes the member images with the list; buildah defaults it to true only from
    # v1.38.0 (containers/buildah d0819591), and Debian 12 has 1.28.2.
    repository, tag = "cigen-e2e/platforms", "two"
    started = time.monotonic()
    buildah("manifest", "push", "--all", "--tls-verify=false", BUILT_LIST,
            f"docker://{loopback_registry}/{repository}:{tag}", timeout=600)
    TIMINGS["manifest push --all"] = time.monotonic() - started

    def built_on(layers: list[tarfile.TarFile]) -> dict[str, str]:
        found = _member(layers, lambda name: name == "etc/cigen-built-on")
        return {name: data.decode() for name, data in found.items()}

    for arch, said in _pushed(loopback_registry, repository, tag, built_on).items():
        # the RUN step ran the image's own dpkg, on a CPU that says it is that architecture
        assert said == {"etc/cigen-built-on": f"{arch} {UNAME[arch]}\n"}, arch


def _local_list(buildah: Buildah, name: str, members: tuple[str, ...]) -> None:
    """One name for images of several platforms: with --pull=never, each platform's FROM picks
    its own image from the local list (buildah 1.28.2, tried here)."""
    buildah("manifest", "create", name)
    for member in members:
        buildah("manifest", "add", name, f"containers-storage:{member}")


def _pushed(host: str, repository: str, tag: str,
            look: Callable[[list[tarfile.TarFile]], T]) -> dict[str, T]:
    """Check the pushed list: two images, linux/amd64 and linux/arm64, each with a config of
    its own architecture; what `look` finds in each image's layers (top first), by arch."""
    # GET /v2/<name>/manifests/<reference>, /v2/<name>/blobs/<digest>
    # (distribution/distribution docs/spec/api.md)
    kind, index = registry.manifest(host, repository, tag, INDEX_TYPES)
    assert kind in INDEX_TYPES, kind
    entries = index["manifests"]
    platforms = sorted((e["platform"]["os"], e["platform"]["architecture"]) for e in entries)
    assert platforms == [("linux", "amd64"), ("linux", "arm64")], index
    assert len({entry["digest"] for entry in entries}) == 2, index
    found = {}
    for entry in entries:
        arch = entry["platform"]["architecture"]
        kind, image = registry.manifest(host, repository, entry["digest"], IMAGE_TYPES)
        assert kind in IMAGE_TYPES, (arch, kind)
        config = json.loads(registry.blob(host, repository, image["config"]["digest"]))
        assert (config["os"], config["architecture"]) == ("linux", arch), config
        blobs = [registry.blob(host, repository, layer["digest"])
                 for layer in reversed(image["layers"])]
        layers = [tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") for blob in blobs]
        try:
            found[arch] = look(layers)
        finally:
            for layer in layers:
                layer.close()
    return found


def _member(layers: list[tarfile.TarFile], wanted: Callable[[str], bool]) -> dict[str, bytes]:
    """The first file (top layer first) whose name is `wanted`, by name."""
    for layer in layers:
        for info in layer.getmembers():
            if info.isfile() and wanted(info.name.removeprefix("./")):
                data = layer.extractfile(info)
                assert data is not None
                return {info.name.removeprefix("./"): data.read()}
    return {}


# The emulation check itself, on made-up binfmt_misc folders.

ARM64_ENTRY = f"""enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: PF
offset 0
magic {ARM64_MAGIC}
mask ffffffffffffff00fffffffffffffffffeffffff
"""


@pytest.mark.parametrize(("files", "reason"), [
    ({}, "not mounted"),
    ({"status": "disabled\n"}, "binfmt_misc is disabled"),
    ({"status": "enabled\n", "register": ""}, "no binfmt_misc entry runs arm64"),
    ({"status": "enabled\n", "qemu-aarch64": ARM64_ENTRY.replace("enabled", "disabled", 1)},
     "entry is disabled"),
    ({"status": "enabled\n", "qemu-aarch64": ARM64_ENTRY.replace("PF", "P")}, "lacks the F flag"),
    ({"status": "enabled\n", "qemu-aarch64": ARM64_ENTRY}, ""),
])
def test_arm64_emulation_says_why_not(files: dict[str, str], reason: str, tmp_path: Path) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    why = arm64_emulation(tmp_path, "x86_64")
    assert (reason in why) if reason else why == "", why
    assert arm64_emulation(tmp_path, "aarch64").startswith("written for an x86_64 machine")
