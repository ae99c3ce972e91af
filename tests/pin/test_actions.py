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


def test_the_packaged_file_has_the_format_refresh_reads() -> None:
    data = json.loads(pin_actions.packaged_file().read_text())
    assert data["actions"]
    assert all({"tag", "sha"} <= set(entry) for entry in data["actions"].values())
