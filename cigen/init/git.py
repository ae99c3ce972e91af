"""What git says, read-only: the default branch, the origin remote, what it ignores."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from cigen.init.facts import Fact, Seen

_GITHUB = re.compile(
    r"(?:^|[@/.])github\.com(?::[0-9]+)?[:/]+([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)/"
    r"([A-Za-z0-9._-]+?)(?:\.git)?/*$"
)


def run(root: Path, *args: str) -> str | None:
    """What a read-only git command prints, or None when it fails (no git, not a repository,
    a ref or key that is not there)."""
    try:
        done = subprocess.run(  # noqa: S603 (fixed argv, no shell)
            ["git", "-C", str(root), *args],  # noqa: S607 (git from PATH, as the user runs it)
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def default_branch(root: Path) -> tuple[Seen | None, Seen | None]:
    """(origin/HEAD, the branch checked out). `git clone` sets origin/HEAD to the remote's
    default branch; a fresh `git init`, or a remote added by hand (`git remote add` and
    `fetch`), leaves it unset. Seen with git 2.39: symbolic-ref exits 1 for a ref that is not
    symbolic (a detached HEAD) or absent, 128 outside a repository."""
    remote = run(root, "symbolic-ref", "--quiet", "refs/remotes/origin/HEAD") or ""
    local = run(root, "symbolic-ref", "--quiet", "HEAD") or ""
    return (
        Seen(remote.removeprefix("refs/remotes/origin/"), "git: origin/HEAD")
        if remote.startswith("refs/remotes/origin/") else None,
        Seen(local.removeprefix("refs/heads/"), "git: the branch checked out (no origin/HEAD)")
        if local.startswith("refs/heads/") else None,
    )


def github_repository(root: Path) -> tuple[str, str] | None:
    """(owner, repository) of a GitHub origin remote, in any of its URL forms."""
    found = _GITHUB.search(run(root, "config", "--get", "remote.origin.url") or "")
    return (found.group(1), found.group(2)) if found else None


def registry_from_remote(url: str) -> Fact:
    """ghcr.io/<owner> for a GitHub remote in any of its URL forms; a placeholder otherwise."""
    found = _GITHUB.search(url)
    if found:
        # Printed, so never the URL itself: an https remote may carry a token.
        return Fact(f"ghcr.io/{found.group(1).lower()}",
                    f"git remote origin (github.com/{found.group(1)})")
    return Fact("ghcr.io/your-org")


def ignores(root: Path, rel: str) -> bool:
    """Whether git ignores `rel` (git check-ignore exits 0 for an ignored path, present or
    not, and 1 for a tracked one, which ignore rules skip)."""
    return run(root, "check-ignore", "-q", rel) is not None
