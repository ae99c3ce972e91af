from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests import oracles
from tests.e2e import images
from tests.e2e.buildah import Buildah

# The buildah storage the image-build tests share, in ~/.cache/cigen-e2e (or $CIGEN_E2E_CACHE):
# One storage, folders and lock for every end-to-end build (tests/test_e2e_build.py and
# tests/test_e2e_private.py), so the base images (mmdebstrap tarballs and their imports) are
# made once and serve them all.


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("CIGEN_E2E_CACHE") or Path(base) / "cigen-e2e")


@contextmanager
def shared(base: str, runner: str, more: Sequence[images.BaseImage] = ()) -> Iterator[Buildah]:
    """The storage, locked for this run, pruned down to the base images (made if missing) on
    entry and on exit: each run's builds start cold, and ~10 GB of vfs layers do not stay.
    `more`: base images one test needs besides the two (another run's pruning drops them)."""
    for name in ("buildah", "mmdebstrap", "git"):
        oracles.tool(name)
    cache = cache_root()
    cache.mkdir(parents=True, exist_ok=True)
    keep = [base, runner, *(image.tag for image in more)]
    with (cache / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one run at a time owns the cached storage
        tool = Buildah(cache / "buildah")
        tool.prune(keep)
        shutil.rmtree(tool.root / "tmp" / "buildah-cache", ignore_errors=True)  # cold mounts
        sources = images.mirrors()
        images.ensure(tool, images.builder(base), sources, cache / "rootfs")
        images.ensure(tool, images.runner(runner), sources, cache / "rootfs")
        for image in more:
            images.ensure(tool, image, sources, cache / "rootfs")
        try:
            yield tool
        finally:
            tool.prune(keep)
