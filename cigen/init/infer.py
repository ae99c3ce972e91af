from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cigen import inputs
from cigen.core import printable
from cigen.erlterms import Atom, consult

DEFAULT_OTP = "26.2.5"
HINT_BYTES = 1 << 20  # rebar.config, .tool-versions, a workflow: a few KiB each
_VERSION = re.compile(r"^[0-9]+(?:\.[0-9]+)*$")
_TOOL_VERSIONS = re.compile(r"^erlang[ \t]+([0-9]+(?:\.[0-9]+)*)[ \t]*(?:#.*)?$", re.MULTILINE)
_ERLANG_IMAGE = re.compile(r"\berlang:([0-9]+(?:\.[0-9]+)*)([-\w.]*)")
_GITHUB_OWNER = re.compile(
    r"(?:^|[@/.])github\.com(?::[0-9]+)?[:/]+([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)/"
)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ORG = re.compile(r"[a-z0-9][a-z0-9_-]*")  # as the schema's private.hex_organizations
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")  # as the schema's private.git_hosts
# git@host:path, or ssh://[user@]host[:port]/path
_SSH_URL = re.compile(r"(?:[\w.-]+@([^:/\s]+):(?!//)|ssh://(?:[^@/\s]+@)?([^:/\s]+))")


@dataclass(frozen=True)
class Fact:
    """One inferred value and where it came from; `source` empty: nothing said, a default."""

    value: Any
    source: str = ""

    def __post_init__(self) -> None:
        # The source quotes the repository's files, and becomes a YAML comment and a line of
        # the report: a line break in it would start a key of its own, an escape sequence
        # would drive the terminal. Both are written as escapes instead.
        object.__setattr__(self, "source", printable(self.source))


@dataclass(frozen=True)
class Findings:
    name: Fact
    from_git: Fact  # bool: the release or app version comes from git
    otp: Fact
    os: Fact  # "alpine", "debian", or None when nothing says
    registry: Fact
    user_dockerfile: bool
    targets: Fact  # tuple of target names, or None when no CI file says
    apps: tuple[str, ...]
    umbrella: bool
    private: Fact = Fact(((), ()))  # (Hex organisations, git hosts over SSH)


def infer(root: Path) -> Findings:
    """What the repository at `root` says about its descriptor; reads files and `git config`."""
    terms = consult(_read(root / "rebar.config"))
    app_srcs = sorted(root.glob("apps/*/src/*.app.src")) or sorted(root.glob("src/*.app.src"))
    apps = tuple(p.name.removesuffix(".app.src") for p in app_srcs)
    release = _release(terms)
    return Findings(
        name=_name(release, apps, root),
        from_git=_from_git(release, app_srcs),
        otp=_otp(root),
        os=_os(root),
        registry=_registry(root),
        user_dockerfile=_user_file(root / "Dockerfile"),
        targets=_targets(root),
        apps=apps,
        umbrella=bool(list(root.glob("apps/*/src/*.app.src"))),
        private=_private(terms),
    )


def _private(terms: list[Any]) -> Fact:
    """Hex organisations (hex repos named hexpm:<org>) and the hosts of git dependencies
    fetched over SSH (git@host: or ssh:// URLs), from rebar.config and its profiles."""
    organizations = [name.split(":", 1)[1] for repo in _list(_get(_get(terms, "hex"), "repos"))
                     if isinstance(repo, dict) and isinstance(name := repo.get("name"), str)
                     and name.startswith("hexpm:") and _ORG.fullmatch(name.split(":", 1)[1])]
    sections = [_get(terms, "deps")] + [_get(opts, "deps") for _, opts in
                                        _pairs(_get(terms, "profiles"))]
    hosts = [host for deps in sections for dep in _list(deps)
             if (host := _ssh_host(dep)) is not None]
    found = (tuple(dict.fromkeys(organizations)), tuple(dict.fromkeys(hosts)))
    said = [f"hex repos hexpm:{o}" for o in found[0]] + [f"git deps over SSH on {h}"
                                                         for h in found[1]]
    return Fact(found, f"rebar.config: {', '.join(said)}" if said else "")


def _ssh_host(dep: Any) -> str | None:
    source = dep[1] if isinstance(dep, tuple) and len(dep) >= 2 else None
    if not (isinstance(source, tuple) and len(source) >= 2 and source[0] in ("git", "git_subdir")
            and isinstance(source[1], str)):
        return None
    found = _SSH_URL.match(source[1])
    host = (found.group(1) or found.group(2)) if found else None
    return host if host and _HOST.fullmatch(host) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _user_file(path: Path) -> bool:
    # A Dockerfile cigen wrote (an earlier descriptor's) is not the user's own.
    from cigen.core import is_generated

    return path.is_file() and not is_generated(_read(path))


