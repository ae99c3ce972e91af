from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

# Cloud Build's template syntax in steps, images and tags: `$$` is a literal `$`; `$KEY` and
# `${KEY}` are substitutions with KEY = [A-Z_][A-Z0-9_]*; any other `$` stays as written.
_PARAM = re.compile(r"\$\$|\$\{([A-Z_][A-Z0-9_]*)\}|\$([A-Z_][A-Z0-9_]*)")
_VALUE_REF = re.compile(r"\$\$|\$\{#?([A-Za-z_][A-Za-z0-9_]*)|\$([A-Za-z_][A-Za-z0-9_]*)")
USER_KEY = re.compile(r"^_[A-Z0-9_]+$")
BUILTINS = frozenset({
    "PROJECT_ID", "BUILD_ID", "PROJECT_NUMBER", "LOCATION",
    # set only in builds a trigger starts (empty in `gcloud builds submit` unless passed)
    "TRIGGER_NAME", "COMMIT_SHA", "REVISION_ID", "SHORT_SHA", "REPO_NAME", "REPO_FULL_NAME",
    "BRANCH_NAME", "TAG_NAME", "REF_NAME", "TRIGGER_BUILD_CONFIG_PATH",
    "SERVICE_ACCOUNT_EMAIL", "SERVICE_ACCOUNT",
})
# Built-ins holding a git ref name, which may contain `/`: never valid in an image tag.
REF_VALUED = ("BRANCH_NAME", "TAG_NAME", "REF_NAME")
SAFE_PREFIX = "_SAFE_"
_GO_DURATION = re.compile(r"^(?:[0-9]+(?:\.[0-9]*)?(?:ns|us|µs|ms|s|m|h))+$")
_DURATION = re.compile(r"^(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$")
MAX_SECONDS = 24 * 3600  # Cloud Build's limit for a build's timeout


def keys(text: str) -> list[str]:
    """The substitution keys `text` refers to, in order; `$$` escapes are not keys."""
    return [m.group(1) or m.group(2) for m in _PARAM.finditer(text) if m.group(0) != "$$"]


def value_keys(text: str) -> list[str]:
    """The names a substitution value refers to when dynamic substitutions expand it
    bash-style: `$NAME`, `${NAME}` and `${NAME<operator>...}` such as `${NAME//a/b}`."""
    return [m.group(1) or m.group(2) for m in _VALUE_REF.finditer(text) if m.group(0) != "$$"]


def strings(node: Any) -> Iterator[str]:
    """Every string in a config's data: where substitutions can be."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def all_keys(texts: Iterable[str]) -> set[str]:
    return {key for text in texts for key in keys(text)}


def unknown(key: str) -> bool:
    """A key Cloud Build rejects outright: neither a user key nor a built-in."""
    return not USER_KEY.match(key) and key not in BUILTINS


def fill(text: str, value: str = "x") -> str:
    """`text` with every substitution replaced by `value`: its shape after substitution."""
    return _PARAM.sub(lambda m: "$" if m.group(0) == "$$" else value, text)


def escape(text: str) -> str:
    """Literal text (a shell script, an env value) as Cloud Build must see it."""
    return text.replace("$", "$$")


def safe_key(name: str) -> str:
    return f"{SAFE_PREFIX}{name}"


def safe_value(name: str) -> str:
    # Dynamic substitutions expand bash-style ${VAR//pattern/replacement}; \/ is a literal /.
    return "${" + name + "//\\//-}"


def tag_safe(text: str) -> str:
    """`text` with each ref-valued built-in swapped for its _SAFE_ substitution."""
    def swap(match: re.Match[str]) -> str:
        key = match.group(1) or match.group(2)
        if match.group(0) == "$$" or key not in REF_VALUED:
            return match.group(0)
        return "${" + safe_key(key) + "}" if match.group(1) else "$" + safe_key(key)

    return _PARAM.sub(swap, text)


def ref_keys(texts: Iterable[str]) -> list[str]:
    """The ref-valued built-ins `texts` use, in REF_VALUED order."""
    used = all_keys(texts)
    return [name for name in REF_VALUED if name in used]


def seconds(duration: str) -> int:
    """A schema-valid duration such as 1h30m, in seconds."""
    match = _DURATION.match(duration)
    if match is None:
        raise ValueError(duration)
    hours, minutes, secs = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + secs


def is_go_duration(text: str) -> bool:
    return bool(_GO_DURATION.match(text))


def flags(args: Iterable[str], name: str) -> Iterator[tuple[int, str]]:
    """(index, value) of each `--name=value` argument."""
    prefix = f"--{name}="
    for i, arg in enumerate(args):
        if arg.startswith(prefix):
            yield i, arg[len(prefix):]


def split_ref(ref: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of an image reference."""
    name, _, digest = ref.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1:], digest or None
    return name, None, digest or None


def reference_problem(text: str, *, pushed: bool) -> str | None:
    """Why `text` (substitutions read as placeholders) is no image reference to pull or push."""
    from cigen import refs

    try:
        ref = refs.parse(fill(text))
    except ValueError:
        example = "gcr.io/project/app:$COMMIT_SHA" if pushed else "erlang:26.2.5-alpine"
        return f'"{text}" is not an image reference such as {example}'
    tag, digest = ref.tag, ref.digest
    if pushed and digest:
        return f'"{text}" names a digest; a pushed image needs a tag'
    if tag is None and digest is None:
        fix = "add one such as :$COMMIT_SHA" if pushed else "pin a version tag or a digest"
        return f'"{text}" has no tag, so it means :latest; {fix}'
    if not pushed and tag == "latest" and digest is None:
        return f'"{text}" is :latest, which changes under you; pin a version tag or a digest'
    return None


def repository_problem(text: str) -> str | None:
    """Why `text` is no repository (a reference without tag or digest)."""
    problem = reference_problem(f"{text}:x", pushed=True)
    if problem is not None:
        return f'"{text}" is not a repository such as gcr.io/project/cache'
    return None
