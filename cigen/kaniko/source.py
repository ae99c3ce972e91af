from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from cigen.core import Problem

# BuildKit only honours directives in the leading comment block, and stops at the first
# line that is not one (a blank line, a plain comment or an instruction).
_DIRECTIVE = re.compile(r"#[ \t]*([A-Za-z][A-Za-z0-9]*)[ \t]*=[ \t]*(\S*)[ \t]*\r?\n?\Z")
_KNOWN_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_BLANK_OR_COMMENT = re.compile(r"[ \t]*(#[^\n]*)?\r?\n")
_SPACES = re.compile(r"[ \t]*")
_QUOTE_PIECES = re.compile(r"('|\\+(?='|\Z))")
_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")


class Note(NamedTuple):
    line: int
    text: str


def problem(line: int | None, what: str, fix: str) -> Problem:
    """A line of the Dockerfile with no safe Kaniko form: what is wrong, and the fix."""
    return Problem((), f"{what}; {fix}", line=line)


class Edit(NamedTuple):
    """Replace lines start..end (1-based, inclusive); end == start - 1 inserts before start."""

    start: int
    end: int
    text: str


class Directives(NamedTuple):
    last_line: int
    escape: str
    syntax_line: int | None


class Parts(NamedTuple):
    """One instruction's raw text cut into keyword, leading flags and the rest."""

    lead: str
    keyword: str
    flags: tuple[str, ...]
    comments: tuple[str, ...]
    indent: str
    body: str


def split_lines(text: str) -> list[str]:
    r"""Lines as BuildKit counts them, each with its ending: only \n ends one. (str.splitlines
    also breaks at \r, \x0b, \x0c, \x1c-\x1e, \x85, \u2028 and \u2029, which a Dockerfile
    line may hold: edits would then land on the wrong lines.)"""
    return _LINE.findall(text)


def newline_of(text: str) -> str:
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def read_directives(lines: list[str]) -> Directives:
    escape, syntax, count = "\\", None, 0
    for number, line in enumerate(lines, 1):
        match = _DIRECTIVE.match(line)
        if match is None or match[1].lower() not in _KNOWN_DIRECTIVES:
            break
        count = number
        if match[1].lower() == "escape":
            escape = match[2] or "\\"
        elif match[1].lower() == "syntax":
            syntax = number
    return Directives(count, escape, syntax)


def raw_text(lines: list[str], start: int, end: int, newline: str) -> str:
    raw = "".join(lines[start - 1 : end])
    return raw if raw.endswith("\n") else raw + newline


def split_instruction(raw: str, escape: str) -> Parts:
    lead = _spaces(raw, 0)
    pos = _token_end(raw, len(lead), escape)
    keyword = _joined(raw[len(lead) : pos], escape)
    flags: list[str] = []
    comments: list[str] = []
    while True:
        pos = _skip_gap(raw, pos, escape, comments)
        end = _token_end(raw, pos, escape)
        flag = _joined(raw[pos:end], escape)
        if not flag.startswith("--"):
            break
        flags.append(flag)
        pos = end
    return Parts(lead, keyword, tuple(flags), tuple(comments), _indent(raw, pos), raw[pos:])


def _token_end(raw: str, pos: int, escape: str) -> int:
    # BuildKit joins a line that ends in the escape character to the next one, inside a word
    # too (`RU\` then `N`, `--mount=type=cache,\` then `target=/x`): the word goes on unless
    # the next line starts with a blank, and it ends at a continuation right after it.
    quote = ""
    while pos < len(raw):
        char = raw[pos]
        joint = _continuation(escape).match(raw, pos) if not quote else None
        if joint is not None:
            if joint.end() >= len(raw) or raw[joint.end()] in " \t\r\n":
                break
            pos = joint.end()
            continue
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in " \t\r\n":
            break
        pos += 1
    return pos


def _continuation(escape: str) -> re.Pattern[str]:
    return re.compile(re.escape(escape) + r"[ \t]*\r?\n")


def _joined(word: str, escape: str) -> str:
    return _continuation(escape).sub("", word)


def _skip_gap(raw: str, pos: int, escape: str, comments: list[str]) -> int:
    while True:
        pos += len(_spaces(raw, pos))
        match = _continuation(escape).match(raw, pos)
        if match is None:
            return pos
        pos = match.end()
        while (line := _BLANK_OR_COMMENT.match(raw, pos)) is not None and pos < len(raw):
            if line[1]:
                comments.append(line.group())
            pos = line.end()


def _indent(raw: str, pos: int) -> str:
    line_start = raw.rfind("\n", 0, pos) + 1
    if line_start == 0:
        return ""
    return _spaces(raw, line_start)


def _spaces(raw: str, pos: int) -> str:
    match = _SPACES.match(raw, pos)
    return match.group() if match else ""


def rebuild(parts: Parts, flags: Iterable[str], body: str, escape: str, newline: str) -> str:
    head = " ".join([parts.keyword, *flags])
    if parts.comments:
        # comments sat between the dropped flags and the command: keep them in place
        return f"{parts.lead}{head} {escape}{newline}{''.join(parts.comments)}{parts.indent}{body}"
    return f"{parts.lead}{head} {body}"


def apply_edits(lines: list[str], edits: Iterable[Edit]) -> str:
    out: list[str] = []
    current = 1
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        out.extend(lines[current - 1 : edit.start - 1])
        out.append(edit.text)
        current = edit.end + 1
    out.extend(lines[current - 1 :])
    return "".join(out)


def shell_quote(text: str) -> str:
    # a backslash right before a closing quote reads like a mistaken escape to ShellCheck
    # (SC1003), so such runs go in double quotes and quotes themselves become \'
    pieces = []
    for index, piece in enumerate(_QUOTE_PIECES.split(text)):
        if index % 2 == 0:
            pieces.append(f"'{piece}'" if piece else "")
        else:
            pieces.append("\\'" if piece == "'" else f'"{piece * 2}"')
    return "".join(pieces) or "''"


def keyword_like(example: str, keyword: str) -> str:
    """Spell an inserted instruction in the case the user wrote theirs."""
    return keyword.lower() if example.islower() else keyword.upper()
