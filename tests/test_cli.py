from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import cigen
from cigen import targets
from tests.conftest import FIXTURES, REPO, Result
from tests.helpers import load_project, texts

Run = Callable[..., Result]
SCRIPT = "ci/build_images.sh"


@pytest.fixture
def fresh(tmp_path: Path) -> Callable[[str], Path]:
    """A folder holding only a fixture project's cigen.yaml: no outputs yet."""

    def make(name: str) -> Path:
        dest = tmp_path / name
        dest.mkdir()
        shutil.copy(FIXTURES / name / "cigen.yaml", dest)
        return dest

    return make


def planned(root: Path, names: tuple[str, ...] = ()) -> dict[str, str]:
    project = load_project(root / "cigen.yaml", names)
    return texts(project, *names)


def tree(root: Path) -> dict[str, tuple[int, bytes]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_mode, p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file()}


def rendered(run_line: Run, root: Path) -> dict[str, str]:
    """Render into root and return what should now be there (at least one file)."""
    result = run_line("cigen render", cwd=root)
    assert result.code == 0, result
    outputs = planned(root)
    assert outputs, "the default targets render nothing; nothing to test"
    return outputs


@pytest.mark.parametrize("name", ["minimal", "service_discovery"])
def test_check_passes_right_after_render(
    name: str, fresh: Callable[[str], Path], run_line: Run
) -> None:
    root = fresh(name)
    outputs = rendered(run_line, root)
    assert set(tree(root)) == {"cigen.yaml", *outputs}
    result = run_line("cigen check", cwd=root)
    assert (result.code, result.stdout, result.stderr) == (0, "", ""), result


def test_check_fails_on_a_hand_edit_with_a_diff_and_the_fix(
    fresh: Callable[[str], Path], run_line: Run
) -> None:
    root = fresh("minimal")
    first = sorted(rendered(run_line, root))[0]
    with open(root / first, "a", encoding="utf-8") as f:
        f.write("# my local tweak\n")
    result = run_line("cigen check", cwd=root)
    assert result.code == 1, result
    assert f"{first}: stale or hand-edited" in result.stderr
    assert f"--- {first} (on disk)" in result.stderr
    assert f"+++ {first} (rendered)" in result.stderr
    assert "\n-# my local tweak\n" in result.stderr
    assert result.stderr.endswith("1 generated file(s) out of date; run: cigen render\n")


def test_check_fails_on_a_deleted_output(fresh: Callable[[str], Path], run_line: Run) -> None:
    root = fresh("minimal")
    victim = sorted(rendered(run_line, root))[-1]
    (root / victim).unlink()
    result = run_line("cigen check", cwd=root)
    assert result.code == 1, result
    assert f"{victim}: missing\n" in result.stderr


def test_check_fails_after_a_descriptor_change(fresh: Callable[[str], Path], run_line: Run) -> None:
    root = fresh("minimal")
    rendered(run_line, root)
    descriptor = root / "cigen.yaml"
    descriptor.write_text(descriptor.read_text().replace('"26.2.5"', '"27.3.4"'))
    result = run_line("cigen check", cwd=root)
    assert result.code == 1, result
    assert "+" in result.stderr
    assert "27.3.4" in result.stderr
    assert run_line("cigen render", cwd=root).code == 0
    assert run_line("cigen check", cwd=root).code == 0


def test_check_fails_when_the_script_lost_its_exec_bit(
    fresh: Callable[[str], Path], run_line: Run
) -> None:
    root = fresh("service_discovery")
    assert SCRIPT in rendered(run_line, root)
    script = root / SCRIPT
    assert script.stat().st_mode & stat.S_IXUSR
    script.chmod(0o644)
    result = run_line("cigen check", cwd=root)
    assert result.code == 1, result
    assert f"{SCRIPT}: not executable\n" in result.stderr
    assert run_line("cigen render", cwd=root).code == 0
    assert script.stat().st_mode & stat.S_IXUSR
    assert run_line("cigen check", cwd=root).code == 0


def test_check_exits_2_on_an_invalid_descriptor(
    project_copy: Callable[[str], Path], run_line: Run
) -> None:
    root = project_copy("minimal")
    (root / "cigen.yaml").write_text("version: 1\nname: hello\n")
    result = run_line("cigen check", cwd=root)
    assert result.code == 2, result
    assert "cigen.yaml:1:1: registry: required key is missing" in result.stderr


def test_render_twice_is_byte_identical_and_touches_nothing(
    fresh: Callable[[str], Path], run_line: Run
) -> None:
    root = fresh("service_discovery")
    rendered(run_line, root)
    first = tree(root)
    past = 1_000_000_000_000_000_000  # 2001: any rewrite would move the mtime to now
    for path in root.rglob("*"):
        os.utime(path, ns=(past, past))
    result = run_line("cigen render", cwd=root)
    assert result.code == 0, result
    assert result.stdout.endswith("files already current\n")
    assert tree(root) == first
    assert {p.stat().st_mtime_ns for p in root.rglob("*")} == {past}


