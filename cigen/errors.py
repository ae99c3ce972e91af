from __future__ import annotations

import sys
from collections.abc import Callable


class CigenError(Exception):
    """An error cigen reports to the user as text; the CLI maps it to an exit code."""

    exit_code = 2


class DescriptorError(CigenError):
    """The descriptor cannot be used: every problem found, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class ConversionError(CigenError):
    """A Dockerfile has an instruction with no safe Kaniko form."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class RenderError(CigenError):
    """Outputs cannot be rendered or written (a refused overwrite, a path clash, an I/O error)."""


class RemoteError(CigenError):
    """A registry or API could not be reached or answered badly."""


def handled(run: Callable[[], int]) -> int:
    """The command's exit code; every error becomes a message and a code, never a traceback
    (3, an internal error, prints one to be reported)."""
    try:
        return run()
    except CigenError as e:
        print(str(e), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception:
        import traceback

        traceback.print_exc()
        print("cigen: internal error; please report it with the lines above", file=sys.stderr)
        return 3
