"""The `cigen` command's entry point: the pre-commit hook's `cigen check` is answered without
importing typer (a third of its run time); everything else goes to the full parser in cli.py."""

from __future__ import annotations

import sys
from pathlib import Path

from cigen.errors import handled


def main() -> None:
    plain = _plain_check(sys.argv[1:])
    if plain is None:
        from cigen.cli import app

        app()
        return
    from cigen import commands

    sys.exit(handled(lambda: commands.check(*plain)))


def _plain_check(args: list[str]) -> tuple[Path, list[str]] | None:
    """`check [-c PATH] [TARGET]...` and nothing else, else None (the full parser answers)."""
    from cigen.targets import TARGETS

    if not args or args[0] != "check":
        return None
    config, names, rest = Path("cigen.yaml"), [], args[1:]
    while rest:
        arg = rest.pop(0)
        if arg in ("-c", "--config") and rest and not rest[0].startswith("-"):
            config = Path(rest.pop(0))
        elif arg in TARGETS:
            names.append(arg)
        else:
            return None
    return None if config.is_dir() else (config, names)
