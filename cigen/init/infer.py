"""Everything the repository already says about its descriptor, each value with where it was
said; where files disagree, the value the stated order picks and the conflict (choose.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cigen.init import checks as needs
from cigen.init import choose, git, images, rebar, shell
from cigen.init.checks import DEFAULT_CHECKS
from cigen.init.facts import Conflict, Fact, Said, Seen, every
from cigen.init.git import registry_from_remote
from cigen.init.yamlfiles import HINT_BYTES

__all__ = ["BRANCH", "DEFAULT_CHECKS", "HINT_BYTES", "Fact", "Findings", "infer",
           "registry_from_remote"]

# as the schema's $defs.branch (a test holds the two equal)
BRANCH = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*@\{)(?!-)[A-Za-z0-9._/-]+(?<!/)(?<!\.lock)$")
_PATTERN = re.compile(r"[*?+!\[\]]|^/")  # a GitHub glob or a CircleCI /regex/ branch filter


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
    branch: Fact = Fact(None)  # the default branch, or None
    ci_branches: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (CI file, its push branches)
    lock_ignored: bool = False  # git ignores rebar.lock: CI's checkout will not have it
    config_script: bool = False  # rebar.config.script exists: rebar3 runs it, init cannot
    image_name: Fact = Fact(None)  # when the pushed image is not named as the release
    destination: Fact = Fact(None)  # cloudbuild.destination, where Cloud Build pushes now
    rebar3: Fact = Fact(None)
    checks: Fact = Fact(DEFAULT_CHECKS)
    env: Fact = Fact({})  # erlang.env
    services: Fact = Fact(())  # erlang.services entries
    setup: Fact = Fact({})  # erlang.setup: {check: [steps]}
    release_profile: Fact = Fact(None)  # when not prod
    lock: bool = False  # rebar.lock exists
    conflicts: tuple[Conflict, ...] = ()
    warnings: tuple[str, ...] = ()  # files that could not be read
    notes: tuple[str, ...] = ()  # what was seen and not carried over


def infer(root: Path, ci_root: Path | None = None) -> Findings:
    """What the project at `root` says; reads files and asks git (read-only). The CI files
    (CircleCI, GitHub, Cloud Build) are read at `ci_root`, the repository's root, when the
    project is in a subfolder of it. A rebar.config that does not parse raises CigenError at
    its line; any other file that does not parse is a warning."""
    from cigen.init import circleci, cloudbuild, dockerfile, github, tool_versions

    config = rebar.read(root / rebar.FILE)
    app_srcs = sorted(root.glob("apps/*/src/*.app.src")) or sorted(root.glob("src/*.app.src"))
    apps = tuple(p.name.removesuffix(".app.src") for p in app_srcs)
    releases = rebar.releases(config)
    name = rebar.name(releases, apps, root)
    warnings: list[str] = []
    notes: list[str] = []
    conflicts: list[Conflict] = []
    repository = git.github_repository(root)
    docker = dockerfile.read(root, warnings)
    user_dockerfile = _user_file(root / dockerfile.FILE)
    tools = tool_versions.read(root, notes)
    top = ci_root or root
    said = [circleci.read(top, warnings, repository, name.value),
            github.read(top, warnings, repository), cloudbuild.read(top, warnings)]
    said.append(_make(root, said))
    for each in said:
        notes += each.notes
    if config.get("escript_main_app") is not None and not releases:
        notes.append(f"{rebar.FILE}:{config.line('escript_main_app')}: escript_main_app: an "
                     "escript, which cigen neither builds nor publishes; CI runs the checks")
    otp = choose.otp([*dockerfile.otp(docker), *_get(tools, "otp"), *every(said, "otp")],
                     rebar.minimum_otp(config), conflicts)
    checks = needs.checks(root, config, said, conflicts)
    registry, image_name, destination = _registry(root, said, name.value, conflicts)
    targets = _targets(top)
    to_github = targets.value is None or "github" in targets.value
    services = needs.services(root, said, checks.value, to_github, warnings, notes, conflicts)
    return Findings(
        name=name,
        from_git=rebar.from_git(releases[0] if releases else None, app_srcs),
        otp=otp,
        os=_os(choose.os([*dockerfile.os(docker, conflicts), *said[2].os], conflicts), otp,
               not user_dockerfile),
        registry=registry,
        user_dockerfile=user_dockerfile,
        targets=targets,
        apps=apps,
        umbrella=bool(list(root.glob("apps/*/src/*.app.src"))),
        private=rebar.private(config),
        releases=tuple(dict.fromkeys(str(r.name) for r in releases)),
        branch=_branch(root, said),
        ci_branches=_ci_branches(said),
        lock_ignored=git.ignores(root, "rebar.lock"),
        config_script=(root / "rebar.config.script").exists(),
        image_name=image_name,
        destination=destination if releases else Fact(None),
        rebar3=needs.rebar3([*_get(tools, "rebar3"), *every(said, "rebar3")], otp, notes,
                            conflicts),
        checks=checks,
        env=needs.env(said[0].env, notes, conflicts),
        services=services,
        setup=needs.setup(said[0], checks.value),
        release_profile=_profile(docker, config),
        lock=(root / "rebar.lock").is_file(),
        conflicts=tuple(conflicts),
        warnings=tuple(warnings),
        notes=tuple(dict.fromkeys(notes)),
    )


def _make(root: Path, said: list[Said]) -> Said:
    """What the Makefile targets the CI files run run themselves."""
    from cigen.init import makefile

    recipes, found = makefile.recipes(root), Said()
    for target in dict.fromkeys(seen.value for seen in every(said, "make")):
        if target in recipes:
            line, script = recipes[target]
            shell.scan(script, f"{makefile.FILE}:{line}", found)
    return found


def _get(found: dict[str, Seen], key: str) -> list[Seen]:
    return [found[key]] if key in found else []


def _user_file(path: Path) -> bool:
    # A Dockerfile cigen wrote (an earlier descriptor's) is not the user's own.
    from cigen.core import is_generated
    from cigen.init.yamlfiles import read_text

    text = read_text(path.parent, path.name)
    return path.is_file() and text is not None and not is_generated(text)


def _os(stated: Fact, otp: Fact, generated: bool) -> Fact:
    """Debian when no file names the OS and the Alpine image of the OTP release is on an
    Alpine release past its support while the Debian one is not: cigen would refuse the
    default runner (docs/compatibility.md)."""
    from cigen import compat

    if stated.value is not None or not generated:
        return stated
    alpine = compat.erlang_release(otp.value, alpine=True)
    debian = compat.erlang_release(otp.value, alpine=False)
    if alpine and debian and compat.supported(alpine) is False and compat.supported(debian):
        return Fact("debian", f"erlang:{otp.value}-alpine is built on {alpine}, past its "
                    f"support; erlang:{otp.value} is on {debian}")
    return stated


def _profile(docker: Any, config: rebar.Config) -> Fact:
    found = (docker.profile() if docker else None) or rebar.profile(config)
    return found.fact() if found and found.value != "prod" else Fact(None)


# Where images go, and from which branch ------------------------------------------------------

def _registry(root: Path, said: list[Said], name: str,
              conflicts: list[Conflict]) -> tuple[Fact, Fact, Fact]:
    registry, image_name = choose.registry(every(said, "pushes"), name, conflicts)
    if registry.value is None:
        registry = registry_from_remote(git.run(root, "config", "--get",
                                                "remote.origin.url") or "")
    target = f"{registry.value}/{image_name.value or name}"
    for seen in said[2].pushes:
        place = images.pushed_to(seen.value)
        repository = images.split(seen.value)[0]
        if place and not choose.matches(repository, target) and _destination(repository):
            return registry, image_name, Fact(f"{repository}:$COMMIT_SHA", seen.note)
    return registry, image_name, Fact(None)


def _destination(repository: str) -> bool:
    """A repository reference, Cloud Build substitutions ($VAR, ${VAR}) aside."""
    plain = re.sub(r"\$(?:\{[A-Z_][A-Z0-9_]*\}|[A-Z_][A-Z0-9_]*)", "x", repository)
    return images.is_image_ref(plain) and "$" not in plain


def _branch(root: Path, said: list[Said]) -> Fact:
    """origin/HEAD; else a branch the CI files' filters name (not a pattern); else the branch
    checked out."""
    remote, local = git.default_branch(root)
    named = [s for s in every(said, "branches") if not _PATTERN.search(s.value)]
    chosen = remote or (named[0] if named else None) or local
    return chosen.fact() if chosen else Fact(None)


def _ci_branches(said: list[Said]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The branches each CI file runs on for a push, where it names them: GitHub's
    on.push.branches, CircleCI's filters.branches.only of each workflow job."""
    found: dict[str, list[str]] = {}
    for seen in every(said, "branches"):
        if "pull_request" not in seen.said:
            found.setdefault(seen.where.rsplit(":", 1)[0], []).append(seen.value)
    return tuple((path, tuple(dict.fromkeys(names))) for path, names in found.items())


def _targets(root: Path) -> Fact:
    from cigen.init.github import files

    found = {
        "circleci": ".circleci/config.yml" if (root / ".circleci" / "config.yml").is_file() else "",
        "github": ".github/workflows" if files(root) else "",
        "cloudbuild": "cloudbuild.yaml" if (root / "cloudbuild.yaml").is_file() else "",
    }
    chosen = {name: path for name, path in found.items() if path}
    if not chosen:
        return Fact(None)
    return Fact(tuple(chosen), "the CI this repository uses now: " + ", ".join(chosen.values()))
