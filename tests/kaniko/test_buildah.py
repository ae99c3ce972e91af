from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from cigen.kaniko import convert
from cigen.kaniko.executor import UPSTREAM, from_image
from cigen.schema import static_default
from tests.conftest import FIXTURES
from tests.e2e import builds, storage
from tests.e2e.compat import for_buildah
from tests.e2e.release import container, release_files
from tests.helpers import load_project
from tests.helpers import texts as rendered

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
# Each case is converted for upstream Kaniko and for the fork Cloud Build runs by default
# (cloudbuild.kaniko_image), whose variant keeps cache and context bind mounts: buildah
# mounts those as BuildKit does. A fork variant that keeps a heredoc cannot be built here
# (buildah 1.28 has none); its cases are left out (FORK_HEREDOCS), checked by the parser and
# hadolint in test_kaniko.py.
# At the end, both variants of the e2e fixture are built from Debian packages, and their
# releases must hold the same files.

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


FORK = from_image(static_default("cloudbuild.kaniko_image"))
assert FORK is not None
EXECUTORS = {"upstream": UPSTREAM, "fork": FORK}


def _keeps_heredocs(name: str) -> bool:
    text = convert((CASES_DIR / name / "Dockerfile").read_text(), executor=FORK).text
    return "<<" in text


FORK_HEREDOCS = frozenset(name for name in EXPECTED_FILES if _keeps_heredocs(name))


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


@pytest.mark.parametrize("executor", sorted(EXECUTORS))
@pytest.mark.parametrize("name", sorted(COMPARED))
def test_converted_builds_the_same_image(
    name: str, executor: str, buildah: Buildah, tmp_path: Path
) -> None:
    original = (CASES_DIR / name / "Dockerfile").read_text()
    context = _context(name, tmp_path)
    converted = convert(original, executor=EXECUTORS[executor]).text
    before = _snapshot(buildah, buildah.build(_for_buildah(original), context), COMPARED[name])
    after = _snapshot(buildah, buildah.build(_for_buildah(converted), context), COMPARED[name])
    assert before == after


@pytest.mark.parametrize(("name", "executor"), [
    (name, executor) for name in sorted(EXPECTED_FILES) for executor in sorted(EXECUTORS)
    if executor == "upstream" or name not in FORK_HEREDOCS
])
def test_converted_files_match(name: str, executor: str, buildah: Buildah,
                               tmp_path: Path) -> None:
    text = (CASES_DIR / name / "Dockerfile").read_text()
    converted = _for_buildah(convert(text, executor=EXECUTORS[executor]).text)
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


# Both variants of the e2e fixture (fixtures/e2e: a rebar3 release on Debian bookworm's own
# Erlang, base images made from Debian packages, tests/e2e/storage.py): the one for upstream
# Kaniko copies the source in and drops the caches, the one for the fork binds and mounts
# them; buildah builds each (the fork's mounts bridged for buildah 1.28 like the BuildKit
# file's, tests/e2e/compat.py) and both releases must hold the same files.
E2E = FIXTURES / "e2e"
VARIANT = "ci/Dockerfile.cb"


def test_both_variants_of_a_fixture_build_the_same_release(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project = load_project(E2E / "cigen.yaml")
    cb = project.cloudbuild
    texts = {name: rendered(replace(project, cloudbuild=replace(
        cb, kaniko_features=executor.features)), "cloudbuild")[VARIANT]
        for name, executor in EXECUTORS.items()}
    assert texts["fork"] == (E2E / VARIANT).read_text()  # the default executor's, committed
    assert "--mount" not in texts["upstream"]
    assert "COPY . /app/src" in texts["upstream"]
    assert "--mount=target=/app/src" in texts["fork"]
    assert for_buildah(texts["fork"], "d") != texts["fork"]  # what the bridge is for
    assert project.image.runner is not None
    with storage.shared(project.image.base, project.image.runner) as tool:
        workspace = builds.workspace(E2E, tmp_path_factory.mktemp("variants") / "greeter")
        files = {}
        for name, text in texts.items():
            built = builds.kaniko(tool, project, workspace, f"localhost/cigen-e2e/greeter:{name}",
                                  text)
            with container(tool, built.image) as (_, root):
                files[name] = release_files(root, project.name)
    assert f"bin/{project.name}" in files["upstream"]
    assert [path for path in files["upstream"] if path.startswith("erts-")]
    assert sorted(files["upstream"]) == sorted(files["fork"])
    differ = sorted(p for p in files["upstream"] if files["upstream"][p] != files["fork"][p])
    assert not differ, {p: (files["upstream"][p], files["fork"][p]) for p in differ}
