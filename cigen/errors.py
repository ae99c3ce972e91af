from __future__ import annotations


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
