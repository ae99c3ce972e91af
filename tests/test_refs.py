from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cigen import refs, schema

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "canonical", "api_host"),
    [
        ("erlang", "docker.io/library/erlang:latest", "registry-1.docker.io"),
        ("erlang:26.2.5-alpine", "docker.io/library/erlang:26.2.5-alpine", "registry-1.docker.io"),
        ("acme/app:1", "docker.io/acme/app:1", "registry-1.docker.io"),
        ("docker.io/library/erlang:26", "docker.io/library/erlang:26", "registry-1.docker.io"),
        ("index.docker.io/erlang", "docker.io/library/erlang:latest", "registry-1.docker.io"),
        ("registry-1.docker.io/acme/app:2", "docker.io/acme/app:2", "registry-1.docker.io"),
        ("ghcr.io/acme/app:1.0", "ghcr.io/acme/app:1.0", "ghcr.io"),
        (
            "us.gcr.io/adoptingerlang/erlang:22.1.1-alpine",
            "us.gcr.io/adoptingerlang/erlang:22.1.1-alpine",
            "us.gcr.io",
        ),
        ("localhost/app:1", "localhost/app:1", "localhost"),
        ("localhost:5000/app", "localhost:5000/app:latest", "localhost:5000"),
        ("127.0.0.1:5000/a/b:t@" + DIGEST, f"127.0.0.1:5000/a/b:t@{DIGEST}", "127.0.0.1:5000"),
        (
            "europe-docker.pkg.dev/p/r/img@" + DIGEST,
            f"europe-docker.pkg.dev/p/r/img@{DIGEST}",
            "europe-docker.pkg.dev",
        ),
        (
            "foo:5000",
            "docker.io/library/foo:5000",
            "registry-1.docker.io",
        ),  # no slash: a tag, not a port
        ("Registry.Example.com/app", "registry.example.com/app:latest", "registry.example.com"),
    ],
)
def test_normalization(text: str, canonical: str, api_host: str) -> None:
    ref = refs.parse(text)
    assert (ref.canonical, ref.api_host) == (canonical, api_host)


def test_parts_and_the_written_name_are_kept() -> None:
    ref = refs.parse(f"erlang:26@{DIGEST}")
    assert (ref.name, ref.domain, ref.path, ref.tag, ref.digest) == (
        "erlang",
        "docker.io",
        "library/erlang",
        "26",
        DIGEST,
    )
    new = "sha256:" + "cd" * 32
    assert ref.pinned(new) == f"erlang:26@{new}"
    assert (
        refs.parse("erlang").pinned(new) == f"erlang:latest@{new}"
    )  # the tag it resolved, made explicit


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Erlang:26", "not an image name"),
        ("erlang@sha256:abc", "digest is not sha256"),
        ("erlang:", "'' is not a valid tag"),
        ("acme//app", "not an image name"),
        ("erlang:-bad", "not a valid tag"),
        ("ghcr.io/Acme/app", "not an image name"),
    ],
)
def test_invalid_references(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=re.escape(why)):
        refs.parse(text)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("127.0.0.1:5055", True),
        ("127.1.2.3", True),
        ("[::1]:5000", True),
        ("::1", True),
        ("ghcr.io", False),
        ("localhost.example.com", False),
        ("128.0.0.1:80", False),
        ("registry-1.docker.io", False),
        ("127.0.0.1.example.com", False),  # a public name that only looks local
        ("127.evil.example:80", False),
        ("127.0.0.1.nip.io", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert refs.is_loopback(host) is loopback


_SCHEMA_REF = schema.schema()["$defs"]["imageRef"]["pattern"]
_alnum = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
_component = st.builds(
    lambda parts, seps: "".join(p + s for p, s in zip(parts, seps, strict=False)) + parts[-1],
    st.lists(_alnum, min_size=1, max_size=3),
    st.lists(st.sampled_from([".", "_", "__", "-", "--"]), min_size=2, max_size=2),
)
_domain = st.sampled_from(
    [
        "",
        "docker.io/",
        "ghcr.io/",
        "localhost:5000/",
        "127.0.0.1:5055/",
        "europe-docker.pkg.dev/",
        "Registry.Example.com:443/",
    ]
)
_tag = st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True))
_digest = st.one_of(
    st.none(), st.text("0123456789abcdef", min_size=64, max_size=64).map("sha256:".__add__)
)


@settings(max_examples=300)
@given(_domain, st.lists(_component, min_size=1, max_size=3), _tag, _digest)
def test_references_parse_and_stay_schema_valid_when_pinned(
    domain: str, path: list[str], tag: str | None, digest: str | None
) -> None:
    # Docker reads a first component with a dot (or `localhost`) as a host, so such a name
    # needs an explicit host; without one it is not a Docker reference at all.
    assume(domain or len(path) == 1 or ("." not in path[0] and path[0] != "localhost"))
    text = domain + "/".join(path) + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    assert re.fullmatch(_SCHEMA_REF, text)
    ref = refs.parse(text)
    assert (ref.name, ref.tag, ref.digest) == (domain + "/".join(path), tag, digest)
    assert re.fullmatch(_SCHEMA_REF, ref.pinned(DIGEST)), ref.pinned(DIGEST)
    assert refs.parse(ref.canonical).canonical == ref.canonical
