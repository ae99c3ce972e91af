"""What the shell commands of a CI file run: rebar3 checks, image pushes, compose files."""

from __future__ import annotations

import re
import shlex

from cigen.init.facts import Said, Seen

CHECKS = ("xref", "dialyzer", "eunit", "ct", "cover")
_REBAR3 = re.compile(r"^(?:\./)?rebar3$")
_SEPARATORS = frozenset({"&&", "||", ";", "|", "&"})


def commands(text: str) -> list[list[str]]:
    """Each simple command of a script as words (quotes removed), line continuations joined;
    a line shlex cannot split is split on blanks."""
    joined = re.sub(r"\\\r?\n", " ", text)
    found: list[list[str]] = []
    for line in joined.splitlines():
        try:
            lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
            lexer.whitespace_split = True
            lexer.commenters = "#"
            words = list(lexer)
        except ValueError:
            words = line.split()
        current: list[str] = []
        for word in words:
            if word in _SEPARATORS:
                found.append(current)
                current = []
            else:
                current.append(word)
        found.append(current)
    return [words for words in found if words]


def scan(script: str, at: str, said: Said) -> None:
    """What a CI step's script runs, into `said`: checks, pushes, compose files, make targets."""
    said.checks += [Seen(check, at, f"rebar3 {check}") for check in rebar3_checks(script)]
    said.pushes += [Seen(ref, at, f"docker ... {ref}") for ref in pushed(script)]
    said.compose += compose_files(script)
    said.make += [Seen(target, at, f"make {target}") for target in make_targets(script)]


def make_targets(text: str) -> list[str]:
    """The targets of `make a b` commands (options and VAR=value words left out)."""
    found = []
    for words in commands(text):
        if words and words[0].rsplit("/", 1)[-1] in ("make", "gmake"):
            found += [w for w in words[1:] if not w.startswith("-") and "=" not in w]
    return found


def rebar3_checks(text: str) -> list[str]:
    """The checks `rebar3 ...` runs: `rebar3 ct`, `rebar3 as test do eunit, ct --cover`;
    --cover (-c) on eunit or ct, and covertool, count as cover."""
    found: list[str] = []
    for words in commands(text):
        start = next((i for i, w in enumerate(words) if _REBAR3.match(w.rsplit("/", 1)[-1])),
                     None)
        if start is None:
            continue
        rest = words[start + 1:]
        if len(rest) >= 2 and rest[0] == "as":
            rest = rest[2:]
        if rest[:1] == ["do"]:
            rest = " ".join(rest[1:]).replace(",", " , ").split()
        found += _tasks(rest)
    return list(dict.fromkeys(found))


def _tasks(words: list[str]) -> list[str]:
    found, first = [], True
    for word in words:
        if word == ",":
            first = True
            continue
        if first and word in CHECKS:
            found.append(word)
        elif first and word == "covertool":
            found.append("cover")
        elif word in ("--cover", "-c") and found and found[-1] in ("eunit", "ct"):
            found.append("cover")
        first = False
    return found


def pushed(text: str) -> list[str]:
    """Image references a script pushes or tags for a push: `docker push REF`, `docker build
    -t REF`, `docker buildx build --tag REF`, `docker tag SRC REF`."""
    found: list[str] = []
    for words in commands(text):
        if not words or words[0].rsplit("/", 1)[-1] != "docker":
            continue
        verbs = [w for w in words[1:] if not w.startswith("-")]
        if verbs[:1] == ["push"] and len(verbs) > 1:
            found.append(verbs[1])
        elif verbs[:1] == ["tag"] and len(verbs) > 2:
            found.append(verbs[2])
        elif verbs[:1] == ["build"] or verbs[:2] == ["buildx", "build"]:
            found += _option(words, ("-t", "--tag"))
    return found


def book_registry(text: str) -> list[str]:
    """The registry the book's ci/build_images.sh is given (`-r us.gcr.io/adoptingerlang`;
    the script pushes <registry>/<release name>)."""
    found: list[str] = []
    for words in commands(text):
        if words and re.search(r"(?:^|/)build_images?\.sh$", words[0]):
            found += _option(words, ("-r",))
    return found


def compose_files(text: str) -> list[str]:
    """The files `docker compose -f FILE` or `docker-compose --file FILE` starts."""
    found: list[str] = []
    for words in commands(text):
        name = words[0].rsplit("/", 1)[-1] if words else ""
        if name == "docker-compose" or (name == "docker" and "compose" in words[1:2]):
            found += _option(words, ("-f", "--file"))
    return found


def _option(words: list[str], names: tuple[str, ...]) -> list[str]:
    found = []
    for i, word in enumerate(words):
        if word in names and i + 1 < len(words):
            found.append(words[i + 1])
        for name in names:
            if name.startswith("--") and word.startswith(name + "="):
                found.append(word.split("=", 1)[1])
    return found
