from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cigen.kaniko import convert
from tests.conftest import FIXTURES

# Real-builder equivalence: buildah builds the BuildKit original and the converted file
# from the same tiny busybox base, and the two root filesystems must match file by file
# (path, type, mode, owner, content hash or link target). Timestamps are never compared.
# Ignored: the paths each case's mounts provided (bind targets, cache and tmpfs targets,
# everything under them, and the parent directories the builder creates for them), since
# BuildKit keeps their content out of the image and the converted file cannot.
# buildah 1.28 rejects COPY --link, RUN --network, tmpfs size= and sharing=private, so
# the original is built without them (_for_buildah); they do not change the files. It has
# no heredocs either: heredoc cases build only the converted file and check the files the
# heredocs specify (EXPECTED_FILES).

pytestmark = pytest.mark.slow

CASES_DIR = FIXTURES / "kaniko"
BASE = "localhost/cigen-busybox:1.0"

COMPARED = {
    "bind-context-workdir": ("/app", "/mnt/data"),
    "bind-from-stage": ("/mnt/out", "/mnt/root"),
    "bind-dedup": ("/src",),
    "bind-rw": ("/work",),
    "cache-generic": ("/cache", "/root/.cache/rebar3"),
    "multi-mount-one-run": ("/build/src", "/var/cache/downloads", "/scratch"),
    "tmpfs": ("/scratch",),
    "copy-link-multi-source": (),
    "lowercase-instructions": ("/src",),
}

_SHEBANG = "#!/bin/sh\necho \"hello $1\" 'it'\\''s'\n"
EXPECTED_FILES: dict[str, dict[str, tuple[str, int | None]]] = {
    "heredoc-run-simple": {
        "/greeting.txt": ("hello, world\n", None),
        "/quotes.txt": ('it\'s 100% "quoted"\nback\\slash \\\nafter a blank line\n', None),
        "/quoted.txt": ("quoted delimiter, still run by the shell: world\n", None),
    },
    "heredoc-run-chomp": {
        "/opt/chomp/one.txt": ("tabs stripped\n", None),
        "/opt/chomp/two.txt": ("the shell strips these tabs\n    but keeps these spaces\n", None),
    },
    "heredoc-run-interpreter": {
        "/interpreter.txt": ("run by sh -e as busybox\n", None),
        "/literal.txt": ("$NAME stays literal with a quoted delimiter\n", None),
        "/expanded.txt": ("busybox is expanded by the shell at run time\n", None),
    },
    "heredoc-run-multiple": {
        "/multi/file1": ("I am\nfirst\n", None),
        "/multi/file2": ("I am\nsecond\n", None),
    },
    "heredoc-run-shebang": {"/shebang.txt": ("shebang\n", None)},
    "heredoc-copy": {
        "/etc/motd": ("Welcome to cigen's test image.\n100% literal, no variables here.\n", 0o644),
        "/usr/local/bin/hello": (_SHEBANG, 0o755),
        "/etc/conf.d/ONE": ("one=1\n", 0o644),
        "/etc/conf.d/TWO": ("two=$2\n", 0o644),
        "/hello.txt": ("hello world it's\n", None),
    },
    "heredoc-copy-user": {"/home/app/settings.ini": ("[app]\nname = demo\n", 0o644)},
    # buildah 1.28 cannot resolve relative mount targets, so this one checks the files only
    "bind-relative-workdir": {
        "/srv/app-total.txt": ("4\n5\n", None),
        "/srv/hello-copy.txt": ("hello\n", None),
    },
    "copy-parents": {
        "/dst/a/b/c.txt": ("c\n", None),
        "/dst/d/e/f.txt": ("f\n", None),
        "/pivot/y/z.txt": ("z\n", None),
    },
}


class Buildah:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0
        self.storage = ["buildah", "--root", f"{root}/root", "--runroot", f"{root}/run"]
        self.storage += ["--storage-driver", "vfs"]

    def __call__(self, *args: str) -> str:
        command = [*self.storage, *args]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def build(self, dockerfile: str, context: Path) -> str:
        self.count += 1
        tag = f"localhost/cigen-kaniko-test:{self.count}"
        path = self.root / f"Dockerfile.{self.count}"
        path.write_text(dockerfile)
        self(
            "build",
            "--isolation",
            "chroot",
            "--pull=never",
            "-f",
            f"{path}",
            "-t",
            tag,
            f"{context}",
        )
        return tag


