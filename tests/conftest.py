from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
# Valid example projects: each folder holds cigen.yaml and its reviewed, committed outputs.
PROJECTS = sorted(p.name for p in FIXTURES.iterdir() if (p / "cigen.yaml").is_file())
# Those that build an image: a library (image: false) has no Dockerfile, build script or image job.
IMAGE_PROJECTS = [name for name in PROJECTS
                  if "\nimage: false\n" not in (FIXTURES / name / "cigen.yaml").read_text("utf-8")]
# Those Cloud Build can build: it has no arm64 workers, and refuses an image for arm64
# (tests/targets/test_cloudbuild_attest.py).
CLOUDBUILD_PROJECTS = [name for name in PROJECTS
                       if "linux/arm64" not in (FIXTURES / name / "cigen.yaml").read_text("utf-8")]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="rewrite expected outputs from the current code; review the diff before committing",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


class Result:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr

    def __repr__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


@pytest.fixture
def run_line() -> Callable[..., Result]:
    """Run `cigen ...` in-process; the returned Result prints everything when an assert fails."""
    from cigen.cli import app

    def run(argv: list[str] | str, cwd: Path | None = None) -> Result:
        args = argv.split() if isinstance(argv, str) else argv
        assert args[0] == "cigen"
        runner = CliRunner()
        with _chdir(cwd):
            out = runner.invoke(app, args[1:], catch_exceptions=False)
        return Result(out.exit_code, out.stdout, out.stderr)

    return run


class _chdir:
    def __init__(self, path: Path | None) -> None:
        self.path, self.old = path, Path.cwd()

    def __enter__(self) -> None:
        if self.path is not None:
            import os

            os.chdir(self.path)

    def __exit__(self, *exc: object) -> None:
        import os

        os.chdir(self.old)


@pytest.fixture
def project_copy(tmp_path: Path) -> Callable[[str], Path]:
    """A scratch copy of a fixture project (descriptor and committed outputs)."""

    def copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(FIXTURES / name, dest)
        return dest

    return copy


@pytest.fixture(autouse=True)
def _check_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own `cigen check` cache, so no test depends on another's runs."""
    monkeypatch.setenv("CIGEN_CACHE_DIR", str(tmp_path_factory.mktemp("check-cache")))


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests reach only loopback: any other connection attempt fails loudly."""
    import socket

    real = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else str(address)
        if (
            isinstance(host, str)
            and not (host.startswith("127.") or host in ("::1", "localhost"))
            and self.family != socket.AF_UNIX
        ):
            raise OSError(f"tests may not reach {host}")
        return real(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)
