from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from scripts.descriptor_table import table
from tests.conftest import FIXTURES, REPO, Result

README = (REPO / "README.md").read_text("utf-8")
DESCRIPTOR_PAGE = (REPO / "docs" / "descriptor.md").read_text("utf-8")
START, END = "<!-- descriptor-table:start -->\n", "<!-- descriptor-table:end -->"

# Lines of the README's shell blocks that no test here runs, each with the reason.
NOT_RUN = {
    "cigen pin": "asks the images' registries (network); tests/pin/ runs it on a fake registry",
    "pipx install 'git+https://<cigen's git URL>@<commit>'": "installation; placeholder URL",
    "pip wheel --no-deps -w dist .": "builds cigen's wheel: installation",
    "pipx install dist/cigen-*.whl": "installation",
    "python3 -m venv .venv && .venv/bin/pip install -e .": "the development install tests run in",
    "bash .ci/run": "the whole test suite: CI runs it",
}
# The rebar3 project the quick start's commands run in, one after the other.
QUICK_START_PROJECT = "init/single_app"


def shell_lines(text: str) -> Iterator[str]:
    """Each command of the ```sh, ```console and ```bash blocks, without prompt or comment."""
    for block in re.findall(r"^```(?:sh|console|bash)\n(.*?)^```", text, re.M | re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#\s.*$", "", line.removeprefix("$ ")).strip()
            if line and not line.startswith("#"):
                yield line


def cigen_argv(line: str) -> list[str] | None:
    """The argv of a line that runs cigen (`cigen ...` or `.venv/bin/cigen ...`), else None."""
    words = line.split()
    if words[0] in ("cigen", ".venv/bin/cigen"):
        return ["cigen", *words[1:]]
    return None


def test_readme_fits_on_a_first_screen() -> None:
    assert len(README.encode()) <= 8192


def test_every_readme_command_is_run_or_known() -> None:
    lines = list(shell_lines(README))
    unknown = [line for line in lines if cigen_argv(line) is None and line not in NOT_RUN]
    assert not unknown, "run these in a test, or add them to NOT_RUN with the reason"
    stale = [line for line in NOT_RUN if line not in lines]
    assert not stale, "the README no longer shows these; drop them from NOT_RUN"


def test_readme_cigen_commands_succeed(
    run_line: Callable[..., Result], project_copy: Callable[[str], Path], tmp_path: Path
) -> None:
    """Each `cigen` line, in order: the quick start in a rebar3 project without a descriptor;
    a line naming a fixture (`-c fixtures/<name>/cigen.yaml`) in a scratch copy of the repo."""
    project = project_copy(QUICK_START_PROJECT)
    repo = tmp_path / "repo"
    ran = []
    for line in shell_lines(README):
        argv = cigen_argv(line)
        if argv is None or line in NOT_RUN:
            continue
        cwd = project
        for name in re.findall(r"\bfixtures/([\w.-]+)/", line):
            if not (repo / "fixtures" / name).exists():
                shutil.copytree(FIXTURES / name, repo / "fixtures" / name)
            cwd = repo
        result = run_line(argv, cwd=cwd)
        assert result.code == 0, f"{line}\n{result!r}"
        ran.append(argv[1])
    assert {"init", "render", "check"} <= set(ran)


def test_descriptor_table_is_generated_from_the_schema() -> None:
    start = DESCRIPTOR_PAGE.index(START) + len(START)
    end = DESCRIPTOR_PAGE.index(END)
    assert DESCRIPTOR_PAGE[start:end] == table(), "run: python -m scripts.update_docs"


def test_readme_names_the_setup_commands() -> None:
    assert "bash .ci/run" in README
    assert re.search(
        r"cigen render -c \S*fixtures/service_discovery|fixtures/service_discovery/cigen.yaml",
        README,
    )
