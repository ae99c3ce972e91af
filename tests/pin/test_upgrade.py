"""`cigen pin --upgrade`: versions move to the newest patch of their line that every CI can
install, against a loopback registry (Debian's docker-registry) and a fake builds.hex.pm and
GitHub API serving the formats setup-beam reads."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cigen.errors import DescriptorError, RemoteError
from cigen.pin import pin
from cigen.pin.registry import Registry
from cigen.pin.upgrade import Sources, newest_patch
from tests.pin_support import Answer, FakeServer, Seen, host, push_image, quick_client, write


@pytest.mark.parametrize(("current", "available", "newest"), [
    ("26.2.1", ["26.2.5", "26.2.5.16", "26.2.0", "26.3.0", "27.0.1", "26.2.5.17-alpine"],
     "26.2.5.16"),
    ("26.2.1-alpine", ["26.2.5.16", "26.2.5-alpine", "26.2.4-alpine"], "26.2.5-alpine"),
    ("v1.23.0-debug", ["v1.23.2-debug", "v1.23.9", "1.23.5-debug", "v1.24.0-debug"],
     "v1.23.2-debug"),
    ("3.22.0", ["3.22.1", "3.23.0", "3.22.1-rc1"], "3.22.1"),
    ("26.2.5.16", ["26.2.5", "26.2.5.16"], None),  # nothing newer
    ("26.2", ["26.2.5"], None),  # a line already: it floats
    ("bookworm-slim", ["bookworm-20260101-slim"], None),  # no version: nothing to move
])
def test_newest_patch_of_the_line(current: str, available: list[str], newest: str | None) -> None:
    assert newest_patch(current, available) == newest


ERLANG_TAGS = ("26.2.2", "26.2.5", "26.2.5.3", "26.3.0", "27.0.1",
               "27.3.4.2-alpine", "27.3.4.13-alpine", "27.3.4.2", "27.3.4.13")
# setup-beam's list for ubuntu-24.04, in builds.hex.pm's format: 26.2.5.3 is not built (yet)
BUILDS = "\n".join(f"OTP-{v} 0123abcd 2026-11-01T00:00:00Z" for v in
                   ("26.2.2", "26.2.5", "27.0.1", "27.3.4.2", "27.3.4.13")) + "\nmaint-26 a b\n"
RELEASES = [{"tag_name": "3.22.2-rc1", "prerelease": True}, {"tag_name": "3.23.0"},
            {"tag_name": "3.22.1"}, {"tag_name": "3.22.0"}, {"tag_name": "3.21.0"}]


@pytest.fixture(scope="module")
def erlang(registry_url: str) -> str:
    """An `erlang` repository on the loopback registry standing in for Docker Hub's."""
    for tag in ERLANG_TAGS:
        push_image(registry_url, "library/erlang", tag, tag)
    for tag in ("bookworm-slim", "3.22"):
        push_image(registry_url, "library/debian" if "-" in tag else "library/alpine", tag, tag)
    return f"{host(registry_url)}/library/erlang"


@pytest.fixture
def web() -> Iterator[FakeServer]:
    def route(seen: Seen) -> Answer:
        if seen.path == "/builds/otp/amd64/ubuntu-24.04/builds.txt":
            return Answer(body=BUILDS.encode())
        if seen.path.startswith("/repos/erlang/rebar3/releases?per_page=100&page=1"):
            return Answer(headers={"Content-Type": "application/json"},
                          body=json.dumps(RELEASES).encode())
        return Answer(404)

    with FakeServer(route) as server:
        yield server


def sources(web: FakeServer, erlang: str) -> Sources:
    return Sources(quick_client(), Registry(quick_client()).tags, hexpm=web.base,
                   github_api=web.base, erlang_image=erlang)


def debian_descriptor(h: str, otp: str = "26.2.2", targets: str = "[github, circleci]") -> str:
    return (f"version: 1\nname: app\ntargets: {targets}\nregistry: ghcr.io/acme\n"
            f"erlang:\n  otp: \"{otp}\"   # the release\n  rebar3: 3.22.0\n"
            f"image:\n  os: debian\n  base: {h}/library/erlang:{otp}\n"
            f"  runner: {h}/library/debian:bookworm-slim\n")


