from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cigen import inputs
from cigen.core import printable
from cigen.erlterms import Atom, ErlangSyntaxError, consult, consult_strict
from cigen.errors import CigenError

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
# as the schema's $defs.branch (a test holds the two equal)
BRANCH = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*@\{)(?!-)[A-Za-z0-9._/-]+(?<!/)(?<!\.lock)$")
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
    releases: tuple[str, ...] = ()  # the relx release names, the chosen one first
    branch: Fact = Fact(None)  # the default branch git names, or None
    ci_branches: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (CI file, its push branches)
    lock_ignored: bool = False  # git ignores rebar.lock: CI's checkout will not have it
    config_script: bool = False  # rebar.config.script exists: rebar3 runs it, init cannot


def infer(root: Path) -> Findings:
    """What the repository at `root` says about its descriptor; reads files and asks git
    (read-only: config, symbolic-ref, check-ignore). A rebar.config that does not parse raises
    CigenError at its line."""
    terms = _config(root / "rebar.config")
    app_srcs = sorted(root.glob("apps/*/src/*.app.src")) or sorted(root.glob("src/*.app.src"))
    apps = tuple(p.name.removesuffix(".app.src") for p in app_srcs)
    releases = _releases(terms)
    release = releases[0][:2] if releases else None
    return Findings(
        name=_name(releases, apps, root),
        from_git=_from_git(release, app_srcs),
        otp=_otp(root),
        os=_os(root),
        registry=_registry(root),
        user_dockerfile=_user_file(root / "Dockerfile"),
        targets=_targets(root),
        apps=apps,
        umbrella=bool(list(root.glob("apps/*/src/*.app.src"))),
        private=_private(terms),
        releases=tuple(dict.fromkeys(str(name) for name, _, _ in releases)),
        branch=_branch(root),
        ci_branches=_ci_branches(root),
        lock_ignored=_git(root, "check-ignore", "-q", "rebar.lock") is not None,
        config_script=(root / "rebar.config.script").exists(),
    )


def _config(path: Path) -> list[Any]:
    """rebar.config's terms, read as rebar3 reads them (rebar_config:consult_file/1 in rebar3's
    source: file:consult/1, then every term must be {Key, Value}); the first it would refuse is
    an error at its line, so that init never guesses from half a file."""
    try:
        terms = consult_strict(_read(path))
    except ErlangSyntaxError as e:
        raise CigenError(f"{path}:{e.line}: {e.message}") from None
    for line, term in terms:
        if not (isinstance(term, tuple) and len(term) == 2):
            raise CigenError(f"{path}:{line}: not a {{Key, Value}} pair, which rebar3 requires "
                             "of each term in rebar.config")
    return [term for _, term in terms]


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


def _releases(terms: list[Any]) -> list[tuple[Any, Any, str]]:
    """(name, version, where) of each relx release: the top-level relx section's, then each
    profile's. The first is the one init names: relx builds the release it is told to, and
    with several names it needs telling (relx.erl's pick_release refuses to choose)."""
    sections = [("the top-level relx section", _get(terms, "relx"))] + [
        (f"the {profile} profile's relx section", _get(opts, "relx"))
        for profile, opts in _pairs(_get(terms, "profiles"))
    ]
    return [
        (entry[1][0], entry[1][1], where)
        for where, section in sections
        for entry in (section if isinstance(section, list) else ())
        if isinstance(entry, tuple) and len(entry) >= 3 and entry[0] == "release"
        and isinstance(entry[1], tuple) and len(entry[1]) == 2
    ]


def _get(terms: Any, key: str) -> Any:
    for term in terms if isinstance(terms, list) else ():
        if isinstance(term, tuple) and len(term) == 2 and term[0] == key:
            return term[1]
    return None


def _pairs(terms: Any) -> Iterator[tuple[Any, Any]]:
    for term in terms if isinstance(terms, list) else ():
        if isinstance(term, tuple) and len(term) == 2:
            yield term[0], term[1]


def _name(releases: list[tuple[Any, Any, str]], apps: tuple[str, ...], root: Path) -> Fact:
    named = [r for r in releases if isinstance(r[0], str)]
    if named:
        name, _, where = named[0]
        others = list(dict.fromkeys(str(r[0]) for r in named if r[0] != name))
        if others:
            return Fact(_atom_name(name), f"rebar.config relx release {name}, the first in "
                                          f"{where}; also: {', '.join(others)}")
        return Fact(_atom_name(name), f"rebar.config relx release {name}")
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


def _yaml(path: Path) -> Any:
    from cigen.yamlio import load_plain

    try:
        return load_plain(_read(path))
    except Exception:  # noqa: BLE001 (someone else's file: unreadable means no answer)
        return None


def _setup_beam_otp(path: Path) -> str | None:
    workflow = _yaml(path)
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
    return registry_from_remote(_git(root, "config", "--get", "remote.origin.url") or "")


def _git(root: Path, *args: str) -> str | None:
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


def _branch(root: Path) -> Fact:
    """The default branch: origin/HEAD, which `git clone` sets to the remote's default branch,
    else the branch checked out (a fresh `git init`, or a remote added by hand: `git remote
    add` and `fetch` leave origin/HEAD unset). Seen with git 2.39: symbolic-ref exits 1 for a
    ref that is not symbolic (a detached HEAD) or absent, 128 outside a repository."""
    remote = _git(root, "symbolic-ref", "--quiet", "refs/remotes/origin/HEAD") or ""
    if remote.startswith("refs/remotes/origin/"):
        return Fact(remote.removeprefix("refs/remotes/origin/"), "git: origin/HEAD")
    local = _git(root, "symbolic-ref", "--quiet", "HEAD") or ""
    if local.startswith("refs/heads/"):
        return Fact(local.removeprefix("refs/heads/"),
                    "git: the branch checked out (no origin/HEAD)")
    return Fact(None)


def _ci_branches(root: Path) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The branches each existing CI file runs on for a push, where it names them: GitHub's
    on.push.branches, CircleCI's filters.branches.only of each workflow job."""
    found: list[tuple[str, tuple[str, ...]]] = []
    for path in [*_workflows(root), root / ".circleci" / "config.yml"]:
        names = _push_branches(_yaml(path))
        if names:
            found.append((printable(path.relative_to(root).as_posix()),
                          tuple(dict.fromkeys(names))))
    return tuple(found)


def _push_branches(data: Any) -> list[str]:
    if not isinstance(data, dict):
        return []
    on = data.get("on", data.get(True))  # a YAML 1.1 reader takes the key `on` for true
    push = on.get("push") if isinstance(on, dict) else None
    names = _strings(push.get("branches")) if isinstance(push, dict) else []
    workflows = data.get("workflows")
    for workflow in workflows.values() if isinstance(workflows, dict) else ():
        jobs = workflow.get("jobs") if isinstance(workflow, dict) else None
        for job in jobs if isinstance(jobs, list) else ():
            for params in job.values() if isinstance(job, dict) else ():
                filters = params.get("filters") if isinstance(params, dict) else None
                branches = filters.get("branches") if isinstance(filters, dict) else None
                names += _strings(branches.get("only")) if isinstance(branches, dict) else []
    return names


def _strings(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [printable(item) for item in items if isinstance(item, str)]


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
