from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# One build may fetch Debian packages and copy ~200 MB layers (vfs); a hung build must fail.
BUILD_TIMEOUT = 1200
_STEP = re.compile(r"^(?:\[\d+/\d+\] )?STEP \d+/\d+: (.*)$")
_CACHED = "--> Using cache "


class BuildahError(AssertionError):
    pass


@dataclass(frozen=True)
class Step:
    instruction: str  # as buildah prints it: continuation lines joined
    cached: bool


@dataclass(frozen=True)
class Buildah:
    """buildah with its own storage under `root`: vfs, chroot isolation, no daemon."""

    root: Path

    @property
    def storage(self) -> list[str]:
        return ["buildah", "--root", str(self.root / "storage"), "--runroot",
                str(self.root / "run"), "--storage-driver", "vfs"]

    @property
    def env(self) -> dict[str, str]:
        # buildah keeps RUN --mount=type=cache folders under $TMPDIR/buildah-cache.
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        return {**os.environ, "TMPDIR": str(self.root / "tmp")}

    def __call__(self, *args: str, timeout: float = 300) -> str:
        """Run a buildah command; its stdout, or an error holding all it printed."""
        command = [*self.storage, *args]
        done = subprocess.run(  # noqa: S603
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=self.env,
            timeout=timeout, check=False,
        )
        if done.returncode != 0:
            raise BuildahError(f"{' '.join(command)} exited {done.returncode}\n"
                               f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}")
        return done.stdout

    def build(self, context: Path, dockerfile: Path, tag: str, target: str,
              build_args: Sequence[str] = (), options: Sequence[str] = ()) -> str:
        """Build with the layer cache on; what buildah printed, steps and cache hits included.
        `options` go to `buildah build` as they are (e.g. --secret, --ssh)."""
        args = [f"--build-arg={arg}" for arg in build_args]
        return self("build", "--isolation", "chroot", "--layers", "--pull=never", *args, *options,
                    "--file", str(dockerfile), "--target", target, "--tag", tag, str(context),
                    timeout=BUILD_TIMEOUT)

    def has_image(self, name: str) -> bool:
        try:
            self("inspect", "--type", "image", name)
        except BuildahError:
            return False
        return True

    def is_manifest_list(self, name: str) -> bool:
        try:
            self("manifest", "exists", name)
        except BuildahError:
            return False
        return True

    def label(self, image: str, key: str) -> str:
        return self("inspect", "--type", "image", "--format",
                    f'{{{{index .OCIv1.Config.Labels "{key}"}}}}', image).strip()

    def user(self, image: str) -> str:
        return self("inspect", "--type", "image", "--format", "{{.OCIv1.Config.User}}",
                    image).strip()

    def image_id(self, image: str) -> str:
        return self("inspect", "--type", "image", "--format", "{{.FromImageID}}", image).strip()

    def prune(self, keep: Sequence[str]) -> None:
        """Forget every container and every image but `keep`: the next build starts cold."""
        self("rm", "--all")
        names = self("images", "--noheading", "--format", "{{.Name}}:{{.Tag}}").split()
        drop = [n for n in names if n not in keep and not n.startswith("<none>")]
        # A manifest list goes by `manifest rm`: `rmi --force` of a list also removed the images
        # it lists (buildah 1.28.2, seen here), base images included.
        lists = [n for n in drop if self.is_manifest_list(n)]
        if lists:
            self("manifest", "rm", *lists)
        drop = [n for n in drop if n not in lists]
        if drop:
            self("rmi", "--force", *drop)
        self("rmi", "--prune", "--force")


def steps(output: str) -> list[Step]:
    """The build's steps in order, each marked with whether buildah reused a cached layer."""
    found: list[Step] = []
    for line in output.splitlines():
        match = _STEP.match(line)
        if match:
            found.append(Step(match.group(1), cached=False))
        elif line.startswith(_CACHED) and found:
            found[-1] = Step(found[-1].instruction, cached=True)
    return found