def run(config: Path, web: FakeServer, erlang: str, check: bool = False) -> int:
    return pin(config, registry=Registry(quick_client()), sources=sources(web, erlang),
               env={"DOCKER_CONFIG": str(config.parent / "none")}, upgrade=True, check=check)


def test_otp_rebar3_and_the_builder_move_to_what_every_ci_can_install(
    tmp_path: Path, web: FakeServer, erlang: str, registry_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    h = host(registry_url)
    config = write(tmp_path, debian_descriptor(h))
    assert run(config, web, erlang) == 0
    text = config.read_text()
    # 26.2.5.3 has an image but setup-beam cannot install it on ubuntu-24.04: 26.2.5 it is.
    assert 'otp: "26.2.5"   # the release\n' in text
    assert "  rebar3: 3.22.1\n" in text  # not the pre-release, not 3.23
    assert f"  base: {h}/library/erlang:26.2.5@sha256:" in text  # followed OTP, then pinned
    assert f"  runner: {h}/library/debian:bookworm-slim@sha256:" in text
    out = capsys.readouterr().out
    assert f"{config}:6:8: erlang.otp: 26.2.2 -> 26.2.5 (the newest patch of its line in the " \
           "tags of the " in out
    assert "setup-beam's ubuntu-24.04 builds" in out
    assert "erlang.rebar3: 3.22.0 -> 3.22.1" in out
    assert f"image.base: {h}/library/erlang:26.2.2 -> {h}/library/erlang:26.2.5 " in out
    # What the upgrade wrote is what a second look finds current.
    assert run(config, web, erlang, check=True) == 0
    assert "every version is the newest patch of its line" in capsys.readouterr().out


def test_without_setup_beam_the_image_tags_alone_decide(
    tmp_path: Path, web: FakeServer, erlang: str, registry_url: str,
) -> None:
    config = write(tmp_path, debian_descriptor(host(registry_url), targets="[circleci]"))
    assert run(config, web, erlang) == 0
    assert 'otp: "26.2.5.3"' in config.read_text()
    assert not any("builds.txt" in s.path for s in web.seen)


def test_check_reports_moves_and_writes_nothing(
    tmp_path: Path, web: FakeServer, erlang: str, registry_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write(tmp_path, debian_descriptor(host(registry_url)))
    before = config.read_bytes()
    assert run(config, web, erlang, check=True) == 1
    assert config.read_bytes() == before
    assert "erlang.otp: 26.2.2 -> 26.2.5" in capsys.readouterr().out


def test_a_move_that_would_break_the_descriptor_writes_nothing(
    tmp_path: Path, web: FakeServer, erlang: str, registry_url: str,
) -> None:
    # erlang:27.3.4.13-alpine is built on Alpine 3.24 while 27.3.4.2-alpine was on 3.22: the
    # runner the user chose no longer matches the builder, so cigen refuses the upgrade.
    h = host(registry_url)
    config = write(tmp_path, (
        f"version: 1\nname: app\ntargets: [circleci]\nregistry: ghcr.io/acme\n"
        f"erlang:\n  otp: 27.3.4.2\nimage:\n  os: alpine\n"
        f"  base: {h}/library/erlang:27.3.4.2-alpine\n  runner: {h}/library/alpine:3.22\n"))
    before = config.read_bytes()
    with pytest.raises(DescriptorError) as e:
        run(config, web, erlang)
    assert config.read_bytes() == before
    assert "Alpine 3.24" in str(e.value)
    assert e.value.problems[-1].endswith("so the versions above would make the descriptor "
                                         "fail; unchanged, nothing written")


def matrix_descriptor(h: str, matrix: str) -> str:
    return debian_descriptor(h).replace(
        "  rebar3: 3.22.0\n", f"  rebar3: 3.22.1\n  matrix: {matrix}   # checks\n")


def test_matrix_releases_move_like_otp(
    tmp_path: Path, web: FakeServer, erlang: str, registry_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write(tmp_path, matrix_descriptor(host(registry_url), '["27.3.4.2"]'))
    assert run(config, web, erlang) == 0
    assert '  matrix: ["27.3.4.13"]   # checks\n' in config.read_text()
    out = capsys.readouterr().out
    assert f"{config}:8:12: erlang.matrix[0]: 27.3.4.2 -> 27.3.4.13 (the newest patch of its " \
           "line in the tags of the " in out
    assert "setup-beam's ubuntu-24.04 builds" in out
    assert run(config, web, erlang, check=True) == 0


def test_a_matrix_release_that_otp_moves_onto_writes_nothing(
    tmp_path: Path, web: FakeServer, erlang: str, registry_url: str,
) -> None:
    # erlang.otp 26.2.2 moves to 26.2.5, which the matrix already names.
    config = write(tmp_path, matrix_descriptor(host(registry_url), '["26.2.5"]'))
    before = config.read_bytes()
    with pytest.raises(DescriptorError) as e:
        run(config, web, erlang)
    assert config.read_bytes() == before
    assert 'erlang.matrix[0]: "26.2.5" is erlang.otp already' in str(e.value)


def test_an_unreadable_version_list_writes_nothing(
    tmp_path: Path, erlang: str, registry_url: str,
) -> None:
    config = write(tmp_path, debian_descriptor(host(registry_url)))
    before = config.read_bytes()
    with FakeServer(lambda seen: Answer(500)) as down:
        with pytest.raises(RemoteError, match="setup-beam's OTP list .*500") as e:
            run(config, down, erlang)
    assert str(e.value).endswith("unchanged; nothing written")
    assert config.read_bytes() == before


def paged_registry(pages: list[list[str]], next_host: str | None = None) -> FakeServer:
    """A registry that lists tags a page at a time with `Link: <...>; rel="next"`, as Docker
    Hub does (Debian's docker-registry 2.8 ignores `n`, so it cannot show this)."""
    def route(seen: Seen) -> Answer:
        page = int(seen.path.partition("last=p")[2].partition("&")[0] or 0)
        headers = {"Content-Type": "application/json"}
        if page + 1 < len(pages):
            where = f"http://{next_host}" if next_host else ""
            following = f"{where}/v2/library/erlang/tags/list?last=p{page + 1}&n=2"
            headers["Link"] = f'<{following}>; rel="next"'
        return Answer(headers=headers, body=json.dumps({"tags": pages[page]}).encode())

    return FakeServer(route)


def test_registry_tags_follow_every_page() -> None:
    from cigen.refs import parse

    with paged_registry([["26.2.1", "26.2.5"], ["27.0"], ["28.1.1"]]) as server:
        registry = Registry(quick_client(), endpoint=lambda _: server.base)
        assert registry.tags(parse(f"{server.host}/library/erlang")) == \
            ["26.2.1", "26.2.5", "27.0", "28.1.1"]
        assert len(server.seen) == 3


def test_a_next_page_on_another_host_is_refused() -> None:
    from cigen.refs import parse

    with paged_registry([["26.2.1"], ["27.0"]], next_host="evil.example:80") as server:
        registry = Registry(quick_client(), endpoint=lambda _: server.base)
        with pytest.raises(RemoteError, match="next page of tags is on another host"):
            registry.tags(parse(f"{server.host}/library/erlang"))


def test_cli_upgrade_check_with_nothing_to_move_asks_nobody(
    tmp_path: Path, run_line: Callable[..., Any],
) -> None:
    # A line (26), no rebar3 written, no versioned tag: nothing to look up, nothing to move.
    config = write(tmp_path, "version: 1\nname: app\ntargets: [circleci]\n"
                   "registry: ghcr.io/acme\nerlang:\n  otp: \"26\"\n")
    result = run_line(["cigen", "pin", "--upgrade", "--check", "-c", str(config)])
    assert (result.code, result.stdout) == (
        0, f"{config}: every version is the newest patch of its line\n")
