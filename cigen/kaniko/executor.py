from __future__ import annotations

import re
from dataclasses import dataclass

from cigen import refs

# What each Kaniko executor builds beyond upstream Kaniko, by its version. Facts from
# osscontainertools/kaniko (CHANGELOG.md, README.md and the code at each tag named):
# - cache mounts: on by default since v1.26.0 ("activated" FF_KANIKO_RUN_MOUNT_CACHE, CHANGELOG
#   v1.26.0); up to v1.26.2 the cache is keyed by the target alone and id, mode, uid and gid
#   are ignored (pkg/commands/run.go at v1.26.2); v1.26.3 reads them ("cache mount option
#   implements additional flags", #390; run.go at v1.26.3). `sharing` is never read, and is
#   moot: the executor runs one RUN at a time. from=, source= and readonly are not read either.
# - context bind mounts: on by default since v1.28.0 (FF_KANIKO_RUN_MOUNT_BIND, CHANGELOG
#   v1.28.0); `from=<stage>` is skipped with a warning, and the bound files join the layer
#   cache key (run.go at v1.28.0: runCmdFilesUsedFromContext).
# - heredocs: parsed since v1.25.4 (CHANGELOG), but a RUN or COPY heredoc's body joined the
#   layer cache key only in v1.28.1 (#823, #825; integration/dockerfiles/Dockerfile_test_issue_
#   mz824: "on v1.28.0 a RUN heredoc body is omitted from the cache key"). Cloud Build runs
#   the executor with --cache=true, so before v1.28.1 an edited heredoc could reuse a stale
#   layer: heredocs are kept from v1.28.1.
# - relative mount targets: the executor runs from / (cmd/executor/cmd/root.go: os.Chdir("/"))
#   and mounts the target as written, where BuildKit resolves it against WORKDIR.
_CACHE_MOUNTS = (1, 26, 0)
_CACHE_OPTIONS = (1, 26, 3)
_BIND_MOUNTS = (1, 28, 0)
_HEREDOCS = (1, 28, 1)

# The fork's images: ghcr.io and, per its README.md, Docker Hub's martizih/kaniko. Release tags
# are vX.Y.Z and vX.Y.Z-<variant> (.github/workflows/images.yaml: "Apply release tags").
_FORK_REPOS = frozenset({("ghcr.io", "osscontainertools/kaniko"), ("docker.io", "martizih/kaniko")})
_FORK_TAG = re.compile(r"v(\d+)\.(\d+)\.(\d+)(?:-(?:debug|slim|alpine))?")
_UPSTREAM_REPO = ("gcr.io", "kaniko-project/executor")
FORK_NAME = "osscontainertools"
_FEATURES = re.compile(rf"{FORK_NAME}-v(\d+)\.(\d+)\.(\d+)")

Version = tuple[int, int, int]


@dataclass(frozen=True)
class Executor:
    """The Kaniko executor a variant is written for; `version` None: upstream Kaniko."""

    version: Version | None = None

    @property
    def name(self) -> str:
        if self.version is None:
            return "upstream Kaniko"
        return f"osscontainertools/kaniko v{'.'.join(map(str, self.version))}"

    @property
    def features(self) -> str:
        """The descriptor's spelling (cloudbuild.kaniko_features)."""
        if self.version is None:
            return "upstream"
        return f"{FORK_NAME}-v{'.'.join(map(str, self.version))}"

    def _since(self, version: Version) -> bool:
        return self.version is not None and self.version >= version

    @property
    def cache_mounts(self) -> bool:
        return self._since(_CACHE_MOUNTS)

    @property
    def cache_options(self) -> bool:
        """id, mode, uid and gid of a cache mount."""
        return self._since(_CACHE_OPTIONS)

    @property
    def bind_mounts(self) -> bool:
        """RUN --mount=type=bind of the build context."""
        return self._since(_BIND_MOUNTS)

    @property
    def heredocs(self) -> bool:
        return self._since(_HEREDOCS)

    def covers(self, other: Executor) -> bool:
        """Whether this executor builds every variant written for `other`."""
        return other.version is None or (self.version is not None and self.version >= other.version)


UPSTREAM = Executor()


def parse_features(text: str) -> Executor:
    """`upstream` or `osscontainertools-vX.Y.Z` (the schema checks the spelling)."""
    match = _FEATURES.fullmatch(text)
    if match is None:
        return UPSTREAM
    return Executor((int(match[1]), int(match[2]), int(match[3])))


def from_image(image: str) -> Executor | None:
    """The executor an image reference names; None when it cannot tell (a mirror, a digest
    alone, a tag that is no release such as latest)."""
    try:
        ref = refs.parse(image)
    except ValueError:
        return None
    if (ref.domain, ref.path) == _UPSTREAM_REPO:
        return UPSTREAM
    if (ref.domain, ref.path) not in _FORK_REPOS or ref.tag is None:
        return None
    match = _FORK_TAG.fullmatch(ref.tag)
    if match is None:
        return None
    return Executor((int(match[1]), int(match[2]), int(match[3])))


def choose(image: str, features: str | None) -> Executor:
    """The executor the variant is written for: `features` when given, else what the image
    names, else upstream Kaniko, which every executor builds."""
    if features is not None:
        return parse_features(features)
    return from_image(image) or UPSTREAM
