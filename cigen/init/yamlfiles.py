"""Someone else's YAML (a CI file, a compose file), read with the line of every key.

A file that does not parse is a warning in init's report, never an error: it is the user's,
and init reads it only for hints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cigen import inputs
from cigen.init.facts import Seen

HINT_BYTES = 1 << 20  # rebar.config, .tool-versions, a workflow: a few KiB each


def read_text(root: Path, rel: str) -> str | None:
    """A hint file's text; None when it is missing, unreadable, huge or no regular file (a
    FIFO would block)."""
    try:
        return inputs.read(root / rel, HINT_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None


def load(root: Path, rel: str, warnings: list[str]) -> Any:
    """The document at `root/rel` as ruamel's round-trip reader builds it (mappings and lists
    that know their lines); None when there is no such file. A file that does not parse adds
    a warning and gives None."""
    from cigen.yamlio import load_rt

    text = read_text(root, rel)
    if text is None:
        if (root / rel).exists():
            warnings.append(f"{rel}: cannot be read; nothing was read from it")
        return None
    try:
        return load_rt(text)
    except Exception as error:  # noqa: BLE001 (someone else's file: any failure is a warning)
        warnings.append(f"{rel}{_position(error)}: does not parse as YAML ({_reason(error)}); "
                        "nothing was read from it")
        return None


def _position(error: Exception) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return f":{mark.line + 1}" if mark is not None and mark.line is not None else ""


def _reason(error: Exception) -> str:
    problem = getattr(error, "problem", None)
    return str(problem or (str(error).splitlines() or [type(error).__name__])[0])


def line(node: Any, key: Any) -> int | None:
    """The 1-based line of `key` in a mapping (or of item `key` in a list); the line of the
    node itself when the key came in through a merge (`<<: *anchor`)."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        found = lc.key(key) if isinstance(node, dict) else lc.item(key)
        return int(found[0]) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return int(lc.line) + 1 if lc.line is not None else None


def seen(rel: str, node: Any, key: Any, value: Any, said: str = "") -> Seen:
    at = line(node, key)
    return Seen(value, f"{rel}:{at}" if at else rel, said)


def text(value: Any) -> str | None:
    """A scalar as the file writes it: `26.10` stays 26.10 (a float would read 26.1)."""
    from ruamel.yaml.scalarfloat import ScalarFloat

    from cigen.yamlio import dump

    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, ScalarFloat):
        return dump([value]).strip().removeprefix("- ").strip()
    if isinstance(value, int | float | str):
        return str(value)
    return None


def mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
