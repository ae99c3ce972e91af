from __future__ import annotations

import json
from pathlib import Path

import pytest

from cigen.errors import CigenError, RemoteError
from cigen.pin import actions as pin_actions
from cigen.pin import pin
from cigen.remote import Client
from tests.pin_support import Answer, FakeServer, Seen

C1, C2, C3 = "1" * 40, "2" * 40, "3" * 40
T1, T2 = "a" * 40, "b" * 40


def github(seen: Seen) -> Answer:
    """A loopback GitHub API: a lightweight tag, an annotated tag, a tag of a tag, a missing tag."""
    objects = {
        "/repos/actions/checkout/git/ref/tags/v7.0.1": {"type": "commit", "sha": C1},
        "/repos/docker/login-action/git/ref/tags/v4.1.0": {"type": "tag", "sha": T1},
        f"/repos/docker/login-action/git/tags/{T1}": {"type": "commit", "sha": C2},
        "/repos/github/codeql-action/git/ref/tags/v4.0.0": {"type": "tag", "sha": T2},
        f"/repos/github/codeql-action/git/tags/{T2}": {"type": "tag", "sha": T1},
        f"/repos/github/codeql-action/git/tags/{T1}": {"type": "commit", "sha": C3},
    }
    if seen.path not in objects:
        return Answer(404, {"Content-Type": "application/json"}, b'{"message": "Not Found"}')
    return Answer(
        200,
        {"Content-Type": "application/json"},
        json.dumps({"object": objects[seen.path]}).encode(),
    )


def pins_file(folder: Path, entries: dict[str, dict[str, str]]) -> Path:
    path = folder / "action-pins.json"
    data = {"_about": "test pins", "actions": entries}
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def current() -> dict[str, dict[str, str]]:
    return {
        "actions/checkout": {"tag": "v7.0.1", "sha": C1},
        "docker/login-action": {"tag": "v4.1.0", "sha": C2},
        "github/codeql-action/upload-sarif": {
            "tag": "v4.0.0",
            "sha": C3,
        },  # lives in github/codeql-action
    }


def refresh(
    path: Path,
    api: FakeServer,
    check: bool = False,
    keep_going: bool = False,
    token: str | None = None,
) -> int:
    return pin(
        path.parent / "unused.yaml",
        check,
        keep_going,
        actions=True,
        client=Client(timeout=2, retries=0),
        env={"GITHUB_TOKEN": token or ""},
        actions_file=path,
        github_api=api.base,
    )


def test_current_pins_are_left_as_they_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = pins_file(tmp_path, current())
    before = path.read_bytes()
    with FakeServer(github) as api:
        assert refresh(path, api) == 0
    assert path.read_bytes() == before
    assert "every action pin is current" in capsys.readouterr().out
    assert all("authorization" not in s.headers for s in api.seen)  # no GITHUB_TOKEN, no header


def test_a_moved_tag_is_peeled_and_written(tmp_path: Path) -> None:
    stale = current()
    stale["docker/login-action"]["sha"] = "9" * 40
    stale["github/codeql-action/upload-sarif"]["sha"] = "8" * 40
    path = pins_file(tmp_path, stale)
    with FakeServer(github) as api:
        assert refresh(path, api, token="ghs_test") == 0
    assert json.loads(path.read_text()) == {"_about": "test pins", "actions": current()}
    assert (
        path.read_text()
        == json.dumps({"_about": "test pins", "actions": current()}, indent=2) + "\n"
    )
    assert {s.headers.get("authorization") for s in api.seen} == {"Bearer ghs_test"}
    assert {s.headers.get("x-github-api-version") for s in api.seen} == {"2022-11-28"}


def test_check_reports_a_moved_tag_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = current()
    stale["actions/checkout"]["sha"] = "9" * 40
    path = pins_file(tmp_path, stale)
    before = path.read_bytes()
    with FakeServer(github) as api:
        assert refresh(path, api, check=True) == 1
    assert path.read_bytes() == before
    assert f"moved: actions/checkout v7.0.1: {'9' * 40} -> {C1}" in capsys.readouterr().err


def test_a_missing_tag_fails_and_writes_nothing(tmp_path: Path) -> None:
    stale = current()
    stale["actions/checkout"]["sha"] = "9" * 40
    stale["actions/cache"] = {"tag": "v99", "sha": C1}
    path = pins_file(tmp_path, stale)
    before = path.read_bytes()
    with (
        FakeServer(github) as api,
        pytest.raises(RemoteError, match=r"actions/cache@v99: 404 Not Found \(Not Found\)"),
    ):
        refresh(path, api)
    assert path.read_bytes() == before


def test_keep_going_writes_what_resolved(tmp_path: Path) -> None:
    stale = current()
    stale["actions/checkout"]["sha"] = "9" * 40
    stale["actions/cache"] = {"tag": "v99", "sha": C1}
    path = pins_file(tmp_path, stale)
    with FakeServer(github) as api:
        assert refresh(path, api, keep_going=True) == 1
    assert json.loads(path.read_text())["actions"]["actions/checkout"]["sha"] == C1


