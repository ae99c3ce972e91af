"""What the generated files need to know of rebar.config: the relx release names.

`rebar3 as <profile> tar` builds the one release relx picks; with releases of several names relx
refuses to pick and asks for --relname (erlang/rebar3 vendor/relx/src/relx.erl: pick_release
raises multiple_release_names, "Must specify the name of the release to build when there are
multiple releases in the config"; apps/rebar/src/rebar_relx.erl opt_spec_list: --relname, -n).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

PATH = "rebar.config"
# rebar3 reads relx.config at the project's root when rebar.config has no relx section
# (apps/rebar/src/rebar_relx.erl, read_relx_config). rebar.config.script, which may change
# anything, is not run: cigen reads terms, it never evaluates them.
RELX = "relx.config"
INPUTS = (PATH, RELX)


def releases(root: Path, profile: str) -> tuple[str, ...]:
    """The relx release names the project in `root` builds with `profile`; none without a
    rebar.config or a release in it."""
    from cigen.errors import RenderError
    from cigen.files import read

    try:
        names = release_names(read(root, PATH) or "", profile)
        return names or _names(_consult(read(root, RELX) or ""))
    except RenderError:  # not UTF-8, not a regular file: rebar3 says so when the build runs
        return ()


def release_names(text: str, profile: str) -> tuple[str, ...]:
    """The names of the relx releases the profile builds: the top-level relx section's and the
    profile's own (rebar3 merges them), in order, each once. Terms that do not read are
    skipped: rebar3 itself reports a broken rebar.config when the build runs."""
    terms = _consult(text)
    sections = [_get(terms, "relx"), _get(_get(_get(terms, "profiles"), profile), "relx")]
    return _names(entry for section in sections for entry in _items(section))


def _consult(text: str) -> list[Any]:
    from cigen.erlterms import consult

    return consult(text)


def _names(entries: Iterable[Any]) -> tuple[str, ...]:
    names = (_name(entry) for entry in entries)
    return tuple(dict.fromkeys(name for name in names if name is not None))


def _name(entry: Any) -> str | None:
    if isinstance(entry, tuple) and len(entry) >= 3 and entry[0] == "release":
        named = entry[1]
        if isinstance(named, tuple) and len(named) == 2 and isinstance(named[0], str):
            return str(named[0])
    return None


def _get(terms: Any, key: str) -> Any:
    for item in _items(terms):
        if isinstance(item, tuple) and len(item) == 2 and item[0] == key:
            return item[1]
    return None


def _items(value: Any) -> Iterator[Any]:
    yield from value if isinstance(value, list) else ()
