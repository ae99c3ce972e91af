from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from cigen import inputs, schema
from cigen.core import KeyPath, Problem, printable
from cigen.descriptor import library, messages, rebar_config, stages
from cigen.descriptor.locations import Document
from cigen.errors import DescriptorError
from cigen.model import RELEASE_STAGES, Project

MAX_BYTES = 1 << 20  # a descriptor is a few kilobytes; refuse to parse anything huge
MAX_ITEMS = 20_000  # lines plus commas: flow lists count as much as block ones
MAX_NODES = 100_000  # expanded size; YAML aliases can make a tiny file enormous
MAX_DEPTH = 32  # the schema nests 5 levels; anything far deeper is not a descriptor
_SURROGATE = re.compile("[\ud800-\udfff]")
_LONG_NUMBER = re.compile("[0-9_]{4000,}")
_MERGE = re.compile(r"<<\s*:\s*\*([^\s,\]}]+)")


class Descriptor(NamedTuple):
    """A valid descriptor: the model, the document that locates problems found later, and the
    files besides the descriptor that the model was read from (paths from its folder), which
    the check cache hashes."""

    project: Project
    document: Document
    inputs: tuple[str, ...] = ()

    def error(self, found: Iterable[Problem]) -> DescriptorError:
        return DescriptorError(self.document.format(found))


def load(path: Path, source: str | None = None) -> Descriptor:
    """Read (unless its text is given), parse, validate and resolve a descriptor; every problem
    raises one DescriptorError."""
    shown = str(path)
    source = _read(path, shown) if source is None else source
    tree = _parse(source, shown)
    doc = Document(shown, source, tree)
    data = _plain(tree)
    found = list(_shape(tree, ()))
    found += _unrelated(schema_problems(data, doc.token), found)
    found += _unrelated(_semantic(data, lambda p: not _touches(p, found)), found)
    if found:
        raise DescriptorError(doc.format(found))
    project = Project.create(schema.apply_defaults(data), path.name)
    project, inputs = _with_inputs(project, path.parent, doc)
    return Descriptor(project, doc, inputs)


def schema_problems(data: Any, token: Callable[[KeyPath], str]) -> Iterator[Problem]:
    """Every schema violation in `data`; `token(path)` gives a value's text as written."""
    if schema.conforms(data):
        return
    for error in schema.validator().iter_errors(data):
        yield from messages.explain(error, token)


def _read(path: Path, shown: str) -> str:
    try:
        data = inputs.read(path, MAX_BYTES)
    except FileNotFoundError:
        raise DescriptorError(
            [f"{shown}: no such file; run cigen where cigen.yaml is, or pass -c PATH"]
        ) from None
    except inputs.TooLarge:
        raise DescriptorError([f"{shown}: over {MAX_BYTES >> 10} KiB; a descriptor is a few KiB"]
                              ) from None
    except OSError as e:
        raise DescriptorError([f"{shown}: cannot read: {e.strerror}"]) from e
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DescriptorError([f"{shown}:{messages.not_utf8(data, e.start)}"]) from e


def _parse(source: str, shown: str) -> Any:
    import warnings

    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    from cigen.yamlio import load_rt

    _refuse_long_numbers(source, shown)
    items = source.count("\n") + source.count(",")
    if items > MAX_ITEMS:  # refused before parsing: the YAML reader takes minutes on such text
        raise DescriptorError([f"{shown}: {items} lines and list items; a descriptor has a few "
                               f"hundred (at most {MAX_ITEMS})"])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a reused anchor is legal YAML; the last one wins
            tree = load_rt(source)
    except MarkedYAMLError as e:
        raise DescriptorError([f"{shown}:{messages.yaml_error(e)}"]) from e
    except ReaderError as e:  # a character YAML does not allow, found before any parsing
        raise DescriptorError([f"{shown}:{_position(source, e.position)}: not valid YAML: "
                               f"{messages.unacceptable(e.character)}"]) from e
    except YAMLError as e:
        raise DescriptorError([f"{shown}: not valid YAML: {printable(str(e))}"]) from e
    except RecursionError:
        raise DescriptorError([f"{shown}: nested too deeply to be a descriptor"]) from None
    except AssertionError as e:  # the reader asserts that an !!omap names each key once
        at = _position(source, source.find("!!omap"))
        raise DescriptorError([f"{shown}:{at}: an ordered mapping (!!omap) names a key twice; "
                               "write each key once"]) from e
    except AttributeError as e:  # the reader crashes merging a mapping into itself
        raise DescriptorError([_self_merge(source, shown)]) from e
    except TypeError as e:  # the reader hashes complex keys (`? {a: b}`) and some cannot be
        raise DescriptorError([f"{shown}: a key is a mapping or a list; write keys as names"]) \
            from e
    if tree is None:
        raise DescriptorError([f"{shown}: empty; a descriptor needs at least {messages.MINIMAL}"])
    if not isinstance(tree, dict):
        raise DescriptorError([f"{shown}:1:1: {messages.not_a_mapping(tree)}"])
    _measure_all(tree, shown)
    return tree


