"""The recipes of the Makefile targets a CI file runs (`make test-env`, `make ct`): what they run
counts as what CI runs. A rule is `targets : prerequisites`, its recipe lines after it each
start with a tab, or its first recipe line follows `;` on the rule's line (GNU make's manual,
"Rule Syntax", gnu.org/software/make/manual/html_node/Rule-Syntax.html)."""

from __future__ import annotations

import re
from pathlib import Path

from cigen.init.yamlfiles import read_text

FILE = "Makefile"
_RULE = re.compile(r"^([A-Za-z0-9_.%/-]+(?:[ \t]+[A-Za-z0-9_.%/-]+)*)[ \t]*::?(?!=)(.*)$")


def recipes(root: Path) -> dict[str, tuple[int, str]]:
    """target -> (the line of its rule, its recipe and its prerequisites' as one script)."""
    rules: dict[str, tuple[int, list[str], list[str]]] = {}
    current: list[str] = []
    for number, line in enumerate((read_text(root, FILE) or "").splitlines(), 1):
        if line.startswith("\t"):
            for target in current:
                rules[target][2].append(line[1:].lstrip("@-+ \t"))
            continue
        found = _RULE.match(line)
        current = found.group(1).split() if found else []
        rest, _, inline = (found.group(2) if found else "").partition(";")
        for target in current:
            rules.setdefault(target, (number, rest.split(), []))
            if inline.strip():
                rules[target][2].append(inline.strip().lstrip("@-+ \t"))
    return _Recipes(rules)


class _Recipes(dict[str, tuple[int, str]]):
    """target -> (line, script), each script put together when it is first asked for."""

    def __init__(self, rules: dict[str, tuple[int, list[str], list[str]]]) -> None:
        super().__init__()
        self.rules = rules

    def __contains__(self, target: object) -> bool:
        return target in self.rules

    def __missing__(self, target: str) -> tuple[int, str]:
        found = self[target] = (self.rules[target][0], "\n".join(_script(target, self.rules,
                                                                           set())))
        return found


def _script(target: str, rules: dict[str, tuple[int, list[str], list[str]]],
            done: set[str]) -> list[str]:
    """The recipe lines make runs for `target`: its prerequisites' first (each once), then its
    own; without recursion, so a long chain of targets cannot exhaust the stack."""
    lines: list[str] = []
    stack: list[tuple[str, bool]] = [(target, False)]
    while stack:
        name, expanded = stack.pop()
        if expanded:
            lines += rules[name][2]
        elif name not in done and name in rules:
            done.add(name)
            stack.append((name, True))
            stack += [(p, False) for p in reversed(rules[name][1])]
    return lines
