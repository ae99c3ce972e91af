from __future__ import annotations

import base64
import itertools
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from cigen import commands
from cigen.errors import CigenError, RemoteError
from cigen.pin import pin
from cigen.pin.registry import Registry, docker_auths
from cigen.remote import Client
from tests.helpers import load_project
from tests.pin_support import (
    OCI_MANIFEST,
    Answer,
    FakeServer,
    Seen,
    free_port,
    host,
    proxy_to,
    push_image,
    push_index,
    quick_client,
    sha256,
    write,
)


def simple(base: str, runner: str) -> str:
    return (
        f"version: 1\nname: app\ntargets: [circleci]\nregistry: ghcr.io/acme\n"
        f'erlang:\n  otp: "26.2.5"\nimage:\n  base: {base}\n  runner: {runner}\n'
    )


def run_pin(config: Path, registry: Registry, **kw: Any) -> int:
    return pin(
        config, registry=registry, env={"DOCKER_CONFIG": str(config.parent / "no-docker")}, **kw
    )


# A descriptor as people write them: comments everywhere, blank lines, three quoting styles,
# a flow-style list entry, substitutions Cloud Build expands itself.
COMMENTED = """\
# Service descriptor for app.
# Keep this file tidy: comments and blank lines are part of it.

version: 1          # format
name: app
targets: [circleci, cloudbuild]

registry: ghcr.io/acme   # pushed here

erlang:
  otp: "26.2.5"   # quoted, always
  # Databases the checks need.
  services:
    - name: pg
      image: "{pg}"   # double quotes stay
    - {{name: cache, image: {cache}}}

# The image.
image:
  # builder, mirrored
  base: {base}
  runner: '{runner}'    # single quotes stay


cloudbuild:
  kaniko_image: {kaniko}
  docker_image: {docker}   # logs in and retags releases
  substitutions:
    _BASE_IMAGE: {base}   # same image as the builder
    _RUNNER_IMAGE: us.gcr.io/$PROJECT_ID/alpine:3.10.2   # expanded by Cloud Build: left alone
# trailing comment
"""


@pytest.fixture
def commented(registry_url: str, repo: str) -> tuple[dict[str, str], dict[str, str]]:
    """The COMMENTED values as tags, and pinned to the digests the registry reported on push."""
    h = host(registry_url)
    digests = {
        "base": push_image(registry_url, f"{repo}/erlang", "26.2.5-alpine", "base"),
        "runner": push_image(registry_url, f"{repo}/alpine", "3.24", "runner"),
        "pg": push_image(registry_url, f"{repo}/postgres", "16", "pg"),
        "cache": push_image(registry_url, f"{repo}/redis", "7", "redis"),
        "docker": push_image(registry_url, f"{repo}/docker", "24.0.9", "docker"),
    }
    platforms = [
        push_image(registry_url, f"{repo}/executor", f"v1-{a}", a) for a in ("amd64", "arm64")
    ]
    digests["kaniko"] = push_index(registry_url, f"{repo}/executor", "v1.24.0", platforms)
    tags = {
        "base": "erlang:26.2.5-alpine",
        "runner": "alpine:3.24",
        "pg": "postgres:16",
        "cache": "redis:7",
        "kaniko": "executor:v1.24.0",
        "docker": "docker:24.0.9",
    }
    written = {k: f"{h}/{repo}/{v}" for k, v in tags.items()}
    return written, {k: f"{v}@{digests[k]}" for k, v in written.items()}