def _self_merge(source: str, shown: str) -> str:
    """Where a `<<: *name` sits inside the mapping `&name` anchors (the only document the YAML
    reader is known to crash on); the first merge of an anchor made before it, else 1:1."""
    for merge in _MERGE.finditer(source):
        anchor = source.find(f"&{merge.group(1)}")
        if 0 <= anchor < merge.start():
            where = _position(source, merge.start() + merge.group(0).index("*"))
            return (f"{shown}:{where}: <<: *{merge.group(1)} merges the mapping it is inside; "
                    "merge another mapping")
    return f"{shown}:1:1: a YAML merge (<<) the reader cannot resolve; write the keys out"


def _refuse_long_numbers(source: str, shown: str) -> None:
    """The YAML reader turns digits into an int, which Python refuses past 4,300 digits; no
    descriptor value is a number that long, so it is refused where it is written."""
    long = _LONG_NUMBER.search(source)
    if long:
        raise DescriptorError([f"{shown}:{_position(source, long.start())}: a number of "
                               f"{len(long.group())} digits; no descriptor value is one"])


def _position(source: str, offset: int) -> str:
    offset = max(offset, 0)
    line = source.count("\n", 0, offset)
    return f"{line + 1}:{offset - (source.rfind(chr(10), 0, offset) + 1) + 1}"


def _measure_all(tree: dict[Any, Any], shown: str) -> None:
    memo: dict[int, tuple[int, int]] = {}
    total = 0
    for key, value in tree.items():
        size, depth = _measure(value, memo)
        total += size
        if total > MAX_NODES:
            _refuse(shown, tree, (key,), messages.alias_bomb(MAX_NODES))
        if depth > MAX_DEPTH:
            deepest = _deepest_keys(tree, key, memo)
            _refuse(shown, tree, deepest, f"nested over {MAX_DEPTH} levels deep")


def _refuse(shown: str, tree: Any, keys: KeyPath, why: str) -> None:
    doc = Document(shown, "", tree)
    raise DescriptorError(doc.format([Problem(keys, why, at_key=len(keys) == 1)]))


def _deepest_keys(tree: Any, key: Any, memo: dict[int, tuple[int, int]]) -> KeyPath:
    """Follow the deepest branch through mappings, to where the nesting begins."""
    keys: KeyPath = (key,)
    node = tree[key]
    while isinstance(node, dict) and node:
        depths = {k: _measure(v, memo)[1] for k, v in node.items()}
        child = max(depths, key=depths.__getitem__)
        keys, node = (*keys, child), node[child]
    return keys


