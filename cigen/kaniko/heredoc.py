from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Sequence
from typing import NamedTuple, Protocol

from cigen.kaniko.source import shell_quote

# BuildKit's own test for "the whole RUN is one heredoc": `<<WORD` alone on the line.
_MARKER = re.compile(r"^(\d*)<<(-?)([^<]*)$")
_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)
_PLAIN = re.compile(r"[\w/.,:@+=-]+")


class Heredoc(Protocol):
    name: str
    content: str


class Marker(NamedTuple):
    chomp: bool
    quoted: bool


class Script(NamedTuple):
    text: str
    shebang: bool


def marker(word: str) -> Marker | None:
    match = _MARKER.match(word.strip())
    if match is None or not match[3]:
        return None
    try:
        words = shlex.split(match[3])
    except ValueError:
        return None
    if len(words) != 1:
        return None
    return Marker(match[2] == "-", any(quote in match[3] for quote in "'\"\\"))


def chomp(content: str) -> str:
    return _LEADING_TABS.sub("", content)


def run_script(command: str, heredocs: Sequence[Heredoc]) -> Script:
    """The shell script BuildKit runs for a RUN with heredocs (dockerfile2llb dispatchRun)."""
    found = marker(command) if len(heredocs) == 1 else None
    if found is None:
        # BuildKit hands the command and the heredocs back to the shell, which then does
        # the expansion, the <<- tab stripping and the quoting rules itself.
        return Script(command + "".join(f"\n{h.content}{h.name}" for h in heredocs), False)
    data = chomp(heredocs[0].content) if found.chomp else heredocs[0].content
    # one bare heredoc is the script itself; BuildKit ignores its quoting here
    return Script(data, data.startswith("#!"))


def printf_args(lines: Sequence[str], escape: str, newline: str) -> str:
    """`printf '%s\\n'` with one quoted argument per physical line."""
    args = f" {escape}{newline}".join(f"    {_unpaired(shell_quote(line))}" for line in lines)
    return f"printf '%s\\n' {escape}{newline}{args}"


def _unpaired(quoted: str) -> str:
    # BuildKit's parser looks for heredocs in the whole RUN line and does not see that these
    # lines are quoted inside "$(...)": after a `"` in a line, `<<EOF` starts a heredoc it
    # never finds the end of. '' between the two `<` (only ever inside single quotes here)
    # leaves the shell's text as it was.
    return re.sub("<(?=<)", "<''", quoted)


def script_lines(text: str) -> list[str]:
    lines = text.split("\n")
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def eval_command(script: str, escape: str, newline: str) -> str:
    # `eval` runs the script in the RUN's own shell (SHELL), like BuildKit's `sh -c`; the
    # command substitution only strips trailing newlines, which a script never needs.
    return f'eval "$({printf_args(script_lines(script), escape, newline)})"'


def shebang_command(script: str, escape: str, newline: str, after: str) -> str:
    # BuildKit writes a #! script to a 0755 file and executes it; so do we, in a temp file
    # that is removed again so the layer does not keep it.
    lines = script[:-1].split("\n") if script.endswith("\n") else script.split("\n")
    write = f'{printf_args(lines, escape, newline)} > "$f"'
    return (
        f'f="$(mktemp)" && {write} && chmod 755 "$f" && "$f"{after}; rc=$?; rm -f "$f"; exit "$rc"'
    )


def write_files_command(
    files: Sequence[tuple[str, str]], mode: str, chown: str | None, escape: str, newline: str
) -> str:
    """Shell that writes each (path, content) like COPY would: parents 0755, file `mode`."""
    parents = sorted({posixpath.dirname(path) for path, _ in files} - {"", "/", "."})
    steps = [f"mkdir -p {' '.join(quote_path(p) for p in parents)}"] if parents else []
    for path, content in files:
        target = quote_path(path)
        if content:
            lines = content.removesuffix("\n").split("\n")
            steps.append(f"{printf_args(lines, escape, newline)} > {target}")
        else:
            steps.append(f": > {target}")
        steps.append(f"chmod {mode} {target}")
        if chown:
            steps.append(f"chown {chown} {target}")
    return " && ".join(steps)


def quote_path(path: str) -> str:
    if "$" in path:
        # a destination with $VAR: let the RUN's shell expand the ENV/ARG, as COPY would
        return f'"{path}"'
    return path if _PLAIN.fullmatch(path) else shell_quote(path)


def expandable(content: str) -> bool:
    """True when BuildKit's build-time expansion could change unquoted heredoc text."""
    return "$" in content or "\\" in content
