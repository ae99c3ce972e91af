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
  | (?P<number>-?[0-9]+(?:_[0-9]+)*(?:\#[0-9A-Za-z]+(?:_[0-9A-Za-z]+)*
                                   |\.[0-9]+(?:_[0-9]+)*(?:[eE][-+]?[0-9]+)?)?)
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
        self.message = message


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    line: int


def consult(text: str) -> list[Any]:
    """The terms of a rebar.config-style file, one per `Term.`; unreadable terms are skipped."""
    terms: list[Any] = []
    for toks in _statements(_tokens(text)):
        try:
            terms.append(_statement(toks))
        except (ErlangSyntaxError, IndexError, RecursionError):  # nested past Python's stack
            continue
    return terms


def consult_strict(text: str) -> list[tuple[int, Any]]:
    """Each term with the line it starts on, or ErlangSyntaxError at the first one that
    `file:consult/1` (how rebar3 reads rebar.config) would refuse: a syntax error, a variable,
    no final `.`. Only terms are read, never evaluated, so a construct this reader does not know
    (a fun, `- 1`) is refused too, and named."""
    terms: list[tuple[int, Any]] = []
    for toks in _statements(_tokens(text)):
        try:
            terms.append((toks[0].line, _statement(toks)))
        except RecursionError:
            raise ErlangSyntaxError(toks[0].line, "nested too deeply to read") from None
        var = next((t for t in toks if t.kind == "var"), None)
        if var is not None:
            raise ErlangSyntaxError(var.line, f"{var.text} is a variable; only values can be read")
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
    """The tokens of each statement with its `.` last; text after the last `.` ends with a
    made-up `eof` token instead, so no statement is dropped and none is read past its end."""
    chunk: list[_Tok] = []
    for tok in tokens:
        chunk.append(tok)
        if tok.kind == "end":
            yield chunk
            chunk = []
    if chunk:
        yield [*chunk, _Tok("eof", "", chunk[-1].line)]


def _statement(toks: list[_Tok]) -> Any:
    term, i = _term(toks, 0)
    if toks[i].kind == "eof":
        raise ErlangSyntaxError(toks[i].line, "no '.' after the last term")
    if toks[i].kind != "end":
        raise ErlangSyntaxError(toks[i].line, f"unexpected {toks[i].text!r} after a whole term; "
                                "a ',' or '.' missing?")
    return term


def _term(toks: list[_Tok], i: int) -> tuple[Any, int]:
    tok = toks[i]
    if tok.kind == "punct" and tok.text in _CLOSE:
        return _collection(toks, i)
    if tok.kind == "string":
        text, i = "", i
        while toks[i].kind == "string":  # "a" "b" is one string
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
    if tok.kind in ("end", "eof"):
        raise ErlangSyntaxError(tok.line, "a value is missing before the end of the term")
    if tok.text in ('"', "'"):
        kind = "string" if tok.text == '"' else "quoted atom"
        raise ErlangSyntaxError(tok.line, f"a {kind} that is never closed")
    raise ErlangSyntaxError(tok.line, f"unexpected {tok.text!r}")


def _number(text: str) -> int | float:
    if "#" in text:
        base, _, digits = text.partition("#")
        return int(digits, int(base.lstrip("-"))) * (-1 if base.startswith("-") else 1)
    return float(text) if "." in text else int(text)


def _collection(toks: list[_Tok], i: int) -> tuple[Any, int]:
    opener, close, line = toks[i].text, _CLOSE[toks[i].text], toks[i].line
    items: list[Any] = []
    i += 1
    while toks[i].text != close:
        item, i = _term(toks, i)
        if toks[i].text in ("=>", ":=", "|"):  # a map pair, or a list's tail: keep both sides
            tail, i = _term(toks, i + 1)
            item = (item, tail) if opener == "#{" else [item, tail]
        elif opener == "#{":
            raise ErlangSyntaxError(toks[i].line, "a map entry needs '=>'")
        if opener == "<<":
            i = _bit_type(toks, i)
        items.append(item)
        if toks[i].text == "," and toks[i + 1].text == close:
            raise ErlangSyntaxError(toks[i].line, f"a ',' with nothing after it before {close}")
        if toks[i].text == ",":
            i += 1
        elif toks[i].kind in ("end", "eof"):
            raise ErlangSyntaxError(toks[i].line, f"{opener!r} from line {line} is not closed")
        elif toks[i].text != close:
            raise ErlangSyntaxError(toks[i].line, f"expected , or {close}, found {toks[i].text!r}")
    return _build(opener, items), i + 1


def _bit_type(toks: list[_Tok], i: int) -> int:
    """Past a binary element's size and type: <<1:8>>, <<"text"/utf8>>, /big-unsigned."""
    if toks[i].text == ":" and toks[i + 1].kind == "number":
        i += 2
    while toks[i].text in ("/", "-") and toks[i + 1].kind == "atom":
        i += 2
    return i


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
