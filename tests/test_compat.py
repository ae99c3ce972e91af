"""The compatibility table's answers, against the facts it was curated from.

The facts and their sources: docs/compatibility.md.
"""

from __future__ import annotations

import pytest

from cigen import compat
from cigen.compat import OsRelease


def test_the_table_names_a_source_and_date_for_every_section() -> None:
    table = compat.table()
    for section in ("setup_beam", "rebar3", "erlang_images", "os_support"):
        sources = table[section]["source"]
        for source in sources if isinstance(sources, list) else [sources]:
            assert source["repo"].startswith("https://github.com/")
            assert len(source["commit"]) == 40
            assert source["read"] == table["as_of"]


@pytest.mark.parametrize(("otp", "exact"), [
    ("28", False), ("26.2", False), ("26.2.5", True), ("22.1.1", True), ("26.2.5.21", True),
    ("master", False),
])
def test_an_exact_release_has_at_least_three_parts(otp: str, exact: bool) -> None:
    assert compat.is_exact(otp) is exact


@pytest.mark.parametrize(("otp", "newest"), [
    ("22.1.1", "3.18.0"), ("23.3", "3.20.0"), ("24", "3.21.0"), ("25.3.2.21", "3.24.0"),
    ("26.2.5", "3.27.0"), ("28", "3.27.0"), ("29.0.2", "3.27.0"), ("19.3", "3.15.2"),
    ("30.0", None), ("17.5", None),
])
def test_the_default_rebar3_is_the_newest_that_supports_the_otp(otp: str, newest: str) -> None:
    assert compat.newest_rebar3(otp) == newest


def test_rebar3_refusals_name_the_fix() -> None:
    assert compat.rebar3_refusal("3.13.2", "22.1.1") == (
        "rebar3's README says not to use 3.13.2; use 3.18.0, the newest rebar3 that supports "
        "OTP 22.1.1")
    assert compat.rebar3_refusal("3.25.1", "25.3") == (
        "rebar3 3.25.1 supports OTP 26 to 28, not 25.3; use 3.24.0, the newest rebar3 that "
        "supports OTP 25.3")
    assert compat.rebar3_refusal("3.18.0", "22.1.1") is None
    # Not a row of the README: the range of the newest listed release before it.
    assert compat.rebar3_range("3.22.0") == (24, 26)
    assert compat.rebar3_refusal("3.25.0", "22.3") is not None


@pytest.mark.parametrize(("otp", "runners"), [
    ("22.1.1", ()), ("24.1", ()), ("24.2", ("ubuntu-22.04",)),
    ("24", ("ubuntu-22.04", "ubuntu-24.04")),  # loose 24 is the newest 24.x: 24.3.4.x
    ("25.3.2.21", ("ubuntu-22.04", "ubuntu-24.04")),
    ("26.2.5", ("ubuntu-22.04", "ubuntu-24.04", "ubuntu-26.04")),
])
def test_setup_beam_installs_from_each_runners_first_release(otp: str, runners: tuple[str, ...]
                                                             ) -> None:
    assert compat.setup_beam_runners(otp) == runners


def test_a_label_setup_beam_does_not_list_is_not_judged() -> None:
    assert compat.setup_beam_installs("self-hosted", "22.1.1") is None


@pytest.mark.parametrize(("ref", "release"), [
    ("erlang:22.1.1", OsRelease("debian", "stretch")),
    ("erlang:22.3.4.27", OsRelease("debian", "buster")),
    ("erlang:24.1.7", OsRelease("debian", "buster")),
    ("erlang:24.2", OsRelease("debian", "bullseye")),
    ("erlang:26.0.2", OsRelease("debian", "bullseye")),
    ("erlang:26.2.1-slim", OsRelease("debian", "bullseye")),
    ("erlang:26.2.2", OsRelease("debian", "bookworm")),
    ("erlang:26", OsRelease("debian", "bookworm")),
    ("erlang:28.2", OsRelease("debian", "bookworm")),
    ("erlang:28", OsRelease("debian", "trixie")),
    ("docker.io/library/erlang:29.0.2", OsRelease("debian", "trixie")),
    ("erlang:22.1.1-alpine", OsRelease("alpine", "3.10")),
    ("erlang:26.2.5-alpine", OsRelease("alpine", "3.24")),  # 26.2.5 is the newest 26.2.5.x
    ("erlang:26.2.5.6-alpine", OsRelease("alpine", "3.20")),
    ("us.gcr.io/adoptingerlang/erlang:22.1.1-alpine", OsRelease("alpine", "3.10")),
    ("erlang:26@sha256:" + "a" * 64, OsRelease("debian", "bookworm")),
    ("localhost/cigen-e2e/erlang:25.2.3-bookworm", OsRelease("debian", "bookworm")),
    ("ghcr.io/acme/runner:bookworm", OsRelease("debian", "bookworm")),
    ("debian:12-slim", OsRelease("debian", "bookworm")),
    ("debian:bullseye-slim", OsRelease("debian", "bullseye")),
    ("alpine:3.20.3", OsRelease("alpine", "3.20")),
    ("hexpm/erlang:26.2.5-alpine-3.19.1", OsRelease("alpine", "3.19")),
    ("ghcr.io/acme/erlang-builder:1", None), ("erlang:17.5", None), ("alpine", None),
])
def test_the_os_release_of_an_image(ref: str, release: OsRelease | None) -> None:
    assert compat.image_release(ref) == release


@pytest.mark.parametrize(("release", "supported"), [
    (OsRelease("debian", "bullseye"), False), (OsRelease("debian", "bookworm"), True),
    (OsRelease("debian", "trixie"), True), (OsRelease("alpine", "3.21"), False),
    (OsRelease("alpine", "3.22"), True), (OsRelease("alpine", "3.9"), False),
    (OsRelease("alpine", "3.30"), None),
])
def test_support_is_judged_on_the_tables_date(release: OsRelease, supported: bool | None) -> None:
    assert compat.as_of() == "2026-12-02"
    assert compat.supported(release) is supported