@pytest.fixture(scope="session")
def buildah(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Buildah]:
    if shutil.which("buildah") is None:
        if os.environ.get("CI"):
            pytest.fail("buildah is not installed; CI must run the builder equivalence tests")
        pytest.skip("buildah is not installed")
    tool = Buildah(tmp_path_factory.mktemp("buildah"))
    context = tmp_path_factory.mktemp("base")
    shutil.copy("/bin/busybox", context / "busybox")
    (context / "Dockerfile").write_text(
        "FROM scratch\n"
        "COPY busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        "RUN mkdir -m 1777 /tmp\n"
    )
    tool("build", "--isolation", "chroot", "-t", BASE, str(context))
    yield tool
    subprocess.run([*tool.storage, "rm", "--all"], capture_output=True, check=False)


def _for_buildah(original: str) -> str:
    """Drop what buildah 1.28 rejects in the original; none of it changes the files."""
    original = re.sub(r"--link(=\S+)?\s+", "", original)
    original = re.sub(r"--network=\S+\s*(\\\n\s*)?", "", original)
    original = re.sub(r",size=\w+", "", original)
    return original.replace("sharing=private", "sharing=locked")


def _context(name: str, tmp_path: Path) -> Path:
    context = CASES_DIR / name / "context"
    return context if context.is_dir() else tmp_path


Entry = tuple[object, ...]


def _snapshot(buildah: Buildah, tag: str, ignored: tuple[str, ...]) -> dict[str, Entry]:
    container = buildah("from", "--pull=never", tag).strip()
    try:
        root = Path(buildah("mount", container).strip())
        return {path: entry for path, entry in _walk(root) if not _ignored(path, entry, ignored)}
    finally:
        buildah("rm", container)


def _ignored(path: str, entry: tuple[object, ...], ignored: tuple[str, ...]) -> bool:
    inside = any(path == i or path.startswith(i + "/") for i in ignored)
    parent = entry[0] == stat.S_IFDIR and any(i.startswith(path + "/") for i in ignored)
    return inside or parent


def _walk(root: Path) -> Iterator[tuple[str, tuple[object, ...]]]:
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            full = Path(directory, name)
            yield "/" + str(full.relative_to(root)), _entry(full)


def _entry(path: Path) -> tuple[object, ...]:
    info = path.lstat()
    kind = stat.S_IFMT(info.st_mode)
    if stat.S_ISLNK(info.st_mode):
        detail: object = os.readlink(path)
    elif stat.S_ISREG(info.st_mode):
        detail = hashlib.sha256(path.read_bytes()).hexdigest()
    else:
        detail = None
    return (kind, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, detail)


@pytest.mark.parametrize("name", sorted(COMPARED))
def test_converted_builds_the_same_image(name: str, buildah: Buildah, tmp_path: Path) -> None:
    original = (CASES_DIR / name / "Dockerfile").read_text()
    context = _context(name, tmp_path)
    before = _snapshot(buildah, buildah.build(_for_buildah(original), context), COMPARED[name])
    after = _snapshot(buildah, buildah.build(convert(original).text, context), COMPARED[name])
    assert before == after


@pytest.mark.parametrize("name", sorted(EXPECTED_FILES))
def test_converted_files_match(name: str, buildah: Buildah, tmp_path: Path) -> None:
    converted = convert((CASES_DIR / name / "Dockerfile").read_text()).text
    files = _snapshot(buildah, buildah.build(converted, _context(name, tmp_path)), ())
    tag = f"localhost/cigen-kaniko-test:{buildah.count}"
    container = buildah("from", "--pull=never", tag).strip()
    try:
        root = Path(buildah("mount", container).strip())
        for path, (content, mode) in EXPECTED_FILES[name].items():
            assert (root / path.lstrip("/")).read_text() == content, path
            if mode is not None:
                assert files[path][1] == mode, path
        assert not list((root / "tmp").iterdir()), "the converted build left files in /tmp"
    finally:
        buildah("rm", container)
