"""cigen.erlterms: the lenient reader (skips what it cannot read) and the strict one init uses
on rebar.config (stops at the first term rebar3 would refuse, with its line)."""

from __future__ import annotations

import pytest

from cigen.erlterms import ErlangSyntaxError, consult, consult_strict


def test_strict_gives_each_term_with_the_line_it_starts_on() -> None:
    text = '%% head\n{a, 1}.\n\n{b,\n  [x, <<"t"/utf8>>, <<1:8>>, 1_000, 16#f_f]}.  % tail\n'
    assert consult_strict(text) == [(2, ("a", 1)), (4, ("b", ["x", "t", "", 1000, 255]))]
    assert consult(text) == [term for _, term in consult_strict(text)]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("{a, 1} {b, 2}.\n", 1, "unexpected '{' after a whole term; a ',' or '.' missing?"),
        ("{a, 1}.\n{b, 2}\n", 2, "no '.' after the last term"),
        ("{a,\n [1,\n 2.\n{b, 1}.\n", 3, "'[' from line 2 is not closed"),
        ("{a, [1,]}.\n", 1, "a ',' with nothing after it before ]"),
        (".\n", 1, "a value is missing before the end of the term"),
        ("{a, 'b}.\n", 1, "a quoted atom that is never closed"),
        ("{a, ?MODULE}.\n", 1, "unexpected '?'"),
        ("{a, 2#9}.\n", 1, "'2#9' is not a number"),
        ("{a, [1 | T]}.\n", 1, "T is a variable; only values can be read"),
    ],
)
def test_strict_stops_at_the_first_bad_term(text: str, line: int, message: str) -> None:
    with pytest.raises(ErlangSyntaxError) as info:
        consult_strict(text)
    assert (info.value.line, info.value.message) == (line, message)


@pytest.mark.parametrize("term", ["#{a}", "#{ab}", "#{a => 1, b}"])
def test_a_map_entry_without_an_arrow_is_skipped_not_a_crash(term: str) -> None:
    # #{a} once raised ValueError from dict() out of the lenient reader
    assert consult(f"{{x, {term}}}.\n{{y, 1}}.\n") == [("y", 1)]


def test_lenient_still_skips_and_goes_on() -> None:
    assert consult("{a, [1,}.\n{b, 1}.\n{c, 2}") == [("b", 1)]  # the last has no '.'
