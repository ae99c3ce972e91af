from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# Just enough of Erlang's term syntax to read rebar.config (`file:consult/1` files): never eval.
_TOKEN = re.compile(
    r"""
    (?P<skip>\s+|%[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<quoted>'(?:[^'\\]|\\.)*')
  | (?P<char>\$(?:\\.|[^\\]))
  | (?P<number>-?[0-9]+(?:\#[0-9A-Za-z]+|\.[0-9]+(?:[eE][-+]?[0-9]+)?)?)
  | (?P<atom>[a-z][A-Za-z0-9_@]*)
  | (?P<var>[A-Z_][A-Za-z0-9_]*)
  | (?P<end>\.(?=\s|%|$))
  | (?P<punct>\#\{|<<|>>|=>|:=|[{}\[\](),|])
  | (?P<other>.)
""",
    re.VERBOSE,
)
_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "s": " ",
    "e": "\x1b",
    "d": "\x7f",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}
_CLOSE = {"{": "}", "[": "]", "#{": "}", "<<": ">>"}


class Atom(str):
    """An Erlang atom (a Python str subclass, so `atom == "relx"` works)."""


class Var(str):
    """An Erlang variable name; rebar.config has none, but a stray one must not break reading."""


class ErlangSyntaxError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    line: int


def consult(text: str) -> list[Any]:
    """The terms of a rebar.config-style file, one per `Term.`; unreadable terms are skipped."""
    terms: list[Any] = []
    for chunk in _statements(_tokens(text)):
        try:
            term, rest = _term(chunk, 0)
        except (ErlangSyntaxError, IndexError, RecursionError):  # nested past Python's stack
            continue
        if rest == len(chunk):
            terms.append(term)
    return terms


def _tokens(text: str) -> Iterator[_Tok]:
    pos, line = 0, 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:  # cannot happen: `other` matches any character
            break
        kind = match.lastgroup or ""
        if kind != "skip":
            yield _Tok(kind, match.group(), line)
        line += match.group().count("\n")
        pos = match.end()


def _statements(tokens: Iterator[_Tok]) -> Iterator[list[_Tok]]:
    chunk: list[_Tok] = []
    for tok in tokens:
        if tok.kind == "end":
            yield chunk
            chunk = []
        else:
            chunk.append(tok)


def _term(toks: list[_Tok], i: int) -> tuple[Any, int]:
    tok = toks[i]
    if tok.kind == "punct" and tok.text in _CLOSE:
        return _collection(toks, i)
    if tok.kind == "string":
        text, i = "", i
        while i < len(toks) and toks[i].kind == "string":  # "a" "b" is one string
            text, i = text + _unescape(toks[i].text[1:-1]), i + 1
        return text, i
    return _scalar(tok), i + 1


def _scalar(tok: _Tok) -> Any:
    if tok.kind == "atom":
        return Atom(tok.text)
    if tok.kind == "quoted":
        return Atom(_unescape(tok.text[1:-1]))
    if tok.kind == "var":
        return Var(tok.text)
    if tok.kind == "char":
        return ord(_unescape(tok.text[1:]))
    if tok.kind == "number":
        try:
            return _number(tok.text)
        except ValueError:  # 99#1, 2#9, or more digits than Python converts
            raise ErlangSyntaxError(tok.line, f"{tok.text[:20]!r} is not a number") from None
    raise ErlangSyntaxError(tok.line, f"unexpected {tok.text!r}")


def _number(text: str) -> int | float:
    if "#" in text:
        base, _, digits = text.partition("#")
        return int(digits, int(base.lstrip("-"))) * (-1 if base.startswith("-") else 1)
    return float(text) if "." in text else int(text)


def _collection(toks: list[_Tok], i: int) -> tuple[Any, int]:
    opener = toks[i].text
    items: list[Any] = []
    i += 1
    while toks[i].text != _CLOSE[opener]:
        item, i = _term(toks, i)
        if toks[i].text in ("=>", ":=", "|"):  # a map pair, or a list's tail: keep both sides
            tail, i = _term(toks, i + 1)
            item = (item, tail) if opener == "#{" else [item, tail]
        items.append(item)
        if toks[i].text == ",":
            i += 1
        elif toks[i].text != _CLOSE[opener]:
            raise ErlangSyntaxError(
                toks[i].line, f"expected , or {_CLOSE[opener]}, found {toks[i].text!r}"
            )
    return _build(opener, items), i + 1


def _build(opener: str, items: list[Any]) -> Any:
    if opener == "{":
        return tuple(items)
    if opener == "#{":
        try:
            return dict(items)
        except TypeError:  # a list or map as a key: keep the pairs
            return items
    if opener == "<<":
        return "".join(x for x in items if isinstance(x, str))  # <<"text">>: the text
    return items


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text)
