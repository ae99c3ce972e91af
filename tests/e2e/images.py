from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.e2e.buildah import Buildah

# Base images made from Debian packages, never pulled: the machine reaches Debian's mirror
# through its apt sources, and nothing else.
SUITE = "bookworm"
APT_SOURCES = Path("/etc/apt")
KEY_LABEL = "org.cigen.e2e.key"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_SLIM = (
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
)
# Debian's rebar3 is one escript, but the package depends on erlang-reltool and
# erlang-common-test, which pull in wxWidgets and GTK (~550 MB). Only the escript is needed.
_REBAR3_ONLY = (
    '--customize-hook=chroot "$1" sh -ec "cd /tmp && apt-get download rebar3'
    " && dpkg-deb -x rebar3_*.deb /tmp/rebar3-deb"
    " && install -m 0755 /tmp/rebar3-deb/usr/bin/rebar3 /usr/local/bin/rebar3"
    ' && rm -rf /tmp/rebar3-deb rebar3_*.deb"'
)


@dataclass(frozen=True)
class BaseImage:
    tag: str  # the name cigen.yaml's image.base / image.runner gives it
    packages: tuple[str, ...]  # on top of the minbase variant
    options: tuple[str, ...] = _SLIM
    arch: str = ""  # a Debian architecture other than the machine's (made through QEMU)

    def key(self, mirrors: tuple[str, ...]) -> str:
        """Changes whenever what goes into the image changes: names its cached tarball."""
        fields = {k: v for k, v in asdict(self).items() if k != "arch" or v}  # native: as before
        spec = json.dumps([SUITE, mirrors, fields], sort_keys=True)
        return hashlib.sha256(spec.encode()).hexdigest()[:16]


def builder(tag: str) -> BaseImage:
    """The erlang builder: Debian's Erlang/OTP, rebar3, and what rebar3 and the build use."""
    packages = ("erlang-nox", "git", "tar", "ca-certificates")
    return BaseImage(tag, packages, (*_SLIM, _REBAR3_ONLY))


def runner(tag: str, arch: str = "") -> BaseImage:
    """Bare minbase: the Dockerfile's runtime_packages must bring what the release needs."""
    return BaseImage(tag, (), arch=arch)


def mirrors(apt: Path = APT_SOURCES) -> tuple[str, ...]:
    """The machine's own Debian sources for SUITE, as mmdebstrap mirror lines."""
    found = [*_deb822(apt), *_one_line(apt)]
    lines = [f"deb {uri} {suite} main" for uri, suite in found
             if suite.split("-")[0] == SUITE]
    if not lines:
        raise RuntimeError(f"no apt source for Debian {SUITE} under {apt}")
    return tuple(dict.fromkeys(lines))


def _deb822(apt: Path) -> list[tuple[str, str]]:
    found = []
    for path in sorted((apt / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields = dict(_fields(stanza))
            if fields.get("Types", "deb").split()[0] == "deb" and "main" in fields.get(
                    "Components", "").split():
                found += [(u, s) for u in fields.get("URIs", "").split()
                          for s in fields.get("Suites", "").split()]
    return found


def _fields(stanza: str) -> list[tuple[str, str]]:
    return [(k.strip(), v.strip()) for k, _, v in
            (line.partition(":") for line in stanza.splitlines()
             if line and not line.startswith(("#", " ", "\t")))]


def _one_line(apt: Path) -> list[tuple[str, str]]:
    paths = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*.list"))]
    found = []
    for path in (p for p in paths if p.is_file()):
        for line in path.read_text().splitlines():
            words = re.sub(r"\[[^]]*\]", "", line).split()
            if len(words) >= 4 and words[0] == "deb" and "main" in words[3:]:
                found.append((words[1], words[2]))
    return found


def tarball(image: BaseImage, sources: tuple[str, ...], cache: Path) -> Path:
    """A root filesystem tarball made by mmdebstrap, kept in `cache` under its key."""
    path = cache / f"{image.tag.rsplit('/', 1)[-1].replace(':', '-')}-{image.key(sources)}.tar"
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.tar")  # mmdebstrap picks its format by the suffix
        partial.unlink(missing_ok=True)  # left by an interrupted run
        _mmdebstrap(image, sources, partial)
        os.replace(partial, path)
    return path


def _mmdebstrap(image: BaseImage, sources: tuple[str, ...], out: Path) -> None:
    include = [f"--include={','.join(image.packages)}"] if image.packages else []
    # a foreign architecture runs its maintainer scripts through QEMU's binfmt_misc entry; "whether
    # the requested architecture can be executed ... requires arch-test" (mmdebstrap(1) 1.3.5)
    arch = [f"--architectures={image.arch}"] if image.arch else []
    command = ["mmdebstrap", "--variant=minbase", *arch, *include, *image.options, SUITE,
               str(out), *sources]
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,  # noqa: S603
                          text=True, timeout=1200, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}\n{done.stderr}")


def ensure(buildah: Buildah, image: BaseImage, sources: tuple[str, ...], cache: Path) -> None:
    """Make `image.tag` in buildah's storage unless it is there from the same packages."""
    key = image.key(sources)
    if buildah.has_image(image.tag) and buildah.label(image.tag, KEY_LABEL) == key:
        return
    rootfs = tarball(image, sources, cache)
    container = buildah("from", "--name", f"cigen-e2e-import-{key}", "scratch").strip()
    buildah("add", container, str(rootfs), "/", timeout=600)
    # Debian's architecture names are the OCI ones for amd64 and arm64
    platform = ["--os", "linux", "--arch", image.arch] if image.arch else []
    buildah("config", "--env", PATH_ENV, "--cmd", "/bin/bash", "--label", f"{KEY_LABEL}={key}",
            *platform, container)
    buildah("commit", "--quiet", "--rm", container, image.tag, timeout=600)