def test_pin_writes_registry_digests_and_keeps_every_other_byte(
    tmp_path: Path,
    reg: Registry,
    commented: tuple[dict[str, str], dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    written, pinned = commented
    config = write(tmp_path, COMMENTED.format(**written))
    assert run_pin(config, reg) == 0
    assert config.read_bytes() == COMMENTED.format(**pinned).encode()
    out = capsys.readouterr().out
    assert f"image.base: {written['base']} -> {pinned['base']}" in out
    assert "_RUNNER_IMAGE" not in out  # a $ value is Cloud Build's, not a reference to pin
    project = load_project(config)
    assert project.image.base == pinned["base"]
    assert project.cloudbuild.kaniko_image == pinned["kaniko"]  # an OCI index's own digest


def test_a_linked_descriptor_is_edited_where_it_lives(
    tmp_path: Path, reg: Registry, commented: tuple[dict[str, str], dict[str, str]]
) -> None:
    written, pinned = commented
    real = write(tmp_path, COMMENTED.format(**written))
    link = tmp_path / "linked"
    link.mkdir()
    (link / "cigen.yaml").symlink_to(real)
    assert run_pin(link / "cigen.yaml", reg) == 0
    assert (link / "cigen.yaml").is_symlink()
    assert real.read_bytes() == COMMENTED.format(**pinned).encode()


def test_crlf_line_ends_survive(
    tmp_path: Path, reg: Registry, commented: tuple[dict[str, str], dict[str, str]]
) -> None:
    written, pinned = commented
    crlf = COMMENTED.replace("\n", "\r\n")
    config = write(tmp_path, crlf.format(**written))
    assert run_pin(config, reg) == 0
    assert config.read_bytes() == crlf.format(**pinned).encode()


def test_second_pin_changes_nothing(
    tmp_path: Path,
    reg: Registry,
    commented: tuple[dict[str, str], dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, pinned = commented
    config = write(tmp_path, COMMENTED.format(**pinned))
    before = config.stat().st_mtime_ns
    assert run_pin(config, reg) == 0
    assert config.stat().st_mtime_ns == before
    assert f"image.base: {pinned['base']}: current" in capsys.readouterr().out


def test_check_exits_1_when_a_pinned_tag_moved_and_writes_nothing(
    tmp_path: Path, reg: Registry, registry_url: str, repo: str, capsys: pytest.CaptureFixture[str]
) -> None:
    h = host(registry_url)
    old = push_image(registry_url, f"{repo}/erlang", "26-alpine", "old")
    runner = push_image(registry_url, f"{repo}/alpine", "3.24", "r")
    text = simple(f"{h}/{repo}/erlang:26-alpine@{old}", f"{h}/{repo}/alpine:3.24@{runner}")
    config = write(tmp_path, text)
    assert run_pin(config, reg, check=True) == 0
    new = push_image(registry_url, f"{repo}/erlang", "26-alpine", "new")  # the tag moves
    capsys.readouterr()
    assert run_pin(config, reg, check=True) == 1
    err = capsys.readouterr().err
    assert (
        f"cigen.yaml:8:9: image.base: {h}/{repo}/erlang:26-alpine@{old}: "
        f"tag 26-alpine now points to {new}" in err
    )
    assert "image.runner" not in err
    assert config.read_bytes() == text.encode()
    assert run_pin(config, reg) == 0  # without --check: re-pinned
    assert config.read_text() == text.replace(old, new)


def test_check_lists_unpinned_references_without_asking_the_registry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, simple("127.0.0.1:9/x/erlang:26-alpine", "127.0.0.1:9/x/alpine:3.24"))
    refused = Registry(quick_client())  # port 9: any request would fail the test
    assert run_pin(config, refused, check=True) == 0
    assert "image.base: 127.0.0.1:9/x/erlang:26-alpine: not pinned" in capsys.readouterr().out


def test_a_library_has_no_image_reference_to_pin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # image: false: no builder, runner or Kaniko image; the defaults would be on Docker Hub and
    # GitHub, which tests cannot reach, so a lookup of one would fail the pin
    text = 'version: 1\nname: textkit\nerlang:\n  otp: "26.2.5"\nimage: false\n'
    config = write(tmp_path, text)
    assert run_pin(config, Registry(quick_client())) == 0
    assert config.read_text() == text


def test_defaults_are_written_out_pinned(tmp_path: Path, registry_url: str) -> None:
    # Docker Hub and GCR served by the loopback registry: the references are normalized
    # (erlang -> library/erlang) exactly as they would be for the real hosts.
    digests = {
        "base": push_image(registry_url, "library/erlang", "26.2.5-alpine", "hub-erlang"),
        "runner": push_image(registry_url, "library/alpine", "3.24", "hub-alpine"),
        "kaniko": push_image(registry_url, "osscontainertools/kaniko", "v1.28.3", "kaniko"),
        "docker": push_image(registry_url, "cloud-builders/docker", "24.0.9", "docker"),
    }
    seen_hosts: list[str] = []

    def endpoint(api_host: str) -> str:
        seen_hosts.append(api_host)
        return registry_url

    text = (
        'version: 1\nname: app\nregistry: ghcr.io/acme  # where\nerlang:\n  otp: "26.2.5"\n'
        "image:\n  # the OS\n  os: alpine\n"
    )
    config = write(tmp_path, text)
    assert run_pin(config, Registry(quick_client(), endpoint=endpoint)) == 0
    assert sorted(set(seen_hosts)) == ["gcr.io", "ghcr.io", "registry-1.docker.io"]
    assert config.read_text() == (
        'version: 1\nname: app\nregistry: ghcr.io/acme  # where\nerlang:\n  otp: "26.2.5"\nimage:\n'
        f"  base: erlang:26.2.5-alpine@{digests['base']}"
        "  # pinned default: no longer follows erlang.otp or image.os\n"
        f"  runner: alpine:3.24@{digests['runner']}  # pinned default: no longer follows image.os\n"
        "  # the OS\n  os: alpine\n"
        "cloudbuild:\n"
        f"  kaniko_image: ghcr.io/osscontainertools/kaniko:v1.28.3@{digests['kaniko']}"
        "  # pinned default\n"
        # the docker image logs in to ghcr.io and retags releases: pinned as well
        f"  docker_image: gcr.io/cloud-builders/docker:24.0.9@{digests['docker']}"
        "  # pinned default\n"
    )
    project = load_project(config)
    assert project.image.base == f"erlang:26.2.5-alpine@{digests['base']}"


def test_rendered_outputs_use_the_pinned_references(
    project_copy: object, registry_url: str
) -> None:
    folder = project_copy("minimal")  # type: ignore[operator]
    config = folder / "cigen.yaml"
    for name, tag in (
        ("library/erlang", "26.2.5-alpine"),
        ("library/alpine", "3.24"),
        ("osscontainertools/kaniko", "v1.28.3"),
        ("cloud-builders/docker", "24.0.9"),
    ):
        push_image(registry_url, name, tag, name)
    assert run_pin(config, Registry(quick_client(), endpoint=lambda _: registry_url)) == 0
    project = load_project(config)
    assert commands.render(config, []) == 0
    rendered = "".join(
        p.read_text() for p in folder.rglob("*") if p.is_file() and p.name != "cigen.yaml"
    )
    for ref in (project.image.base, project.image.runner or "", project.cloudbuild.kaniko_image,
                project.cloudbuild.docker_image):
        assert "@sha256:" in ref
        assert ref in rendered, f"{ref} is not in any output"


def test_digest_only_references_are_left_alone(
    tmp_path: Path, reg: Registry, registry_url: str, repo: str
) -> None:
    runner = push_image(registry_url, f"{repo}/alpine", "3.24", "r")
    h = host(registry_url)
    text = simple(f"{h}/{repo}/erlang@sha256:{'a' * 64}", f"{h}/{repo}/alpine:3.24")
    config = write(tmp_path, text)
    assert run_pin(config, reg) == 0
    assert config.read_text() == text.replace("alpine:3.24\n", f"alpine:3.24@{runner}\n")


def test_a_value_behind_an_anchor_is_refused_untouched(
    tmp_path: Path, reg: Registry, registry_url: str, repo: str
) -> None:
    push_image(registry_url, f"{repo}/erlang", "26-alpine", "b")
    push_image(registry_url, f"{repo}/alpine", "3.24", "r")
    h = host(registry_url)
    text = simple(f"&b {h}/{repo}/erlang:26-alpine", f"{h}/{repo}/alpine:3.24")
    config = write(tmp_path, text)
    with pytest.raises(
        CigenError, match=r"cigen.yaml:8:9: image.base: cannot rewrite this value in place"
    ):
        run_pin(config, reg)
    assert config.read_bytes() == text.encode()


def test_a_name_docker_would_refuse_is_reported_at_its_line(tmp_path: Path, reg: Registry) -> None:
    text = simple("a_b.c/app:1", "alpine:3.24")  # the schema takes it; Docker reads a_b.c as a host
    config = write(tmp_path, text)
    with pytest.raises(
        CigenError, match=r"cigen.yaml:8:9: image.base: 'a_b.c/app:1': not an image name"
    ):
        run_pin(config, reg)
    assert config.read_bytes() == text.encode()


# --- faults: each leaves cigen.yaml byte-identical -------------------------------------------


def _faulty(tmp_path: Path, registry_url: str, repo: str, base_host: str) -> tuple[Path, bytes]:
    """base on the faulty host; runner on the working registry (so no partial update is visible)."""
    push_image(registry_url, f"{repo}/alpine", "3.24", "r")
    text = simple(f"{base_host}/{repo}/erlang:26-alpine",
                  f"{host(registry_url)}/{repo}/alpine:3.24")
    config = write(tmp_path, text)
    return config, text.encode()


def _fails(config: Path, registry: Registry, pattern: str) -> str:
    with pytest.raises(RemoteError, match=pattern) as info:
        run_pin(config, registry)
    return str(info.value)


def test_404_tag_not_found(tmp_path: Path, reg: Registry, registry_url: str, repo: str) -> None:
    config, before = _faulty(tmp_path, registry_url, repo, host(registry_url))
    message = _fails(config, reg,
                     r"image.base: .*erlang:26-alpine: 404 Not Found \(manifest unknown\)")
    assert "check the tag '26-alpine'" in message
    assert message.endswith("unchanged; nothing written")
    assert config.read_bytes() == before


def test_keep_going_writes_only_what_resolved(
    tmp_path: Path, reg: Registry, registry_url: str, repo: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config, before = _faulty(tmp_path, registry_url, repo, host(registry_url))
    assert run_pin(config, reg, keep_going=True) == 1
    runner = push_image(registry_url, f"{repo}/alpine", "3.24", "r")  # same content: same digest
    assert config.read_bytes() == before.replace(
        b"alpine:3.24\n", f"alpine:3.24@{runner}\n".encode()
    )
    assert "404 Not Found" in capsys.readouterr().err


def test_401_without_a_challenge(
    tmp_path: Path, reg: Registry, registry_url: str, repo: str
) -> None:
    with FakeServer(
        lambda seen: Answer(401, {}, b'{"errors":[{"message":"authentication required"}]}')
    ) as fake:
        config, before = _faulty(tmp_path, registry_url, repo, fake.host)
        _fails(
            config,
            reg,
            r"401 Unauthorized: credentials are missing or were rejected "
            r"\(authentication required\); the repository may not exist, or it needs "
            rf"credentials: run `docker login {fake.host}`",
        )
    assert config.read_bytes() == before


def test_500_then_success_is_retried(tmp_path: Path, registry_url: str, repo: str) -> None:
    digest = push_image(registry_url, f"{repo}/erlang", "26-alpine", "b")
    calls = itertools.count()

    def flaky(seen: Seen) -> Answer:
        return Answer(500, {}, b"oops") if next(calls) == 0 else proxy_to(registry_url, seen)

    sleeps: list[float] = []
    with FakeServer(flaky) as fake:
        config, _ = _faulty(tmp_path, registry_url, repo, fake.host)
        assert run_pin(config, Registry(quick_client(sleeps))) == 0
    assert f"{fake.host}/{repo}/erlang:26-alpine@{digest}\n" in config.read_text()
    assert len(fake.seen) == 2
    assert sleeps == [0.25]


def test_429_waits_as_told_then_gives_up_clearly(
    tmp_path: Path, registry_url: str, repo: str
) -> None:
    sleeps: list[float] = []
    with FakeServer(lambda seen: Answer(429, {"Retry-After": "7"})) as fake:
        config, before = _faulty(tmp_path, registry_url, repo, fake.host)
        _fails(
            config,
            Registry(quick_client(sleeps)),
            r"429 Too Many Requests: rate limited, still after retries",
        )
    assert sleeps == [7.0, 7.0]
    assert len(fake.seen) == 3
    assert config.read_bytes() == before


def test_500_every_time(tmp_path: Path, registry_url: str, repo: str) -> None:
    with FakeServer(lambda seen: Answer(503, {}, b"")) as fake:
        config, before = _faulty(tmp_path, registry_url, repo, fake.host)
        _fails(config, Registry(quick_client()), r"503 Service Unavailable, still after retries")
    assert config.read_bytes() == before


def test_timeout(tmp_path: Path, registry_url: str, repo: str) -> None:
    with FakeServer(lambda seen: Answer(200, {}, b"{}", delay=2.0)) as fake:
        config, before = _faulty(tmp_path, registry_url, repo, fake.host)
        slow = Registry(Client(timeout=0.3, retries=0))
        _fails(config, slow,
               rf"erlang:26-alpine: no answer from {fake.host} within 0.3 s \(timeout\)")
    assert config.read_bytes() == before


def test_connection_refused(tmp_path: Path, reg: Registry, registry_url: str, repo: str) -> None:
    config, before = _faulty(tmp_path, registry_url, repo, f"127.0.0.1:{free_port()}")
    _fails(
        config,
        reg,
        r"erlang:26-alpine: connection refused by 127.0.0.1:\d+; "
        r"is the server running on that port\?",
    )
    assert config.read_bytes() == before


def test_dns_failure(
    tmp_path: Path, reg: Registry, registry_url: str, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def no_dns(name: str, *args: object, **kwargs: object) -> object:
        if name == "registry.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    config, before = _faulty(tmp_path, registry_url, repo, "registry.invalid")
    _fails(config, reg, r"erlang:26-alpine: cannot resolve registry.invalid \(DNS\)")
    assert config.read_bytes() == before


def test_tls_failure(tmp_path: Path, registry_url: str, repo: str) -> None:
    with FakeServer(lambda seen: Answer(200)) as fake:  # plain HTTP where https is expected
        config, before = _faulty(tmp_path, registry_url, repo, fake.host)
        tls = Registry(
            quick_client(), endpoint=lambda h: f"https://{h}" if h == fake.host else f"http://{h}"
        )
        _fails(config, tls,
               rf"erlang:26-alpine: TLS with {fake.host} failed \(certificate or protocol\)")
    assert config.read_bytes() == before


def test_malformed_json(tmp_path: Path, registry_url: str, repo: str) -> None:
    body = b'{"schemaVersion": 2, "mediaType": '
    answer = Answer(
        200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": sha256(body)}, body
    )
    with FakeServer(lambda seen: answer) as fake:
        config, before = _faulty(tmp_path, registry_url, repo, fake.host)
        _fails(
            config,
            Registry(quick_client()),
            rf"erlang:26-alpine: malformed JSON in the answer from {fake.host}",
        )
    assert config.read_bytes() == before


def test_digest_not_matching_the_body(tmp_path: Path, registry_url: str, repo: str) -> None:
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}).encode()
    stated = "sha256:" + "0" * 64
    answer = Answer(200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": stated}, body)
    with FakeServer(lambda seen: answer) as fake:
        config, before = _faulty(tmp_path, registry_url, repo, fake.host)
        _fails(
            config,
            Registry(quick_client()),
            rf"the manifest does not match the digest the registry states \({stated}\); "
            r"refusing to pin it",
        )
    assert config.read_bytes() == before


def test_without_a_stated_digest_the_body_is_hashed(
    tmp_path: Path, registry_url: str, repo: str
) -> None:
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}).encode()
    with FakeServer(lambda seen: Answer(200, {"Content-Type": OCI_MANIFEST}, body)) as fake:
        config, _ = _faulty(tmp_path, registry_url, repo, fake.host)
        assert run_pin(config, Registry(quick_client())) == 0
    assert f"erlang:26-alpine@{sha256(body)}\n" in config.read_text()


def test_a_schema1_manifest_is_not_pinned(tmp_path: Path, registry_url: str, repo: str) -> None:
    body = json.dumps({"schemaVersion": 1, "name": "x"}).encode()
    media = "application/vnd.docker.distribution.manifest.v1+prettyjws"
    with FakeServer(lambda seen: Answer(200, {"Content-Type": media}, body)) as fake:
        config, before = _faulty(tmp_path, registry_url, repo, fake.host)
        _fails(config, Registry(quick_client()), r"not an image manifest \(schemaVersion 2\)")
    assert config.read_bytes() == before
    assert "application/vnd.oci.image.index.v1+json" in fake.seen[0].headers["accept"]


# --- the bearer-token flow --------------------------------------------------------------------

SERVICE = "cigen-test-registry"


class TokenService:
    """Loopback token service: checks service, scope and Basic credentials; a token per scope."""

    def __init__(
        self, users: dict[str, str], anonymous: bool = False, bad_json: bool = False
    ) -> None:
        self.users, self.anonymous, self.bad_json = users, anonymous, bad_json
        self.server = FakeServer(self.answer)

    def answer(self, seen: Seen) -> Answer:
        from urllib.parse import parse_qs, urlsplit

        query = {k: v[0] for k, v in parse_qs(urlsplit(seen.path).query).items()}
        if query.get("service") != SERVICE or not query.get("scope", "").endswith(":pull"):
            return Answer(400, {}, b'{"details": "bad service or scope"}')
        auth = seen.headers.get("authorization", "")
        user, _, password = (
            base64.b64decode(auth[6:]).decode().partition(":")
            if auth.startswith("Basic ")
            else ("", "", "")
        )
        if not (self.anonymous and not auth) and self.users.get(user) != password:
            return Answer(401, {}, b'{"details": "incorrect username or password"}')
        if self.bad_json:
            return Answer(200, {"Content-Type": "application/json"}, b'{"token": ')
        return Answer(
            200,
            {"Content-Type": "application/json"},
            json.dumps({"token": f"T:{query['scope']}"}).encode(),
        )


class AuthRegistry:
    """A registry front that demands a bearer token per repository, then relays to the real one."""

    def __init__(
        self, backend: str, realm: str, with_scope: bool = True, redirect_to: str | None = None
    ) -> None:
        self.backend, self.realm, self.with_scope, self.redirect_to = (
            backend,
            realm,
            with_scope,
            redirect_to,
        )
        self.server = FakeServer(self.answer)

    def answer(self, seen: Seen) -> Answer:
        path = seen.path.removeprefix("/moved")
        repo = path.split("/v2/", 1)[1].rsplit("/manifests/", 1)[0]
        scope = f"repository:{repo}:pull"
        if seen.headers.get("authorization") != f"Bearer T:{scope}":
            challenge = f'Bearer realm="{self.realm}",service="{SERVICE}"' + (
                f',scope="{scope}"' if self.with_scope else ""
            )
            return Answer(
                401, {"WWW-Authenticate": challenge}, b'{"errors":[{"code":"UNAUTHORIZED"}]}'
            )
        if self.redirect_to is not None and not seen.path.startswith("/moved"):
            return Answer(307, {"Location": self.redirect_to + seen.path})
        return proxy_to(self.backend, Seen(seen.method, path, seen.headers))


def _docker_config(folder: Path, registry_host: str, user: str, password: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (folder / "config.json").write_text(
        json.dumps({"auths": {f"http://{registry_host}": {"auth": auth}}})
    )
    return folder


def _pin_with_auth(config: Path, docker: Path | None) -> int:
    env = {"DOCKER_CONFIG": str(docker or config.parent / "no-docker")}
    return pin(config, client=quick_client(), env=env)


@pytest.mark.parametrize("with_scope", [True, False])
def test_bearer_token_with_credentials_from_the_docker_config(
    tmp_path: Path, registry_url: str, repo: str, with_scope: bool
) -> None:
    digest = push_image(registry_url, f"{repo}/erlang", "26-alpine", "b")
    tokens = TokenService({"alice": "s3cret"})
    with tokens.server as auth:
        front = AuthRegistry(registry_url, f"{auth.base}/token", with_scope)
        with front.server as fake:
            config, _ = _faulty(tmp_path, registry_url, repo, fake.host)
            docker = _docker_config(tmp_path / "docker", fake.host, "alice", "s3cret")
            assert _pin_with_auth(config, docker) == 0
    assert f"{fake.host}/{repo}/erlang:26-alpine@{digest}\n" in config.read_text()
    assert (
        auth.seen[0].headers["authorization"]
        == "Basic " + base64.b64encode(b"alice:s3cret").decode()
    )
    assert f"scope=repository%3A{repo.replace('/', '%2F')}%2Ferlang%3Apull" in auth.seen[0].path
    assert [s.headers.get("authorization", "")[:7] for s in fake.seen] == ["", "Bearer "]


def test_bearer_token_anonymous(tmp_path: Path, registry_url: str, repo: str) -> None:
    digest = push_image(registry_url, f"{repo}/erlang", "26-alpine", "b")
    with TokenService({}, anonymous=True).server as auth:
        with AuthRegistry(registry_url, f"{auth.base}/token").server as fake:
            config, _ = _faulty(tmp_path, registry_url, repo, fake.host)
            assert _pin_with_auth(config, None) == 0
    assert "authorization" not in auth.seen[0].headers
    assert f"erlang:26-alpine@{digest}\n" in config.read_text()


def test_bad_credentials_are_rejected_clearly(tmp_path: Path, registry_url: str, repo: str) -> None:
    with TokenService({"alice": "s3cret"}).server as auth:
        with AuthRegistry(registry_url, f"{auth.base}/token").server as fake:
            config, before = _faulty(tmp_path, registry_url, repo, fake.host)
            docker = _docker_config(tmp_path / "docker", fake.host, "alice", "wrong")
            with pytest.raises(
                RemoteError,
                match=rf"token service {auth.host}: 401 Unauthorized.*"
                rf"the credentials for {fake.host} in the Docker config were rejected",
            ):
                _pin_with_auth(config, docker)
    assert config.read_bytes() == before


def test_no_credentials_where_the_token_service_wants_them(
    tmp_path: Path, registry_url: str, repo: str
) -> None:
    with TokenService({"alice": "s3cret"}).server as auth:
        with AuthRegistry(registry_url, f"{auth.base}/token").server as fake:
            config, before = _faulty(tmp_path, registry_url, repo, fake.host)
            with pytest.raises(RemoteError, match=rf"401 Unauthorized.*docker login {fake.host}"):
                _pin_with_auth(config, None)
    assert config.read_bytes() == before


def test_malformed_token_json(tmp_path: Path, registry_url: str, repo: str) -> None:
    with TokenService({}, anonymous=True, bad_json=True).server as auth:
        with AuthRegistry(registry_url, f"{auth.base}/token").server as fake:
            config, before = _faulty(tmp_path, registry_url, repo, fake.host)
            with pytest.raises(RemoteError, match=rf"token service {auth.host}: malformed JSON"):
                _pin_with_auth(config, None)
    assert config.read_bytes() == before


def test_a_plain_http_realm_beyond_loopback_is_refused(
    tmp_path: Path, registry_url: str, repo: str
) -> None:
    with AuthRegistry(registry_url, "http://auth.example.test/token").server as fake:
        config, before = _faulty(tmp_path, registry_url, repo, fake.host)
        docker = _docker_config(tmp_path / "docker", fake.host, "alice", "s3cret")
        with pytest.raises(
            RemoteError,
            match=r"token service auth.example.test: refusing http URL "
            r"http://auth.example.test/token; only https leaves this machine",
        ):
            _pin_with_auth(config, docker)
    assert config.read_bytes() == before


def test_a_redirect_to_another_host_drops_the_token(
    tmp_path: Path, registry_url: str, repo: str
) -> None:
    digest = push_image(registry_url, f"{repo}/erlang", "26-alpine", "b")
    with FakeServer(lambda seen: proxy_to(registry_url, seen)) as elsewhere:
        with TokenService({}, anonymous=True).server as auth:
            with AuthRegistry(
                registry_url, f"{auth.base}/token", redirect_to=elsewhere.base
            ).server as fake:
                config, _ = _faulty(tmp_path, registry_url, repo, fake.host)
                assert _pin_with_auth(config, None) == 0
    assert f"erlang:26-alpine@{digest}\n" in config.read_text()
    assert [s.headers.get("authorization") for s in elsewhere.seen] == [None]


def test_a_redirect_on_the_same_host_keeps_the_token(
    tmp_path: Path, registry_url: str, repo: str
) -> None:
    digest = push_image(registry_url, f"{repo}/erlang", "26-alpine", "b")
    with TokenService({}, anonymous=True).server as auth:
        front = AuthRegistry(registry_url, f"{auth.base}/token")
        front.redirect_to = front.server.base + "/moved"
        with front.server as fake:
            config, _ = _faulty(tmp_path, registry_url, repo, fake.host)
            assert _pin_with_auth(config, None) == 0  # /moved answers only with the token
    assert f"erlang:26-alpine@{digest}\n" in config.read_text()
    assert fake.seen[-1].path.startswith("/moved/v2/")


def test_docker_config_reading(tmp_path: Path) -> None:
    hub = base64.b64encode(b"bob:pa:ss").decode()
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "auths": {
                    "https://index.docker.io/v1/": {"auth": hub},
                    "ghcr.io": {"auth": base64.b64encode(b"gh:tok").decode()},
                    "us.gcr.io": {},  # a credential helper's entry: nothing to read
                },
                "credsStore": "desktop",
            }
        )
    )
    assert docker_auths({"DOCKER_CONFIG": str(tmp_path)}) == {
        "docker.io": ("bob", "pa:ss"),
        "ghcr.io": ("gh", "tok"),
    }
    assert docker_auths({"DOCKER_CONFIG": str(tmp_path / "none")}) == {}
    (tmp_path / "config.json").write_text('{"auths": {"ghcr.io": {"auth": "not base64!"}}}')
    with pytest.raises(
        CigenError, match=r"auths\['ghcr.io'\].auth is not the base64 of user:password"
    ):
        docker_auths({"DOCKER_CONFIG": str(tmp_path)})


# --- through the command line, once cli.py has the command ------------------------------------


def test_cli_pin_check(
    run_line: object, tmp_path: Path, registry_url: str, repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cigen.cli import app

    if "pin" not in {
        c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands
    }:
        pytest.skip("cli.py has no pin command yet")
    h = host(registry_url)
    old = push_image(registry_url, f"{repo}/erlang", "26-alpine", "old")
    runner = push_image(registry_url, f"{repo}/alpine", "3.24", "r")
    config = write(
        tmp_path, simple(f"{h}/{repo}/erlang:26-alpine@{old}", f"{h}/{repo}/alpine:3.24@{runner}")
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker"))
    push_image(registry_url, f"{repo}/erlang", "26-alpine", "new")
    result = run_line(["cigen", "pin", "--check", "-c", str(config)])  # type: ignore[operator]
    assert result.code == 1, result
    assert "tag 26-alpine now points to" in result.stderr