def _read(path: Path) -> str:
    """A hint file's text; one that is missing, unreadable, huge or no regular file (a FIFO
    would block) gives no hint."""
    try:
        return inputs.read(path, HINT_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _release(terms: list[Any]) -> tuple[Any, Any] | None:
    # The first release in the top-level relx section, else in a profile's relx section.
    sections = [_get(terms, "relx")] + [
        _get(opts, "relx") for _, opts in _pairs(_get(terms, "profiles"))
    ]
    for section in sections:
        for entry in section if isinstance(section, list) else ():
            if (
                isinstance(entry, tuple)
                and len(entry) >= 3
                and entry[0] == "release"
                and isinstance(entry[1], tuple)
                and len(entry[1]) == 2
            ):
                return entry[1][0], entry[1][1]
    return None


def _get(terms: Any, key: str) -> Any:
    for term in terms if isinstance(terms, list) else ():
        if isinstance(term, tuple) and len(term) == 2 and term[0] == key:
            return term[1]
    return None


def _pairs(terms: Any) -> Iterator[tuple[Any, Any]]:
    for term in terms if isinstance(terms, list) else ():
        if isinstance(term, tuple) and len(term) == 2:
            yield term[0], term[1]


def _name(release: tuple[Any, Any] | None, apps: tuple[str, ...], root: Path) -> Fact:
    if release is not None and isinstance(release[0], str):
        return Fact(_atom_name(release[0]), f"rebar.config relx release {release[0]}")
    if len(apps) == 1:
        return Fact(_atom_name(apps[0]), f"the only application, {apps[0]} (no relx release found)")
    return Fact(_atom_name(root.resolve().name), "")


def _atom_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    name = re.sub(r"^[0-9_]+", "", name)
    return name if _NAME.match(name) else "app"


def _from_git(release: tuple[Any, Any] | None, app_srcs: list[Path]) -> Fact:
    if release is not None and _vsn_from_git(release[1]):
        return Fact(True, f"rebar.config relx release version {_show(release[1])}")
    for path in app_srcs:  # an app's {vsn, git} runs git too, whatever the release says
        for term in consult(_read(path)):
            if isinstance(term, tuple) and len(term) == 3 and _vsn_from_git(_get(term[2], "vsn")):
                return Fact(True, f"{path.name}: {{vsn, git}}")
    if release is not None and isinstance(release[1], str) and not isinstance(release[1], Atom):
        return Fact(False, f'rebar.config relx release version "{release[1]}"')
    return Fact(None)


def _vsn_from_git(vsn: Any) -> bool:
    head = vsn[0] if isinstance(vsn, tuple) and vsn else vsn
    if isinstance(head, Atom) and head in ("git", "semver"):
        return True
    return head == "cmd" and isinstance(vsn, tuple) and len(vsn) > 1 and "git" in str(vsn[1])


def _show(term: Any) -> str:
    if isinstance(term, tuple):
        return "{" + ", ".join(_show(t) for t in term) + "}"
    return f'"{term}"' if isinstance(term, str) and not isinstance(term, Atom) else str(term)


def _otp(root: Path) -> Fact:
    found = _TOOL_VERSIONS.search(_read(root / ".tool-versions"))
    if found:
        return Fact(found.group(1), ".tool-versions")
    for path in _workflows(root):
        version = _setup_beam_otp(path)
        if version:
            return Fact(version, f"{path.relative_to(root)} (setup-beam otp-version)")
    for rel in (".circleci/config.yml", "Dockerfile"):
        image = _ERLANG_IMAGE.search(_read(root / rel))
        if image:
            return Fact(image.group(1), f"{rel} (erlang:{image.group(1)}{image.group(2)})")
    return Fact(DEFAULT_OTP)


def _workflows(root: Path) -> list[Path]:
    folder = root / ".github" / "workflows"
    return sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])


def _setup_beam_otp(path: Path) -> str | None:
    from cigen.yamlio import load_plain

    try:
        workflow = load_plain(_read(path))
    except Exception:  # noqa: BLE001 (someone else's file: unreadable means no answer)
        return None
    jobs = workflow.get("jobs") if isinstance(workflow, dict) else None
    for job in jobs.values() if isinstance(jobs, dict) else ():
        for step in (job.get("steps") or []) if isinstance(job, dict) else ():
            if isinstance(step, dict) and str(step.get("uses", "")).startswith("erlef/setup-beam"):
                version = _otp_value((step.get("with") or {}).get("otp-version"), job)
                if version:
                    return version
    return None


def _otp_value(value: Any, job: dict[str, Any]) -> str | None:
    matrix_key = re.search(r"matrix\.([\w-]+)", str(value))
    if matrix_key:  # `${{ matrix.otp }}`: the newest version of the matrix
        matrix = (job.get("strategy") or {}).get("matrix") or {}
        values = [str(v) for v in matrix.get(matrix_key.group(1)) or [] if _VERSION.match(str(v))]
        return max(values, key=lambda v: tuple(map(int, v.split("."))), default=None)
    text = str(value) if value is not None else ""
    return text if _VERSION.match(text) else None


def _os(root: Path) -> Fact:
    for rel in ("Dockerfile", ".circleci/config.yml"):
        image = _ERLANG_IMAGE.search(_read(root / rel))
        if image:
            os = "alpine" if "alpine" in image.group(2) else "debian"
            return Fact(os, f"{rel} (erlang:{image.group(1)}{image.group(2)})")
    return Fact(None)


def _registry(root: Path) -> Fact:
    try:
        url = subprocess.run(  # noqa: S603 (fixed argv, no shell)
            ["git", "-C", str(root), "config", "--get", "remote.origin.url"],  # noqa: S607 (git from PATH, as the user runs it)
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        url = ""
    return registry_from_remote(url)


def registry_from_remote(url: str) -> Fact:
    """ghcr.io/<owner> for a GitHub remote in any of its URL forms; a placeholder otherwise."""
    owner = _GITHUB_OWNER.search(url)
    if owner:
        # Printed, so never the URL itself: an https remote may carry a token.
        return Fact(
            f"ghcr.io/{owner.group(1).lower()}", f"git remote origin (github.com/{owner.group(1)})"
        )
    return Fact("ghcr.io/your-org")


def _targets(root: Path) -> Fact:
    found = {
        "circleci": ".circleci/config.yml" if (root / ".circleci" / "config.yml").is_file() else "",
        "github": ".github/workflows" if _workflows(root) else "",
        "cloudbuild": "cloudbuild.yaml" if (root / "cloudbuild.yaml").is_file() else "",
    }
    chosen = {name: path for name, path in found.items() if path}
    if not chosen:
        return Fact(None)
    return Fact(tuple(chosen), "the CI this repository uses now: " + ", ".join(chosen.values()))