def test_rate_limit_message(tmp_path: Path) -> None:
    path = pins_file(tmp_path, current())
    limited = Answer(403, {"X-RateLimit-Remaining": "0"}, b'{"message": "API rate limit exceeded"}')
    with (
        FakeServer(lambda seen: limited) as api,
        pytest.raises(RemoteError, match="rate limit reached; set GITHUB_TOKEN"),
    ):
        refresh(path, api)


def test_a_file_of_another_shape_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "action-pins.json"
    path.write_text('{"pins": []}')
    with pytest.raises(CigenError, match='expected {"actions"'):
        pin_actions.refresh(path, Client(), False, False, None)


def test_the_shipped_pins_have_the_format_refresh_reads() -> None:
    data = pin_actions.shipped()
    assert data["actions"]
    assert all({"tag", "sha"} <= set(entry) for entry in data["actions"].values())


SHIPPED_FILE = Path(pin_actions.__file__).parent.parent / "data" / "action-pins.json"


def every_shipped_tag(seen: Seen) -> Answer:
    """A loopback GitHub API where every shipped action's tag is a lightweight tag of C1."""
    objects = {f"/repos/{repo}/git/ref/tags/{entry['tag']}": {"type": "commit", "sha": C1}
               for repo, entry in pin_actions.shipped()["actions"].items()}
    if seen.path not in objects:
        return Answer(404, {"Content-Type": "application/json"}, b'{"message": "Not Found"}')
    return Answer(200, {"Content-Type": "application/json"},
                  json.dumps({"object": objects[seen.path]}).encode())


def descriptor(folder: Path, pins: str | None = None) -> Path:
    config = folder / "cigen.yaml"
    github = f"github:\n  action_pins: {pins}\n" if pins else ""
    config.write_text('version: 1\nname: hello\nerlang:\n  otp: "26.2.5"\n'
                      f"registry: ghcr.io/acme\n{github}")
    return config


def refresh_repository(config: Path, api: FakeServer, check: bool = False) -> int:
    return pin(config, check, actions=True, client=Client(timeout=2, retries=0),
               env={}, github_api=api.base)


@pytest.mark.parametrize("pins", [None, "ci/pins.json"])
def test_a_missing_repository_file_starts_from_the_shipped_pins(
    tmp_path: Path, pins: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    from cigen.descriptor import load

    config = descriptor(tmp_path, pins)
    package = SHIPPED_FILE.read_bytes()
    with FakeServer(every_shipped_tag) as api:
        assert refresh_repository(config, api) == 0
    path = tmp_path / (pins or ".github/cigen-action-pins.json")
    written = json.loads(path.read_text())["actions"]
    shipped = pin_actions.shipped()["actions"]
    assert {repo: e["tag"] for repo, e in written.items()} == {
        repo: e["tag"] for repo, e in shipped.items()}
    assert {e["sha"] for e in written.values()} == {C1}  # refreshed from the API
    assert SHIPPED_FILE.read_bytes() == package  # cigen's own data is never written
    assert "starting from the action pins cigen ships" in capsys.readouterr().out
    # render reads it: the loader's model carries the repository's pins
    assert {sha for _, sha in load(config).project.github.pins.values()} == {C1}


def test_an_existing_repository_file_is_refreshed_in_place(tmp_path: Path) -> None:
    config = descriptor(tmp_path)
    stale = current()
    stale["actions/checkout"]["sha"] = "9" * 40
    (tmp_path / ".github").mkdir()
    path = pins_file(tmp_path / ".github", {"actions/checkout": stale["actions/checkout"]})
    path.rename(tmp_path / ".github" / "cigen-action-pins.json")
    with FakeServer(github) as api:
        assert refresh_repository(config, api) == 0
    data = json.loads((tmp_path / ".github" / "cigen-action-pins.json").read_text())
    assert data == {"_about": "test pins", "actions": {"actions/checkout": current()[
        "actions/checkout"]}}  # its own entries only: nothing from the shipped file is added


def test_check_with_no_repository_file_compares_the_shipped_pins_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = descriptor(tmp_path)
    with FakeServer(every_shipped_tag) as api:
        assert refresh_repository(config, api, check=True) == 1  # the shipped SHAs are not C1
    assert not (tmp_path / ".github").exists()
    assert f"-> {C1}" in capsys.readouterr().err


def test_a_failure_creates_no_file(tmp_path: Path) -> None:
    config = descriptor(tmp_path)
    with FakeServer(github) as api, pytest.raises(RemoteError, match="not created; nothing"):
        refresh_repository(config, api)
    assert not (tmp_path / ".github" / "cigen-action-pins.json").exists()
