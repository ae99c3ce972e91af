from __future__ import annotations

import collections
import contextlib
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.helpers import load_project, texts

PROJECT = "service_discovery"
QUICK_KILLS, FULL_KILLS = 15, 240
TEMP = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")  # files.py's temp files: .<name>.XXXXXXXX.tmp


class Outputs:
    """A project whose every output is stale: `old` was rendered from another descriptor name
    (the marker line names it), `new` is what `cigen render` writes now."""

    def __init__(self, root: Path) -> None:
        shutil.copytree(FIXTURES / PROJECT, root)
        self.root, self.config = root, root / "cigen.yaml"
        shutil.copy(self.config, root / "old.yaml")
        self.old = self._rendered(root / "old.yaml")
        self.new = self._rendered(self.config)
        assert all(self.old[p] != self.new[p] for p in self.new)

    @staticmethod
    def _rendered(config: Path) -> dict[str, str]:
        project = load_project(config)
        return texts(project)

    def make_stale(self) -> None:
        for rel, text in self.old.items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, "utf-8")

    def state(self) -> dict[str, str]:
        """Each output: "old", "new", or what else it holds (a failure)."""
        found = {}
        for rel in self.new:
            text = (self.root / rel).read_text("utf-8")
            found[rel] = {self.old[rel]: "old", self.new[rel]: "new"}.get(text, repr(text[:80]))
        return found

    def temp_files(self) -> list[Path]:
        return [p for p in self.root.rglob("*") if TEMP.fullmatch(p.name)]


def cigen(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cigen", *map(str, args)], capture_output=True,
                          text=True, check=False)


def start_render(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "cigen", "render", "-c", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# --- SIGKILL at random points: every output is old or new, never a mix within a file ---


def render_seconds(outputs: Outputs) -> float:
    times = []
    for _ in range(3):
        outputs.make_stale()
        start = time.monotonic()
        start_render(outputs.config).wait()
        times.append(time.monotonic() - start)
    return sorted(times)[1]


def kill_renders(outputs: Outputs, kills: int, seed: int = 11) -> collections.Counter[str]:
    """Kill `kills` renders, most near the end of their run, where the files are written."""
    rng, whole = random.Random(seed), render_seconds(outputs)
    seen: collections.Counter[str] = collections.Counter()
    for _ in range(kills):
        outputs.make_stale()
        delay = rng.uniform(0.6, 1.1) * whole if rng.random() < 0.8 else rng.uniform(0, whole)
        render = start_render(outputs.config)
        time.sleep(delay)
        render.kill()
        render.wait()
        states = outputs.state()
        assert set(states.values()) <= {"old", "new"}, states
        seen["all new" if set(states.values()) == {"new"} else
             "all old" if set(states.values()) == {"old"} else "some new"] += 1
        left = outputs.temp_files()
        seen["killed while staging (temp files left)"] += bool(left)
        for path in left:
            path.unlink()
    return seen


def test_a_killed_render_leaves_whole_files(tmp_path: Path) -> None:
    outputs = Outputs(tmp_path / PROJECT)
    seen = kill_renders(outputs, QUICK_KILLS)
    assert sum(seen[k] for k in ("all new", "all old", "some new")) == QUICK_KILLS


@pytest.mark.slow
def test_hundreds_of_killed_renders_leave_whole_files(tmp_path: Path) -> None:
    outputs = Outputs(tmp_path / PROJECT)
    seen = kill_renders(outputs, FULL_KILLS)
    print(f"\n{FULL_KILLS} renders killed: {dict(seen)}")
    assert seen["all old"], seen  # the kills spanned the whole run: some before any write,
    assert seen["all new"], seen  # some after the last


def test_render_removes_the_temp_files_a_killed_render_left(tmp_path: Path) -> None:
    outputs = Outputs(tmp_path / PROJECT)
    outputs.make_stale()
    stale = outputs.root / "ci" / ".build_images.sh.abcd_123.tmp"
    fresh = outputs.root / ".circleci" / ".config.yml.xyz_7890.tmp"  # a render running now
    other = outputs.root / "ci" / ".notes.txt.abcd_123.tmp"  # not a name cigen writes
    for path in (stale, fresh, other):
        path.write_text("partial")
    os.utime(stale, (time.time() - 120, time.time() - 120))
    os.utime(other, (time.time() - 120, time.time() - 120))
    assert cigen("render", "-c", outputs.config).returncode == 0
    assert set(outputs.temp_files()) == {fresh, other}
    assert set(outputs.state().values()) == {"new"}


# --- an unwritable place: a clear exit 2, and no output touched ---


@contextlib.contextmanager
def mounted(*args: str, then: tuple[str, ...] = ()) -> Iterator[None]:
    """`mount ARGS...` (and `mount THEN...`, a remount) for the block; skipped where this
    process may not mount (it takes root)."""
    proc = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount here: {proc.stderr.strip()}")
    try:
        if then:
            subprocess.run(["mount", *then], check=True)
        yield
    finally:
        subprocess.run(["umount", args[-1]], check=True)


def assert_refused(outputs: Outputs, message: str) -> None:
    """render exits 2 with `message`, no traceback; every output as it was; no temp files."""
    before = outputs.state()
    proc = cigen("render", "-c", outputs.config)
    assert proc.returncode == 2, proc
    assert re.search(message, proc.stderr), proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    after = {rel: state for rel, state in outputs.state().items() if rel in before}
    assert after == before
    assert outputs.temp_files() == []


def test_a_read_only_folder_is_a_clear_error(tmp_path: Path) -> None:
    outputs = Outputs(tmp_path / PROJECT)
    outputs.make_stale()
    ci = str(outputs.root / "ci")
    with mounted("--bind", ci, ci, then=("-o", "remount,bind,ro", ci)):
        assert_refused(outputs, r"^ci/[^:]+: cannot write: Read-only file system$")


def test_a_full_disk_is_a_clear_error(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    with mounted("-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)):
        outputs = Outputs(disk / PROJECT)
        outputs.make_stale()
        with contextlib.suppress(OSError), open(disk / "filler", "wb", buffering=0) as filler:
            while True:
                filler.write(b"\0" * 4096)
        assert_refused(outputs, r": cannot write: No space left on device")
        (disk / "filler").unlink()
        assert cigen("render", "-c", outputs.config).returncode == 0
        assert set(outputs.state().values()) == {"new"}


@pytest.mark.parametrize(("rel", "message"), [
    ("ci/build_images.sh", r"ci/build_images\.sh: is a folder; cigen writes a file there"),
    (".circleci/config.yml", r"\.circleci/config\.yml: is a folder"),
])
def test_a_folder_where_an_output_goes_is_a_clear_error(tmp_path: Path, rel: str,
                                                        message: str) -> None:
    outputs = Outputs(tmp_path / PROJECT)
    outputs.make_stale()
    (outputs.root / rel).unlink()
    (outputs.root / rel).mkdir()
    (outputs.root / rel / "keep").write_text("a user's file")
    outputs.new.pop(rel)
    assert_refused(outputs, message)
    assert (outputs.root / rel / "keep").read_text() == "a user's file"


def test_a_file_where_an_output_folder_goes_is_a_clear_error(tmp_path: Path) -> None:
    outputs = Outputs(tmp_path / PROJECT)
    outputs.make_stale()
    shutil.rmtree(outputs.root / ".github")
    (outputs.root / ".github").write_text("a user's file")
    outputs.new = {k: v for k, v in outputs.new.items() if not k.startswith(".github/")}
    assert_refused(outputs, r"\.github/workflows/ci\.yml: \.github is a file; cigen needs a "
                            r"folder there")