def test_a_users_own_file_stops_render_until_force(
    fresh: Callable[[str], Path], run_line: Run
) -> None:
    root = fresh("minimal")
    mine = root / ".circleci" / "config.yml"
    mine.parent.mkdir()
    mine.write_text("version: 2.1\n# my own config, not cigen's\n")
    before = tree(root)
    result = run_line("cigen render", cwd=root)
    assert result.code == 2, result
    refusal = ".circleci/config.yml: not generated by cigen (no marker); nothing written"
    assert refusal in result.stderr
    assert "--force" in result.stderr
    assert tree(root) == before  # not even the other targets' files
    check = run_line("cigen check", cwd=root)
    assert check.code == 1, check
    assert "no marker" in check.stderr
    assert run_line("cigen render --force", cwd=root).code == 0
    assert "cigen" in mine.read_text().splitlines()[0]
    assert run_line("cigen check", cwd=root).code == 0


def test_render_one_target_writes_only_its_files(
    fresh: Callable[[str], Path], run_line: Run
) -> None:
    root = fresh("service_discovery")
    result = run_line("cigen render circleci", cwd=root)
    assert result.code == 0, result
    assert set(tree(root)) == {"cigen.yaml", ".circleci/config.yml", SCRIPT}
    assert run_line("cigen check circleci", cwd=root).code == 0
    assert run_line("cigen check", cwd=root).code == 1


def test_unknown_target_is_a_usage_error(fresh: Callable[[str], Path], run_line: Run) -> None:
    root = fresh("minimal")
    result = run_line("cigen render gitlab", cwd=root)
    assert result.code == 2, result
    assert "'gitlab' is not one of circleci, github, cloudbuild, dockerfile" in result.stderr
    assert "Traceback" not in result.stderr
    assert set(tree(root)) == {"cigen.yaml"}


def test_version(run_line: Run) -> None:
    result = run_line("cigen --version")
    assert (result.code, result.stdout) == (0, f"cigen {cigen.__version__}\n")


def test_python_dash_m(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "cigen", "--version"], capture_output=True,
                          text=True, cwd=tmp_path, check=False)
    assert (proc.returncode, proc.stdout) == (0, f"cigen {cigen.__version__}\n"), proc.stderr


def test_schema_prints_the_shipped_schema(run_line: Run) -> None:
    result = run_line("cigen schema")
    assert result.code == 0, result
    shipped = (REPO / "schemas" / "cigen.schema.json").read_text(encoding="utf-8")
    assert result.stdout == shipped
    assert json.loads(result.stdout)["title"] == "cigen descriptor"


def test_config_elsewhere_writes_next_to_the_descriptor(
    fresh: Callable[[str], Path], tmp_path: Path, run_line: Run
) -> None:
    root = fresh("minimal")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_line("cigen render -c ../minimal/cigen.yaml", cwd=elsewhere)
    assert result.code == 0, result
    assert list(elsewhere.iterdir()) == []
    assert set(tree(root)) == {"cigen.yaml", *planned(root)}
    (root / "Dockerfile").unlink()
    check = run_line("cigen check -c ../minimal/cigen.yaml", cwd=elsewhere)
    assert check.code == 1, check
    assert check.stderr.endswith("run: cigen render -c ../minimal/cigen.yaml\n")


def test_a_folder_where_an_output_goes_is_a_clean_error(
    fresh: Callable[[str], Path], run_line: Run
) -> None:
    root = fresh("minimal")
    (root / "Dockerfile").mkdir()
    for command in ("cigen render", "cigen check"):
        result = run_line(command, cwd=root)
        assert result.code == 2, result
        assert result.stderr == ("cigen.yaml:1:1: image.dockerfile: Dockerfile: is a folder; "
                                 "cigen writes a file there. Move the folder away\n")
    assert set(tree(root)) == {"cigen.yaml"}


def test_a_file_where_a_folder_goes_is_a_clean_error(
    fresh: Callable[[str], Path], run_line: Run
) -> None:
    root = fresh("service_discovery")
    (root / "ci").write_text("not a folder\n")
    result = run_line("cigen render circleci", cwd=root)
    assert result.code == 2, result
    assert result.stderr == (f"cigen.yaml:1:1: targets: {SCRIPT}: ci is a file; cigen "
                             "needs a folder there. Move the file away\n")


def test_an_unexpected_error_exits_3_asking_for_a_report(
    fresh: Callable[[str], Path], run_line: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = fresh("minimal")

    def broken(project: object) -> dict[str, str]:
        raise RuntimeError("boom")

    monkeypatch.setattr(targets.load("circleci"), "plan", broken)
    result = run_line("cigen render", cwd=root)
    assert result.code == 3, result
    assert "RuntimeError: boom" in result.stderr
    assert "please report" in result.stderr
    assert set(tree(root)) == {"cigen.yaml"}
