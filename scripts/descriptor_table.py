"""Print the descriptor reference table (Markdown) from schemas/cigen.schema.json.

docs/descriptor.md holds this script's output (python -m scripts.update_docs writes it there);
tests/test_readme.py keeps the two equal:
    python scripts/descriptor_table.py
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from cigen import schema


def rows(node: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str, str]]:
    # A key required only in the schema's `else` branch: registry, unless image is false.
    unless = node.get("else", {}).get("required", ())
    for key, sub in node.get("properties", {}).items():
        sub = schema._resolve(sub)
        name = f"{prefix}{key}"
        kinds = sub.get("type") if isinstance(sub.get("type"), list) else [sub.get("type")]
        if "object" in kinds and "properties" in sub:
            if len(kinds) > 1:  # image: its own row for the other value (false), then its keys
                yield name, sub.get("description", ""), ""
            yield from rows(sub, f"{name}.")
            continue
        default = json.dumps(sub["default"]) if "default" in sub else ""
        required = "required" if key in node.get("required", ()) else \
            "required unless image is false" if key in unless else default
        yield name, sub.get("description", ""), required


def table() -> str:
    lines = ["| key | meaning | default |", "|---|---|---|"]
    for name, description, default in rows(schema.schema()):
        cell = f"`{default}`" if default and not default.startswith("required") else default
        text = description.replace("|", "/").replace("<", "&lt;").replace(">", "&gt;")
        lines.append(f"| `{name}` | {text} | {cell} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(table(), end="")
