from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cigen import files
from cigen.core import Output
from cigen.errors import CigenError, DescriptorError, RemoteError, RenderError
from cigen.model import Project
from cigen.pin import edit, upgrade
from cigen.pin.registry import Registry, docker_auths
from cigen.pin.sites import Site, Unparsable, sites
from cigen.pin.upgrade import Sources
from cigen.remote import Client
from cigen.targets.github import container as github_container
from cigen.targets.releases import for_release
from cigen.yamlio import load_rt

# The comment on a key that `pin` adds: once written, the value stops following its defaults.
_ADDED_NOTE = {
    "base": "pinned default: no longer follows erlang.otp or image.os",
    "runner": "pinned default: no longer follows image.os",
    "kaniko_image": "pinned default",
    "docker_image": "pinned default",
}


Results = dict[str, str | RemoteError]  # tag_key -> digest, or why it did not resolve


def pin(
    config: Path,
    check: bool = False,
    keep_going: bool = False,
    actions: bool = False,
    *,
    client: Client | None = None,
    registry: Registry | None = None,
    env: Mapping[str, str] | None = None,
    actions_file: Path | None = None,
    github_api: str | None = None,
    upgrade: bool = False,
    sources: Sources | None = None,
) -> int:
    """Resolve the descriptor's image tags to digests and write `name:tag@digest` back into it;
    with `upgrade`, first move versions to the newest patch of their line."""
    env = os.environ if env is None else env
    client = client or Client()
    if actions:
        return _actions(config, client, env, check, keep_going, actions_file, github_api)
    original = files.read(config.parent, config.name) or ""
    text, project, tree, found = _read(config, original)
    registry = registry or Registry(client, docker_auths(env))
    if upgrade:
        sources = sources or Sources(client, registry.tags, env.get("GITHUB_TOKEN") or None)
        moved = _moves(config, project, tree, found, sources)
        if check:
            return 1 if moved else 0
        if moved:
            replaces = [edit.Replace(*m.at, m.old, m.new) for m in moved]
            try:
                text, project, tree, found = _read(config, _apply(config, text, replaces))
            except DescriptorError as e:
                raise DescriptorError([*e.problems, f"{config}: so the versions above would "
                                       "make the descriptor fail; unchanged, nothing written"]
                                      ) from e
    elif check:
        return _pins_current(config, found, registry, keep_going)
    return _pin(config, text, tree, found, registry, keep_going, original)


def _read(config: Path, text: str) -> tuple[str, Project, Any, list[Site]]:
    """The descriptor's text, model, YAML tree and image references; `text` as written, or as
    an upgrade would write it (which must load as cleanly)."""
    from cigen.plan import load

    project = load(config, source=text)[0].project
    tree = load_rt(text)
    try:
        return text, project, tree, list(sites(tree, project))
    except Unparsable as e:
        raise CigenError(f"{_where(config, e.site)}: {e}") from e


def _moves(config: Path, project: Project, tree: Any, found: list[Site],
           sources: Sources) -> list[upgrade.Move]:
    try:
        moved = upgrade.moves(project, tree, found, sources, _setup_beam(project),
                              [_setup_beam(for_release(project, r))
                               for r in project.erlang.matrix])
    except RemoteError as e:
        raise RemoteError(f"{e}\n{config}: unchanged; nothing written") from e
    for m in moved:
        print(f"{config}:{m.at[0] + 1}:{m.at[1] + 1}: {m.dotted}: {m.old} -> {m.new} "
              f"(the newest patch of its line in the {m.source})")
    if not moved:
        print(f"{config}: every version is the newest patch of its line")
    return moved


def _setup_beam(project: Project) -> str | None:
    """The runner label when the GitHub workflow installs erlang.otp with setup-beam."""
    uses_setup_beam = "github" in project.targets and not github_container.needed(project)
    return project.github.runs_on if uses_setup_beam else None


def _apply(config: Path, text: str, replaces: list[edit.Replace]) -> str:
    lines = edit.split_lines(text)
    problems = []
    for change in replaces:
        try:
            edit.scalar_start(lines, change)
        except edit.EditError as e:
            problems.append(f"{config}:{change.line + 1}:{change.col + 1}: {e}")
    if problems:
        raise CigenError("\n".join([*problems, f"{config}: unchanged; nothing written"]))
    return edit.apply(text, replaces, [])


def _actions(
    config: Path,
    client: Client,
    env: Mapping[str, str],
    check: bool,
    keep_going: bool,
    path: Path | None,
    api: str | None,
) -> int:
    """Refresh the repository's action pins: `path`, else the descriptor's github.action_pins
    (from its folder), started from cigen's shipped pins when it does not exist yet."""
    from cigen.pin import actions as pin_actions

    token = env.get("GITHUB_TOKEN") or None
    if path is None:
        from cigen.descriptor import load

        path = config.parent / load(config).project.github.action_pins
    return pin_actions.refresh(
        path, client, check, keep_going, token, api or pin_actions.GITHUB_API
    )


def _resolve(registry: Registry, chosen: list[Site]) -> Results:
    results: Results = {}
    for site in chosen:
        if site.tag_key not in results:
            try:
                results[site.tag_key] = registry.digest(site.ref)
            except RemoteError as e:
                results[site.tag_key] = e
    return results


