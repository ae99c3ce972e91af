from __future__ import annotations

import shlex
from typing import NamedTuple

# The runner's user and group: fixed ids so that `USER` can be numeric (Kubernetes'
# runAsNonRoot can only verify a numeric user) and file ownership is the same on every build.
USER_NAME = "app"
USER_ID = 10001

# One shared cache per package manager: sharing=locked because apk and apt lock their own
# databases and two concurrent builds must not write the same cache at once.
_APK_CACHE = "type=cache,id=apk,sharing=locked,target=/var/cache/apk"
_APT_LISTS = "type=cache,id=apt-lists,sharing=locked,target=/var/lib/apt/lists"
_APT_CACHE = "type=cache,id=apt,sharing=locked,target=/var/cache/apt"


class Run(NamedTuple):
    """One RUN instruction: its --mount values and its shell command."""

    mounts: tuple[str, ...]
    command: str


def install(os: str, packages: tuple[str, ...], *, link_apk_cache: bool = True) -> Run:
    """Install OS packages with the package manager's cache on a cache mount."""
    names = " ".join(shlex.quote(p) for p in packages)  # `pkg>=1.2` must not become a redirect
    if os == "alpine":
        # apk caches packages only when /etc/apk/cache exists; linking it to the mount turns
        # the cache on. A stage built on one that already made the link must not make it again.
        link = "ln -s /var/cache/apk /etc/apk/cache && " if link_apk_cache else ""
        return Run((_APK_CACHE,), f"{link}apk add --update {names}")
    # docker-clean makes apt delete what it downloads, which would leave the cache empty.
    command = ("rm -f /etc/apt/apt.conf.d/docker-clean && apt-get update"
               f" && apt-get install -y --no-install-recommends {names}")
    return Run((_APT_LISTS, _APT_CACHE), command)


def add_user(os: str) -> Run:
    """Create the runner's unprivileged user and group, with no home and no login."""
    name, uid = USER_NAME, USER_ID
    if os == "alpine":
        command = f"addgroup -S -g {uid} {name} && adduser -S -D -H -u {uid} -G {name} {name}"
    else:
        # Not --system: useradd warns about a system uid above SYS_UID_MAX. --no-log-init
        # keeps a high uid from growing /var/log/lastlog into a huge sparse file.
        command = (f"groupadd --gid {uid} {name}"
                   f" && useradd --no-log-init --no-create-home --uid {uid} --gid {name} {name}")
    return Run((), command)


def release_tools(os: str) -> tuple[str, ...]:
    """Packages the releaser adds to unpack the release tarball."""
    # GNU tar on Alpine, as the chapter's releaser has it: busybox tar reads the pax headers
    # erl_tar writes for long paths only when busybox was built with its GNU extensions.
    return ("tar",) if os == "alpine" else ()