def _measure(node: Any, memo: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """(values, depth) of a node as its aliases expand; shared nodes are measured once."""
    if not isinstance(node, (dict, list)):
        return (1, 0)
    if id(node) not in memo:
        memo[id(node)] = (1, 0)
        parts = [_measure(c, memo) for c in (node.values() if isinstance(node, dict) else node)]
        size = min(MAX_NODES + 1, 1 + sum(s for s, _ in parts))
        memo[id(node)] = (size, 1 + max((d for _, d in parts), default=0))
    return memo[id(node)]


def _plain(node: Any) -> Any:
    """JSON-like values for the schema: ruamel's scalar subclasses become plain ones."""
    if isinstance(node, dict):
        return {(str(k) if isinstance(k, str) else k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if type(node).__name__ == "ScalarBoolean":  # an anchored boolean: an int subclass
        return bool(node)
    if isinstance(node, str):
        return _paired(str(node))
    for kind in (bool, str, int, float):
        if isinstance(node, kind):
            return kind(node)
    return node


def _paired(text: str) -> str:
    """`text` with each surrogate pair joined into its character: JSON, which YAML reads too,
    escapes U+1F433 as \\ud83d\\udc33, and the YAML reader keeps the halves apart."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _shape(node: Any, path: KeyPath) -> Iterable[Problem]:
    """What JSON cannot hold: non-string keys and YAML tags."""
    tag = getattr(getattr(node, "tag", None), "value", None)  # None for plain mappings, lists
    if type(node).__name__ == "TaggedScalar" or (isinstance(node, (dict, list)) and tag):
        # a tagged mapping or list (!!python/object:..., !custom) is never constructed as
        # anything but data; the tag is refused so that it cannot pass unnoticed either
        yield Problem(path, f"the YAML tag {tag} is not supported; remove it")
    elif isinstance(node, bytes):
        yield Problem(path, "binary data (!!binary) is not supported; write text")
    elif isinstance(node, str) and _SURROGATE.search(_paired(node)):
        # a \ud800 escape: no UTF-8 file can hold it, so no output could be written
        yield Problem(path, "has a lone surrogate escape (\\ud800-\\udfff), which is no "
                      "character; write the character itself")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _shape(item, (*path, i))
    elif isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                yield Problem((*path, key), messages.bad_key(key), at_key=True)
            else:
                yield from _shape(value, (*path, key))


def _related(a: KeyPath, b: KeyPath) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def _touches(path: KeyPath, found: list[Problem]) -> bool:
    return any(_related(path, p.path) for p in found)


def _unrelated(new: Iterable[Problem], found: list[Problem]) -> list[Problem]:
    """New problems, minus those about a key already reported (one cause, one message)."""
    earlier = list(found)
    return [p for p in new if not _touches(p.path, earlier)]


def _semantic(data: dict[str, Any], valid: Callable[[KeyPath], bool]) -> Iterable[Problem]:
    """Cross-key rules; each runs only when the schema found its inputs sound."""
    if library.is_library(data):
        yield from library.problems(data)
    if valid(("erlang", "checks")):
        checks = data["erlang"].get("checks", schema.static_default("erlang.checks"))
        if valid(("publish", "after")) and not library.is_library(data):
            yield from _after(data.get("publish", {}), checks)
        if valid(("erlang", "setup")):
            for check in data["erlang"].get("setup", {}):
                if check not in checks:
                    yield Problem(("erlang", "setup", check), _not_run(check, checks), True)
    if valid(("erlang", "services")):
        yield from _service_names(data["erlang"].get("services", []))
    if valid(("github", "refresh")) and valid(("targets",)):
        yield from _refresh_target(data)
    if valid(("erlang", "matrix")) and valid(("erlang", "otp")):
        yield from _matrix(data["erlang"])
    if valid(("image",)) and not library.is_library(data):
        yield from _target(data.get("image", {}))
        if valid(("overrides",)):
            from cigen.descriptor import insertions

            yield from insertions.problems(data)


def _refresh_target(data: dict[str, Any]) -> Iterable[Problem]:
    """github.refresh is a GitHub workflow: it is written only with the github target."""
    targets = data.get("targets", schema.static_default("targets"))
    if "refresh" in data.get("github", {}) and "github" not in targets:
        yield Problem(("github", "refresh"), "is a GitHub Actions workflow, and github is not "
                      f"in targets ({', '.join(targets)}); add github to targets, or remove it",
                      at_key=True)


def _not_run(check: str, checks: list[str]) -> str:
    return f'"{check}" is not in erlang.checks ({", ".join(checks) or "none"}); CI never runs it'


def _after(publish: dict[str, Any], checks: list[str]) -> Iterable[Problem]:
    for i, check in enumerate(publish.get("after", schema.static_default("publish.after"))):
        if check not in checks:
            yield Problem(("publish", "after", i), _not_run(check, checks))


def _service_names(services: list[dict[str, Any]]) -> Iterable[Problem]:
    names: set[str] = set()
    for i, service in enumerate(services):
        if service["name"] in names:
            yield Problem(("erlang", "services", i, "name"), f'"{service["name"]}" is used twice')
        names.add(service["name"])


def _matrix(erlang: dict[str, Any]) -> Iterable[Problem]:
    """A matrix release is one the checks do not run on already."""
    seen = {erlang["otp"]: "erlang.otp"}
    for i, otp in enumerate(erlang.get("matrix", [])):
        if otp in seen:
            yield Problem(("erlang", "matrix", i), f'"{otp}" is {seen[otp]} already; the checks '
                          "run on each release once: remove it")
        seen.setdefault(otp, f"erlang.matrix[{i}]")


def _target(image: dict[str, Any]) -> Iterable[Problem]:
    target = image.get("target", "runner")
    if image.get("generate", True) and target not in RELEASE_STAGES:
        stages = ", ".join(RELEASE_STAGES)
        message = f'"{target}" is not a stage of the generated Dockerfile: {stages}'
        yield Problem(("image", "target"), message)


def _directory_problems(project: Project, root: Path) -> list[Problem]:
    """`directory` must be a folder with the rebar3 project in it."""
    if project.directory == ".":
        return []
    folder = root / project.directory
    if not folder.is_dir():
        return [Problem(("directory",), f"{project.directory} is not a folder beside the "
                        "descriptor; name the folder of the rebar3 project")]
    if not (folder / rebar_config.PATH).is_file():
        return [Problem(("directory",), f"{project.directory} has no {rebar_config.PATH}; "
                        "name the folder of the rebar3 project")]
    if project.image.keep_git and not project.library:
        # rebar3 versions a {vsn, git} release 0.0.0 where git finds no repository
        # (erlang/rebar3 apps/rebar/src/rebar_git_resource.erl, collect_default_refcount)
        return [Problem(("image", "keep_git"), f"is true, but the image's build context, "
                        f"{project.directory}, holds no .git (it is at the repository's root), "
                        "so a release versioned from git would be 0.0.0: set image.keep_git: "
                        "false and give the release a version")]
    return []


def _with_inputs(project: Project, root: Path, doc: Document) -> tuple[Project, tuple[str, ...]]:
    """The model with what it needs of the project's files read in, and those files' paths: the
    user's own Dockerfile (and the stage it publishes), the relx release names (several: the
    Dockerfile names the release), and whether rebar.lock exists (the generated Dockerfile
    copies it only then: COPY fails on a missing file, and a new project, or one that keeps
    rebar.lock out of git, has none; GitHub's cache keys hash it only then), the rebar3 files
    in the project's folder (`directory`). An absent file is an input too: the check cache
    records it as such, so a rebar.lock that appears or disappears makes the next check render
    again."""
    from dataclasses import replace

    from cigen import files
    from cigen.errors import RenderError

    found = _directory_problems(project, root)
    if found:
        raise DescriptorError(doc.format(found))
    here = root / project.directory  # the rebar3 project's own files are there
    project = replace(project, rebar_lock=(here / "rebar.lock").is_file(),
                      release_names=rebar_config.releases(here,
                                                          project.erlang.release_profile))
    read = tuple(str(Path(project.directory, name)) for name in ("rebar.lock",
                                                                 *rebar_config.INPUTS))
    project, read = _with_action_pins(project, root, doc), (*read, project.github.action_pins)
    if project.library or project.image.generate:  # no Dockerfile of the user's to read
        return project, read
    try:
        text = files.read(root, project.image.dockerfile)
    except RenderError as e:
        raise DescriptorError(doc.format([Problem(("image", "dockerfile"), str(e))])) from e
    if text is None:
        msg = f"cannot read {project.image.dockerfile}: No such file or directory"
        raise DescriptorError(doc.format([Problem(("image", "dockerfile"), msg)]))
    # Its messages name the Dockerfile as the user would open it: beside the descriptor.
    target = stages.published(project.image, text,
                              str(Path(doc.shown).parent / project.image.dockerfile))
    if isinstance(target, list):
        raise DescriptorError(doc.format(target))
    image = replace(project.image, target=target)
    return replace(project, image=image, user_dockerfile=text), (project.image.dockerfile, *read)


def _with_action_pins(project: Project, root: Path, doc: Document) -> Project:
    """The model with the repository's action pins (github.action_pins), when that file exists."""
    from dataclasses import replace

    from cigen import files
    from cigen.action_pins import parse
    from cigen.errors import RenderError

    path = project.github.action_pins
    if not (root / path).parent.is_dir():  # no file there (writing the workflows says why)
        return project
    try:
        text = files.read(root, path)
        pins = None if text is None else parse(text)
    except RenderError as e:  # its message names the file
        raise DescriptorError(doc.format([Problem(("github", "action_pins"), str(e))])) from None
    except ValueError as e:
        raise DescriptorError(doc.format([Problem(("github", "action_pins"),
                                                  f"{path}: {e}")])) from None
    if pins is None:
        return project
    return replace(project, github=replace(project.github, pins=pins))