def _where(config: Path, site: Site) -> str:
    if site.at is None:
        return f"{config}: {site.dotted} (default {site.text})"
    return f"{config}:{site.at[0] + 1}:{site.at[1] + 1}: {site.dotted}"


def _failures(config: Path, chosen: list[Site], results: Results) -> list[str]:
    return [
        f"{_where(config, s)}: {results[s.tag_key]}"
        for s in chosen
        if isinstance(results[s.tag_key], RemoteError)
    ]


def _pin(
    config: Path, text: str, tree: Any, found: list[Site], registry: Registry, keep_going: bool,
    original: str,
) -> int:
    chosen = [s for s in found if s.ref.tag or not s.ref.digest]
    for s in found:
        if s not in chosen:
            print(f"{s.dotted}: {s.text}: pinned by digest alone; left as is")
    results = _resolve(registry, chosen)
    failed = _failures(config, chosen, results)
    if failed and not keep_going:
        raise RemoteError("\n".join([*failed, f"{config}: unchanged; nothing written"]))
    resolved = [
        (s, str(results[s.tag_key]))
        for s in chosen
        if not isinstance(results[s.tag_key], RemoteError)
    ]
    new_text = _edit(config, text, tree, resolved)
    for site, digest in resolved:
        print(_outcome(site, digest))
    if new_text != original:
        # A linked descriptor is edited where it lives; replacing the link would cut it off.
        real = config.resolve() if config.is_symlink() else config
        files.write([Output(real.name, new_text, "pin")], real.parent, force=True)
        print(f"wrote {config}")
    elif not found:
        print(f"{config}: no image references")
    for line in failed:
        print(line, file=sys.stderr)
    return 1 if failed else 0


def _outcome(site: Site, digest: str) -> str:
    pinned = site.ref.pinned(digest)
    if site.at is None:
        return f"{site.dotted}: added {pinned}"
    if site.ref.digest == digest:
        return f"{site.dotted}: {site.text}: current"
    if site.ref.digest:
        return f"{site.dotted}: {site.text}: tag moved; now {pinned}"
    return f"{site.dotted}: {site.text} -> {pinned}"


def _edit(config: Path, text: str, tree: Any, resolved: list[tuple[Site, str]]) -> str:
    lines = edit.split_lines(text)
    replaces, problems = [], []
    for site, digest in resolved:
        if site.at is not None and site.text != site.ref.pinned(digest):
            change = edit.Replace(*site.at, site.text, site.ref.pinned(digest))
            try:
                edit.scalar_start(lines, change)
                replaces.append(change)
            except edit.EditError as e:
                problems.append(f"{_where(config, site)}: {e}")
    inserts = []
    for section, entries in _additions(resolved).items():
        try:
            inserts.append(edit.add_keys(tree, section, entries))
        except edit.EditError as e:
            problems.append(f"{config}: {e}")
    if problems:
        raise CigenError("\n".join([*problems, f"{config}: unchanged; nothing written"]))
    new_text = edit.apply(text, replaces, inserts)
    _verify(config, new_text, resolved)
    return new_text


def _additions(resolved: list[tuple[Site, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for site, digest in resolved:
        if site.at is None:
            name = str(site.key[-1])
            out.setdefault(str(site.key[0]), []).append(
                f"{name}: {site.ref.pinned(digest)}  # {_ADDED_NOTE[name]}"
            )
    return out


def _verify(config: Path, new_text: str, resolved: list[tuple[Site, str]]) -> None:
    # The edit is textual; read it back as YAML to prove every value landed where it belongs.
    tree = load_rt(new_text)
    for site, digest in resolved:
        node = tree
        for k in site.key:
            node = node[k]
        if node != site.ref.pinned(digest):
            raise RenderError(
                f"{config}: {site.dotted}: the edit did not read back as "
                f"{site.ref.pinned(digest)} (cigen bug); nothing written"
            )


def _pins_current(config: Path, found: list[Site], registry: Registry, keep_going: bool) -> int:
    pinned = [s for s in found if s.ref.digest and s.ref.tag]
    for s in found:
        if s not in pinned:
            print(_unchecked(s))
    results = _resolve(registry, pinned)
    failed = _failures(config, pinned, results)
    if failed and not keep_going:
        raise RemoteError("\n".join(failed))
    moved = [
        f"{_where(config, s)}: {s.text}: tag {s.ref.tag} now points to {results[s.tag_key]}"
        for s in pinned
        if isinstance(results[s.tag_key], str) and results[s.tag_key] != s.ref.digest
    ]
    for line in [*failed, *moved]:
        print(line, file=sys.stderr)
    if moved:
        print(f"{len(moved)} pinned reference(s) moved; run: cigen pin", file=sys.stderr)
    print(f"{len(pinned) - len(moved) - len(failed)} pinned reference(s) current")
    return 1 if moved or failed else 0


def _unchecked(site: Site) -> str:
    if site.ref.digest:
        return f"{site.dotted}: {site.text}: pinned by digest alone; nothing to compare"
    return f"{site.dotted}: {site.text}: not pinned" + (" (a default)" if site.at is None else "")
