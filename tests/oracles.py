"""Independent checkers for cigen's outputs: each runs a real tool and fails the test on findings.

A missing tool skips the test on a developer's machine and fails it in CI (env CI set), so CI
can never pass by not checking.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).parent / "node"
_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = shutil.which(name, path=f"{_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        missing(f"{name} is not installed")
    return found  # type: ignore[return-value]


def missing(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{why}; CI must install it (.ci/run)")
    pytest.skip(why)


def run(
    *args: str | Path,
    ok: tuple[int, ...] = (0,),
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    unset: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run a checker; fail with its whole output unless its exit code is in `ok`."""
    full_env = {
        **os.environ,
        "PATH": f"{_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **(env or {}),
    }
    for name in unset:
        full_env.pop(name, None)
    proc = subprocess.run(  # noqa: S603
        [str(a) for a in args], capture_output=True, text=True, env=full_env, cwd=cwd, check=False
    )
    if proc.returncode not in ok:
        pytest.fail(
            f"{' '.join(map(str, args))} exited {proc.returncode}\n"
            f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
    return proc


def check_jsonschema(schema: str, *paths: Path) -> None:
    """schema: vendor.circle-ci, vendor.github-workflows or vendor.cloudbuild."""
    run(tool("check-jsonschema"), "--builtin-schema", schema, *paths)


def shellcheck(*paths: Path) -> None:
    run(tool("shellcheck"), "-f", "gcc", *paths)


def hadolint(*paths: Path, ignore: tuple[str, ...] = ()) -> None:
    flags = [f"--ignore={rule}" for rule in ignore]
    run(tool("hadolint"), *flags, *paths)


def actionlint(*paths: Path) -> None:
    tool("shellcheck")  # actionlint silently skips run: scripts without it
    run(tool("actionlint"), "-no-color", *paths)


def zizmor(*paths: Path) -> None:
    # Offline, and no token: zizmor would otherwise run its online audits.
    run(tool("zizmor"), "--offline", "--no-progress", *paths, unset=("GH_TOKEN", "GITHUB_TOKEN"))


def workflow_parser(*paths: Path) -> None:
    """GitHub's own parser (@actions/workflow-parser), with the Node 20 JSON loader hook."""
    if not (NODE_DIR / "node_modules" / "@actions" / "workflow-parser").is_dir():
        missing("tests/node has no node_modules; run: npm ci --prefix tests/node")
    run(
        tool("node"),
        "--import",
        "./register-json.mjs",
        "wfparse.mjs",
        *map(Path.resolve, paths),
        cwd=NODE_DIR,
    )


# Every independent check of a GitHub workflow, for @pytest.mark.parametrize("oracle", ...).
WORKFLOW_ORACLES = [
    pytest.param(lambda *paths: check_jsonschema("vendor.github-workflows", *paths),
                 id="check-jsonschema"),
    pytest.param(actionlint, id="actionlint"),  # with shellcheck on every run script
    pytest.param(zizmor, id="zizmor"),
    pytest.param(workflow_parser, id="workflow-parser"),
]


def yamllint(*paths: Path) -> None:
    config = (
        "{extends: default, rules: {document-start: disable, truthy: {check-keys: false},"
        " line-length: {max: 200}, comments: {min-spaces-from-content: 1}}}"
    )
    run(tool("yamllint"), "-s", "-f", "parsable", "-d", config, *paths)
