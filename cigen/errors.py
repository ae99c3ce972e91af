from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any


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


class OutputError(CigenError):
    """Standard output cannot be written (closed, a full disk, a closed pipe)."""


class _Guarded:
    """sys.stdout whose failures are OutputErrors: a message and exit 2, not a traceback."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return int(self._guard(lambda: self.stream.write(text)))

    def flush(self) -> None:
        self._guard(lambda: self.stream.flush())

    def _guard(self, call: Callable[[], Any]) -> Any:
        try:
            if self.stream is None:
                raise OSError(9, "it is closed")
            return call()
        except OSError as e:
            self.stream = open(os.devnull, "w")  # noqa: SIM115 (the old one is unusable)
            raise OutputError(f"cannot write to standard output: {e.strerror}") from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def handled(run: Callable[[], int]) -> int:
    """The command's exit code; every error becomes a message and a code, never a traceback
    (3, an internal error, prints one to be reported)."""
    guarded = sys.stdout = _Guarded(sys.stdout)
    try:
        code = run()
        guarded.flush()  # here, not at exit, so that a failure is reported
        return code
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
    finally:
        sys.stdout = guarded.stream
