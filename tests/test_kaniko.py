from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import dockerfile
import pytest

from cigen.dockerfile.kaniko import Conversion, convert
from cigen.errors import ConversionError

CASES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "kaniko"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "Dockerfile").is_file())
UPDATE = os.environ.get("CIGEN_UPDATE_GOLDENS") == "1"
HADOLINT = Path(sys.executable).parent / "hadolint"

# Rules hadolint may raise on converted output, and why each is not the converter's to fix.
HADOLINT_IGNORES = {
    "DL3008": "apt-get install without version pins: the packages and their pinning come "
    "from the input Dockerfile; the converter does not choose versions",
    "DL3018": "apk add without version pins: as DL3008, the input's choice",
    "DL3027": "apt instead of apt-get: the input's command is kept as written (the chapter's "
    "2023 Dockerfile uses apt)",
    "DL3000": "relative WORKDIR: kept from the input (the corpus uses one to test how mount "
    "targets resolve); the converter never writes a WORKDIR",
    "DL3042": "pip without --no-cache-dir: a pip cache mount is dropped as it is, like every "
    "cache mount that is not apk's or apt's (the note says its content now stays in the layer)",
    "SC2016": "single-quoted $ in a printf argument: the converter passes heredoc lines as "
    "single-quoted printf arguments on purpose; eval or the written file sees them verbatim, "
    "exactly as BuildKit passed the heredoc",
    "DL3059": "consecutive RUN instructions: they come from the input; merging them would "
    "change the layers (and Kaniko's layer cache) the author chose",
}


def _options(case: Path) -> dict[str, str]:
    stage = case / "published-stage.txt"
    return {"published_stage": stage.read_text().strip()} if stage.exists() else {}


def _run_case(case: Path) -> Conversion | ConversionError:
    text = (case / "Dockerfile").read_text()
    try:
        return convert(text, "Dockerfile", **_options(case))
    except ConversionError as error:
        return error


def _check_or_update(path: Path, actual: str) -> None:
    if UPDATE:
        path.write_text(actual)
    assert path.exists(), f"missing golden {path}; run with CIGEN_UPDATE_GOLDENS=1 and review it"
    assert actual == path.read_text()


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str) -> None:
    case = CASES_DIR / name
    result = _run_case(case)
    if isinstance(result, ConversionError):
        assert not (case / "expected").exists(), str(result)
        _check_or_update(case / "expected-error.txt", str(result) + "\n")
        return
    assert not (case / "expected-error.txt").exists(), "conversion unexpectedly succeeded"
    _check_or_update(case / "expected", result.text)
    _check_or_update(case / "expected-notes.txt", "".join(n + "\n" for n in result.notes))


def _converted(name: str) -> Conversion:
    result = _run_case(CASES_DIR / name)
    if isinstance(result, ConversionError):
        pytest.skip("an error case has no output")
    return result


@pytest.mark.parametrize("name", CASES)
def test_output_is_plain_dockerfile(name: str) -> None:
    result = _converted(name)
    assert result.text.endswith("\n") and not result.text.endswith("\n\n")
    commands = dockerfile.parse_string(result.text)
    for cmd in commands:
        assert not cmd.heredocs, cmd
        assert not any(f.lower().startswith("--mount") for f in cmd.flags), cmd
        assert "--mount" not in cmd.original, cmd
    assert not re.match(r"(?:#[ \t]*\w+[ \t]*=.*\n)*#[ \t]*syntax[ \t]*=", result.text, re.I)


@pytest.mark.parametrize("name", CASES)
def test_output_is_a_fixed_point(name: str) -> None:
    result = _converted(name)
    again = convert(result.text)
    assert again.text == result.text
    assert again.base_args == ()


@pytest.mark.parametrize("name", CASES)
def test_base_args_are_declared(name: str) -> None:
    result = _converted(name)
    for arg, image in result.base_args:
        assert f"ARG {arg}={image}\n".lower() in result.text.lower()
        assert re.search(rf"^from (--\S+ )*\${arg}\b", result.text, re.I | re.M)


@pytest.mark.parametrize("name", CASES)
def test_hadolint_passes(name: str, tmp_path: Path) -> None:
    result = _converted(name)
    target = tmp_path / "Dockerfile"
    target.write_text(result.text)
    ignores = [arg for rule in HADOLINT_IGNORES for arg in ("--ignore", rule)]
    lint = subprocess.run(
        [str(HADOLINT), "--no-color", *ignores, str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
