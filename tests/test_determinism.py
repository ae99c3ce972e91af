from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cigen.yamlio import dump
from tests import oracles
from tests.conftest import FIXTURES, PROJECTS, REPO
from tests.helpers import load_project, texts

# A descriptor whose values are not ASCII: a render that used the locale's encoding anywhere
# would write other bytes (or fail) under tr_TR.ISO-8859-9.
UNICODE = {
    "version": 1, "name": "hello", "registry": "ghcr.io/acme",
    "erlang": {"otp": "26.2.5", "env": {"GREETING": "İyi günler, ünïcødé ✓ 🐳", "i": "I ı İ"}},
    "image": {"env": {"MOTD": "Şekerli ‘quotes’ and $HOME and \\ and \"q\""}},
    "cloudbuild": {"substitutions": {"_NOTE": "çay ☕"}, "tags": ["${_NOTE}"]},
}
LOCALES = ("C", "C.UTF-8", "tr_TR.UTF-8", "tr_TR.ISO-8859-9")
HASH_SEEDS = ("0", "1", "4242", "random")


def sources(tmp_path: Path) -> dict[str, Path]:
    """Every fixture project, and one with non-ASCII values."""
    found = {name: FIXTURES / name for name in PROJECTS}
    found["unicode"] = tmp_path / "unicode-source"
    found["unicode"].mkdir()
    (found["unicode"] / "cigen.yaml").write_text(dump(UNICODE), "utf-8")
    return found


def expected(projects: dict[str, Path]) -> dict[str, dict[str, bytes]]:
    out = {}
    for name, root in projects.items():
        project = load_project(root / "cigen.yaml")
        rendered = texts(project)
        out[name] = {rel: text.encode("utf-8") for rel, text in rendered.items()}
    return out


def render_elsewhere(tmp_path: Path, projects: dict[str, Path], wanted: dict[str, dict[str, bytes]],
                     python: str, env: dict[str, str]) -> dict[str, dict[str, bytes]]:
    """Each project copied without its outputs, rendered by `python -m cigen` with `env`."""
    got = {}
    for name, source in projects.items():
        root = tmp_path / name
        shutil.copytree(source, root)
        for rel in wanted[name]:
            (root / rel).unlink(missing_ok=True)
        oracles.run(python, "-m", "cigen", "render", "-c", root / "cigen.yaml",
                    env={**env, "PYTHONPATH": str(REPO)}, cwd=tmp_path)
        got[name] = {rel: (root / rel).read_bytes() for rel in wanted[name]}
    return got


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return sources(tmp_path_factory.mktemp("sources"))


@pytest.fixture(scope="module")
def wanted(projects: dict[str, Path]) -> dict[str, dict[str, bytes]]:
    return expected(projects)


@pytest.mark.parametrize("seed", HASH_SEEDS)
def test_same_bytes_whatever_the_hash_seed(tmp_path: Path, projects: dict[str, Path],
                                           wanted: dict[str, dict[str, bytes]], seed: str) -> None:
    got = render_elsewhere(tmp_path, projects, wanted, sys.executable, {"PYTHONHASHSEED": seed})
    assert got == wanted


@pytest.fixture(scope="module")
def locale_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tr_TR locales compiled with localedef (glibc reads them through LOCPATH): nothing is
    installed system-wide."""
    if shutil.which("localedef") is None or not Path("/usr/share/i18n/locales/tr_TR").exists():
        oracles.missing("localedef or the tr_TR locale source is missing (Debian: locales)")
    root = tmp_path_factory.mktemp("locales")
    for charset in ("UTF-8", "ISO-8859-9"):
        subprocess.run(["localedef", "-i", "tr_TR", "-f", charset, str(root / f"tr_TR.{charset}")],
                       check=False, capture_output=True)  # warnings give exit 1; checked below
    return root


@pytest.mark.parametrize("name", LOCALES)
def test_same_bytes_in_every_locale(tmp_path: Path, projects: dict[str, Path], name: str,
                                    wanted: dict[str, dict[str, bytes]], locale_dir: Path) -> None:
    env = {"LC_ALL": name, "LANG": name, "LOCPATH": str(locale_dir)}
    probe = oracles.run(sys.executable, "-c", "import locale; locale.setlocale(locale.LC_ALL, '');"
                        "print(locale.setlocale(locale.LC_ALL), locale.getpreferredencoding())",
                        env=env)
    print(f"\n{name}: python runs with {probe.stdout.strip()}")
    if name.startswith("tr_TR"):
        assert probe.stdout.split()[0] == name  # the locale really is in effect
    got = render_elsewhere(tmp_path, projects, wanted, sys.executable, env)
    assert got == wanted


def other_pythons() -> list[str]:
    """Interpreters named in CIGEN_TEST_PYTHONS (os.pathsep-separated) that have cigen's
    dependencies, e.g. venvs of the oldest and newest Python that pyproject allows."""
    return [p for p in os.environ.get("CIGEN_TEST_PYTHONS", "").split(os.pathsep) if p]


@pytest.mark.skipif(not other_pythons(), reason="set CIGEN_TEST_PYTHONS to other interpreters")
@pytest.mark.parametrize("python", other_pythons() or ["none"])
def test_same_bytes_on_other_pythons(tmp_path: Path, projects: dict[str, Path],
                                     wanted: dict[str, dict[str, bytes]], python: str) -> None:
    version = oracles.run(python, "-c", "import sys; print(sys.version.split()[0])").stdout
    print(f"\n{python}: Python {version.strip()}")
    got = render_elsewhere(tmp_path, projects, wanted, python, {"PYTHONHASHSEED": "random"})
    assert got == wanted


def test_the_unicode_project_is_not_ascii(wanted: dict[str, dict[str, bytes]]) -> None:
    """The locale test above is only as good as its input: non-ASCII in every YAML output."""
    for rel, data in wanted["unicode"].items():
        if rel.endswith((".yml", ".yaml")) or rel == "Dockerfile":
            assert any(b > 0x7F for b in data), rel
    assert json.dumps(UNICODE, ensure_ascii=False).encode() != json.dumps(UNICODE).encode()


def test_what_is_double_quoted_is_exactly_what_no_plain_or_literal_scalar_can_hold() -> None:
    """yamlio writes the unprintable set as the characters it holds (fast to compile); it must
    be exactly the complement of what YAML prints as is: tab, line feed, printable ASCII, and
    the rest of Unicode but C1 controls, the YAML 1.1 line breaks, surrogates, BOM and the two
    non-characters at the end of the basic plane."""
    import re

    from cigen.yamlio import _UNPRINTABLE

    printable = re.compile("[\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd"
                           "\U00010000-\U0010ffff]")
    assert [cp for cp in range(0x110000)
            if bool(_UNPRINTABLE.match(chr(cp))) == bool(printable.match(chr(cp)))] == []
