from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import typer

from cigen import __version__
from cigen.targets import TARGETS

app = typer.Typer(
    help="Render and check the CI/CD and container build files of an Erlang/OTP service.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click messages: greppable, and no rich import at start-up
)

Config = Annotated[
    Path, typer.Option("-c", "--config", help="Descriptor path.", dir_okay=False)
]


def _names(names: list[str] | None) -> list[str]:
    # A parameter callback: click turns BadParameter into a usage error (exit 2).
    for name in names or []:
        if name not in TARGETS:
            raise typer.BadParameter(f"{name!r} is not one of {', '.join(TARGETS)}")
    return names or []


Names = Annotated[
    Optional[list[str]],  # noqa: UP045 (typer needs Optional on 3.10)
    typer.Argument(
        help="circleci, github, cloudbuild, dockerfile; none: the descriptor's targets.",
        callback=_names, metavar="[TARGET]...", show_default=False,
    ),
]


def _version(value: bool) -> None:
    if value:
        print(f"cigen {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """cigen: one descriptor, every CI file."""


@app.command()
def render(
    names: Names = None,
    config: Config = Path("cigen.yaml"),
    force: Annotated[
        bool, typer.Option("--force", help="Replace files that lack the cigen marker.")
    ] = False,
) -> None:
    """Write the outputs of the named targets (only files whose content changed)."""
    from cigen import commands

    _exit(lambda: commands.render(config, names or [], force))


@app.command()
def check(names: Names = None, config: Config = Path("cigen.yaml")) -> None:
    """Exit 1 and show a diff when a generated file is stale, missing or hand-edited."""
    from cigen import commands

    _exit(lambda: commands.check(config, names or []))


@app.command()
def validate(config: Config = Path("cigen.yaml")) -> None:
    """Validate the descriptor, and the rendered outputs against the official schemas."""
    from cigen import commands

    _exit(lambda: commands.validate(config))


@app.command()
def kaniko(
    dockerfile: Annotated[Path, typer.Argument(help="A BuildKit Dockerfile.", dir_okay=False)],
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("-o", "--output", help="Write here (- : stdout, the default)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a file that lacks the cigen marker.")
    ] = False,
) -> None:
    """Convert a BuildKit Dockerfile into a Kaniko-compatible one."""
    from cigen import commands

    _exit(lambda: commands.kaniko(dockerfile, output, force))


@app.command()
def pin(
    config: Config = Path("cigen.yaml"),
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 if a pinned tag moved.")
    ] = False,
    keep_going: Annotated[
        bool, typer.Option("--keep-going", help="Write what resolved; exit 1 if anything failed.")
    ] = False,
    actions: Annotated[
        bool, typer.Option("--actions", help="Refresh the repository's GitHub Actions "
                                 "pins (github.action_pins) instead.")
    ] = False,
    upgrade: Annotated[
        bool, typer.Option("--upgrade", help="First move OTP, rebar3 and versioned image tags "
                           "to the newest patch of their line (with --check: exit 1 if any).")
    ] = False,
) -> None:
    """Pin image references to digests through the registry API (credentials: Docker config)."""
    from cigen.pin import pin as run

    _exit(lambda: run(config, check, keep_going, actions, upgrade=upgrade))


@app.command()
def init(
    directory: Annotated[
        Path, typer.Argument(help="The rebar3 project.", file_okay=False, exists=True)
    ] = Path("."),
) -> None:
    """Write a starter cigen.yaml inferred from rebar.config and friends; never overwrites one."""
    from cigen.init import init as run

    _exit(lambda: run(directory))


@app.command()
def schema() -> None:
    """Print the descriptor's JSON Schema."""
    from cigen.schema import text

    sys.stdout.write(text())


def _exit(run: Callable[[], int]) -> None:
    from cigen.errors import handled

    raise typer.Exit(handled(run))
