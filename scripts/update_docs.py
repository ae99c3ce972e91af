"""Rewrite the generated part of docs/descriptor.md (the descriptor table) from the schema."""

from __future__ import annotations

from pathlib import Path

from scripts.descriptor_table import table

PAGE = Path(__file__).resolve().parent.parent / "docs" / "descriptor.md"
START, END = "<!-- descriptor-table:start -->\n", "<!-- descriptor-table:end -->"

if __name__ == "__main__":
    text = PAGE.read_text("utf-8")
    head, rest = text.split(START, 1)
    PAGE.write_text(head + START + table() + END + rest.split(END, 1)[1], "utf-8")
