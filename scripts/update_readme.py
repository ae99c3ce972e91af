"""Rewrite the generated part of README.md (the descriptor table) from the schema."""

from __future__ import annotations

from pathlib import Path

from scripts.descriptor_table import table

START, END = "<!-- descriptor-table:start -->\n", "<!-- descriptor-table:end -->"

if __name__ == "__main__":
    readme = Path(__file__).resolve().parent.parent / "README.md"
    text = readme.read_text("utf-8")
    head, rest = text.split(START, 1)
    readme.write_text(head + START + table() + END + rest.split(END, 1)[1], "utf-8")
